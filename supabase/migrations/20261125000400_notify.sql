-- Notification planning and delivery state: what the planner (internal/notify) and the
-- delivery workers (internal/deliver) keep beside the foundation's notification tables.
-- Everything here is private to the sidecar (schema vendorhub, RLS on, no API grants) except
-- the two additions to foundation tables, which keep the foundation's policies.

-- Booking conflicts (route.CategoryConflict, from conflict.detected) are a category of their own.
alter domain public.notification_category drop constraint notification_category_check;
alter domain public.notification_category add constraint notification_category_check check (value in (
  'new_message', 'status_change', 'booking', 'availability', 'task',
  'integration_failure', 'day_of_change', 'conflict'));
comment on domain public.notification_category is
  'new_message | status_change | booking | availability | task | integration_failure | conflict | day_of_change (critical: never muted, delivered during quiet hours)';

-- Twilio 21211/21614 (not a valid mobile number) marks the number unusable until it changes,
-- like sms_opted_out_at does for STOP.
alter table public.notification_settings add column phone_invalid_at timestamptz;
comment on column public.notification_settings.phone_invalid_at is 'Set by the delivery workers when Twilio rejects the number (21211, 21614); cleared when phone changes.';

create function vendorhub.notification_settings_phone_invalid_reset() returns trigger
  language plpgsql set search_path = ''
as $$
begin
  if new.phone is distinct from old.phone then
    new.phone_invalid_at := null;
  end if;
  return new;
end
$$;
create trigger notification_settings_phone_invalid_reset before update on public.notification_settings
  for each row execute function vendorhub.notification_settings_phone_invalid_reset();

-- One row per attempt: the worker of attempt N of a notification's channel upserts its row, so a
-- planner's 'deferred' row becomes that attempt's result instead of a second row.
create unique index deliveries_attempt_key on public.deliveries (notification_id, channel, attempt);

-- Anti-spam state per recipient and thread (a conversation): when the thread last pushed, and
-- the messages held back for its digest. last_lsn/last_index is the newest event applied, so a
-- replay after a crash is not counted twice.
create table vendorhub.notify_threads (
  user_id uuid not null references auth.users (id) on delete cascade,
  thread text not null check (char_length(thread) between 1 and 200), -- e.g. conversation:<uuid>
  window_started_at timestamptz not null,  -- the thread's last push (leading message or digest)
  last_lsn pg_lsn not null,
  last_index integer not null,
  pending_count integer not null default 0 check (pending_count >= 0),
  pending_first_at timestamptz,
  pending_last_at timestamptz,
  pending_senders uuid[] not null default '{}',
  pending_wedding_id uuid,
  flush_at timestamptz,                    -- when the digest may go out (inactivity, max wait)
  updated_at timestamptz not null default now(),
  primary key (user_id, thread)
);
comment on table vendorhub.notify_threads is 'Notification planner: last push and pending digest per (user, conversation).';
alter table vendorhub.notify_threads enable row level security;
revoke all on vendorhub.notify_threads from public, anon, authenticated;
grant select on vendorhub.notify_threads to service_role;

-- Dev mailbox: with no provider credentials configured every outgoing push, email and SMS lands
-- here instead of being sent (the dashboard shows it). Unique per idempotency key, like Resend.
create table vendorhub.dev_mailbox (
  id uuid primary key default gen_random_uuid(),
  channel text not null check (channel in ('push', 'email', 'sms')),
  recipient text not null check (char_length(recipient) between 1 and 20000), -- tokens (comma-separated), address or number
  title text not null default '',
  body text not null default '',
  data jsonb not null default '{}' check (jsonb_typeof(data) = 'object'),
  idempotency_key text not null check (char_length(idempotency_key) between 1 and 300),
  created_at timestamptz not null default now(),
  unique (channel, idempotency_key)
);
create index dev_mailbox_created_at_idx on vendorhub.dev_mailbox (created_at desc); -- dashboard: newest first
comment on table vendorhub.dev_mailbox is 'Dev mode: outgoing push/email/SMS captured instead of sent.';
alter table vendorhub.dev_mailbox enable row level security;
revoke all on vendorhub.dev_mailbox from public, anon, authenticated;
grant select on vendorhub.dev_mailbox to service_role;

-- Status order for provider callbacks: a late 'delivered' never overwrites 'opened'.
create function vendorhub.delivery_status_rank(status text) returns integer
  language sql immutable parallel safe set search_path = ''
as $$
  select case status
    when 'deferred' then 0 when 'queued' then 1 when 'sent' then 2
    when 'delivered' then 3 when 'opened' then 4
    when 'failed' then 5 when 'suppressed' then 5 else -1 end
$$;
revoke execute on function vendorhub.delivery_status_rank(text) from public;
