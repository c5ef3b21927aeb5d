-- Calendar and CRM sync state: what the sidecar's connectors need besides the
-- foundation's availability_blocks, bookings and integration_connections.
--
--   * availability_blocks and bookings gain the connection that wrote them, the zone an entry was
--     given in (display only: times stay UTC) and a tentative flag; bookings gain the CRM
--     fields a Zapier trigger carries (stage, contract signed, payments).
--   * vendorhub.calendar_sync (private): per connection, the provider cursor (Google sync token,
--     Graph delta link, feed ETag/Last-Modified) and the push channel (Google watch channel,
--     Graph subscription) with its expiry and OAuth token expiry. Cursors are not secrets, but no
--     browser needs them; OAuth tokens themselves stay sealed in vendorhub.integration_credentials.
--   * public.sync_runs: one row per sync or processing run (created, updated, skipped, failed,
--     deleted), readable by the vendor's members.
--   * vendorhub.crm_records (private): the dedupe keys of CRM trigger payloads already applied.

-- ---------------------------------------------------------------------------------------------
-- Blocks and bookings
-- ---------------------------------------------------------------------------------------------

alter table public.availability_blocks
  add column connection_id uuid references public.integration_connections (id) on delete cascade,
  add column tz text check (char_length(tz) between 1 and 100),
  add column tentative boolean not null default false;
create index availability_blocks_connection_id_idx on public.availability_blocks (connection_id) where connection_id is not null;
comment on column public.availability_blocks.tz is 'Zone the source gave the entry in, for display; starts_at/ends_at are instants.';
comment on column public.availability_blocks.tentative is 'Not confirmed (unaccepted invite, tentative): still busy, flagged.';

alter table public.bookings
  add column connection_id uuid references public.integration_connections (id) on delete set null,
  add column crm_status text check (char_length(crm_status) <= 100),
  add column contract_signed_at timestamptz,
  add column amount_paid numeric(12, 2) not null default 0 check (amount_paid >= 0),
  add column currency text check (currency ~ '^[A-Z]{3}$'),
  add column last_payment_at timestamptz;
comment on column public.bookings.crm_status is 'The stage or status name in the vendor''s CRM (HoneyBook stage, Dubsado status).';

-- booking.updated also fires when the CRM fields change (contract signed, payment received).
drop trigger emit_booking_updated_update on public.bookings;
create trigger emit_booking_updated_update after update on public.bookings
  for each row
  when ((new.status, new.starts_at, new.ends_at, new.wedding_id, new.title, new.vendor_id,
         new.crm_status, new.contract_signed_at, new.amount_paid, new.last_payment_at)
        is distinct from (old.status, old.starts_at, old.ends_at, old.wedding_id, old.title, old.vendor_id,
         old.crm_status, old.contract_signed_at, old.amount_paid, old.last_payment_at))
  execute function vendorhub.emit_booking_updated();

-- ---------------------------------------------------------------------------------------------
-- Provider cursors, channels and subscriptions (private to the sidecar)
-- ---------------------------------------------------------------------------------------------

create table vendorhub.calendar_sync (
  connection_id uuid primary key references public.integration_connections (id) on delete cascade,
  sync_token text check (char_length(sync_token) <= 4096),       -- Google nextSyncToken
  delta_link text check (char_length(delta_link) <= 8192),       -- Graph @odata.deltaLink
  etag text check (char_length(etag) <= 1024),                   -- feed ETag
  last_modified text check (char_length(last_modified) <= 100),  -- feed Last-Modified
  channel_id text check (char_length(channel_id) <= 64),         -- Google watch channel id, or Graph subscription id
  channel_resource_id text check (char_length(channel_resource_id) <= 1024),
  channel_expires_at timestamptz,
  token_expires_at timestamptz,                                  -- OAuth access token expiry (the token is sealed)
  last_refresh_at timestamptz,
  refresh_failures integer not null default 0 check (refresh_failures >= 0),
  full_syncs integer not null default 0 check (full_syncs >= 0),
  last_full_sync_at timestamptz,
  updated_at timestamptz not null default now()
);
create index calendar_sync_channel_expires_idx on vendorhub.calendar_sync (channel_expires_at) where channel_expires_at is not null;
create index calendar_sync_token_expires_idx on vendorhub.calendar_sync (token_expires_at) where token_expires_at is not null;
create unique index calendar_sync_channel_id_idx on vendorhub.calendar_sync (channel_id) where channel_id is not null;
comment on table vendorhub.calendar_sync is 'Per-connection sync cursor, push channel and token expiry; sidecar only.';
alter table vendorhub.calendar_sync enable row level security;

create table vendorhub.crm_records (
  connection_id uuid not null references public.integration_connections (id) on delete cascade,
  dedupe_key text not null check (char_length(dedupe_key) between 1 and 600),
  trigger text not null check (char_length(trigger) between 1 and 100),
  record_id text not null check (char_length(record_id) between 1 and 500),
  inbox_id uuid,
  applied_at timestamptz not null default now(),
  primary key (connection_id, dedupe_key)
);
comment on table vendorhub.crm_records is 'CRM trigger payloads already applied (trigger + record + content hash): a repeat is skipped.';
alter table vendorhub.crm_records enable row level security;

-- ---------------------------------------------------------------------------------------------
-- Sync runs (visible to the vendor's members)
-- ---------------------------------------------------------------------------------------------

create table public.sync_runs (
  id bigint generated always as identity primary key,
  connection_id uuid not null references public.integration_connections (id) on delete cascade,
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  kind text not null check (char_length(kind) between 1 and 40),
  started_at timestamptz not null,
  finished_at timestamptz not null default now(),
  status text not null check (status in ('ok', 'not_modified', 'failed', 'superseded')),
  full_sync boolean not null default false,
  created integer not null default 0 check (created >= 0),
  updated integer not null default 0 check (updated >= 0),
  skipped integer not null default 0 check (skipped >= 0),
  failed integer not null default 0 check (failed >= 0),
  deleted integer not null default 0 check (deleted >= 0),
  error text check (char_length(error) <= 2000)
);
create index sync_runs_connection_id_idx on public.sync_runs (connection_id, started_at desc);
create index sync_runs_vendor_id_idx on public.sync_runs (vendor_id, started_at desc);
comment on table public.sync_runs is 'One row per connector run: what it created, updated, skipped, failed to read and deleted.';

alter table public.sync_runs enable row level security;
create policy "sync_runs: members read" on public.sync_runs
  for select to authenticated using (vendorhub.is_vendor_member(vendor_id));
revoke insert, update, delete, truncate, references, trigger on public.sync_runs from anon, authenticated;

revoke all on vendorhub.calendar_sync, vendorhub.crm_records from public, anon, authenticated;
