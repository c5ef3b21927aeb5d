-- Stored broadcasts: the sidecar keeps each routed broadcast in realtime.messages (private,
-- extension 'broadcast') inside its hand-off transaction, so Supabase Realtime delivers it
-- (Broadcast from Database) and replays it to a client that rejoins with
-- config.broadcast.replay; the embedded gateway replays from the same rows.
-- This table records each (event key, topic) stored, so a replayed event or a deposed
-- leader's second hand-off of the same batch stores nothing twice (realtime.messages is
-- partitioned by inserted_at and cannot carry such a unique key). Pruned with the messages
-- after 72 hours, Supabase Realtime's retention.
create table vendorhub.stored_broadcasts (
  event_key text not null,
  topic text not null,
  stored_at timestamptz not null default now(),
  primary key (event_key, topic)
);
create index stored_broadcasts_stored_at on vendorhub.stored_broadcasts (stored_at);
alter table vendorhub.stored_broadcasts enable row level security; -- the sidecar only (it bypasses RLS)
revoke all on vendorhub.stored_broadcasts from public, anon, authenticated;
