-- Foundation schema: the vendor-coordination tables, their constraints and indexes.
--
-- Row-level security, policies and grants follow in 20261125000110_foundation_rls.sql; event
-- triggers in 20261125000130_events.sql. Conventions: uuid primary keys from gen_random_uuid(),
-- timestamptz everywhere, closed vocabularies as CHECK constraints or domains, composite foreign
-- keys where a row must stay inside one wedding, and one index per query shape noted beside it.

-- vendorhub: private schema (credentials, webhook inbox, audit log, internal functions).
-- anon and authenticated get no USAGE; policies and constraints may still call the few
-- functions they are granted EXECUTE on, because stored expressions reference them by oid.
create schema vendorhub;
comment on schema vendorhub is 'vendorhub internals: never exposed through the API; service_role only.';
revoke all on schema vendorhub from public;
grant usage on schema vendorhub to service_role;

-- ---------------------------------------------------------------------------------------------
-- Shared vocabularies and validators
-- ---------------------------------------------------------------------------------------------

-- IANA time zone names as Postgres knows them (pg_timezone_names), without the posix/ and right/
-- duplicate trees and the non-zone files. pg_timezone_names reads every zone file (~25–100 ms a
-- call), so the names known at migration time are kept in a table for a fast path; a name the
-- server learns later (tzdata upgrade) still passes through the slow path, so the table can only
-- make checks faster, never different.
create table vendorhub.timezone_names (name text primary key);
comment on table vendorhub.timezone_names is 'Cache of pg_timezone_names for vendorhub.is_iana_timezone(): a fast path, never authoritative.';
insert into vendorhub.timezone_names (name)
select n.name from pg_catalog.pg_timezone_names n
where n.name !~ '^(posix|right)/' and n.name not in ('localtime', 'posixrules', 'Factory');

-- SECURITY DEFINER: constraint checks run as the writing role, which cannot read vendorhub.
create function vendorhub.is_iana_timezone(tz text) returns boolean
  language sql stable parallel safe security definer set search_path = ''
as $$
  select tz is not null
     and tz !~ '^(posix|right)/'
     and tz not in ('localtime', 'posixrules', 'Factory')
     and (exists (select 1 from vendorhub.timezone_names c where c.name = tz)
          or exists (select 1 from pg_catalog.pg_timezone_names n where n.name = tz))
$$;

alter table vendorhub.timezone_names enable row level security;

-- Push registration tokens (FCM for every platform): 32–4096 characters of [A-Za-z0-9_:.-].
create function vendorhub.is_push_token(token text) returns boolean
  language sql immutable parallel safe set search_path = ''
as $$
  select token is not null
     and char_length(token) between 32 and 4096
     and token ~ '^[A-Za-z0-9_:.-]+$'
$$;

-- Domains are in public so that PostgREST and supabase-js see ordinary text columns.
create domain public.iana_timezone as text
  constraint iana_timezone_check check (vendorhub.is_iana_timezone(value));
comment on domain public.iana_timezone is 'An IANA time zone name, e.g. Europe/London (validated against pg_timezone_names).';

-- Notification categories: a closed list; day_of_change is critical (it ignores quiet hours).
create domain public.notification_category as text
  constraint notification_category_check check (value in (
    'new_message', 'status_change', 'booking', 'availability', 'task',
    'integration_failure', 'day_of_change'));
comment on domain public.notification_category is
  'new_message | status_change | booking | availability | task | integration_failure | day_of_change (critical: delivered during quiet hours)';

create domain public.notification_channel as text
  constraint notification_channel_check check (value in ('push', 'email', 'sms', 'in_app'));

-- Where a calendar entry came from: typed by hand, or synced from a calendar or CRM.
create domain public.sync_source as text
  constraint sync_source_check check (value in (
    'manual', 'google', 'outlook', 'ical', 'honeybook', 'dubsado', 'lightblue'));

-- Keeps updated_at honest on every table that has one.
create function vendorhub.touch_updated_at() returns trigger
  language plpgsql set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Vendors and weddings
-- ---------------------------------------------------------------------------------------------

create table public.vendors (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(btrim(name)) between 1 and 200),
  kind text not null check (kind in (
    'photographer', 'videographer', 'florist', 'caterer', 'venue', 'planner', 'dj', 'band',
    'baker', 'officiant', 'hair_makeup', 'rentals', 'transport', 'stationer', 'other')),
  timezone public.iana_timezone not null default 'UTC',
  email text check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  website text check (website ~ '^https?://'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.vendors is 'A wedding vendor business (photographer, florist, …).';

create table public.vendor_members (
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'staff' check (role in ('owner', 'staff')),
  created_at timestamptz not null default now(),
  primary key (vendor_id, user_id)
);
create index vendor_members_user_id_idx on public.vendor_members (user_id, vendor_id); -- "my vendors"
comment on table public.vendor_members is 'Users who work for a vendor; owners manage staff, connections and the vendor profile.';

create table public.weddings (
  id uuid primary key default gen_random_uuid(),
  title text not null check (char_length(btrim(title)) between 1 and 200),
  wedding_date date not null,
  starts_at timestamptz,
  timezone public.iana_timezone not null default 'UTC',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index weddings_wedding_date_idx on public.weddings (wedding_date); -- day-of schedules
comment on table public.weddings is 'A wedding; created by the planning SaaS backend (service_role).';

create table public.wedding_couples (
  wedding_id uuid not null references public.weddings (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (wedding_id, user_id)
);
create index wedding_couples_user_id_idx on public.wedding_couples (user_id, wedding_id); -- "my weddings"

create table public.wedding_vendors (
  id uuid primary key default gen_random_uuid(),
  wedding_id uuid not null references public.weddings (id) on delete cascade,
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  status text not null default 'inquiry'
    check (status in ('inquiry', 'proposal', 'booked', 'confirmed', 'declined', 'cancelled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (wedding_id, vendor_id) -- also serves "vendors of a wedding"
);
create index wedding_vendors_vendor_id_idx on public.wedding_vendors (vendor_id, wedding_id); -- "weddings of my vendor"
comment on table public.wedding_vendors is 'A vendor connected to a wedding, with the status of that engagement.';

-- ---------------------------------------------------------------------------------------------
-- Conversations and messages
-- ---------------------------------------------------------------------------------------------

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  wedding_id uuid not null references public.weddings (id) on delete cascade,
  parent_id uuid,
  subject text check (char_length(btrim(subject)) between 1 and 300),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, wedding_id), -- target of the composite keys below and in messages
  check (parent_id <> id),
  -- A thread lives in its parent's wedding.
  foreign key (parent_id, wedding_id) references public.conversations (id, wedding_id) on delete cascade
);
create index conversations_wedding_id_idx on public.conversations (wedding_id, created_at desc);
create index conversations_parent_id_idx on public.conversations (parent_id) where parent_id is not null;
comment on table public.conversations is 'A conversation about one wedding; parent_id makes it a thread of another.';

create table public.conversation_participants (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  last_read_at timestamptz,
  joined_at timestamptz not null default now(),
  unique (conversation_id, user_id) -- also serves "participants of a conversation"
);
create index conversation_participants_user_id_idx on public.conversation_participants (user_id, conversation_id); -- "my conversations"

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null,
  wedding_id uuid not null, -- copied from the conversation by a trigger, for wedding-wide queries
  sender_id uuid default auth.uid() references auth.users (id) on delete set null, -- null: system message
  body text not null check (char_length(body) between 1 and 10000 and body ~ '\S'),
  reply_to uuid,
  created_at timestamptz not null default now(),
  edited_at timestamptz,
  unique (id, conversation_id), -- target of reply_to
  foreign key (conversation_id, wedding_id) references public.conversations (id, wedding_id) on delete cascade,
  -- A reply points into the same conversation; deleting the original keeps the reply.
  foreign key (reply_to, conversation_id) references public.messages (id, conversation_id) on delete set null (reply_to)
);
create index messages_conversation_id_created_at_idx on public.messages (conversation_id, created_at desc, id desc); -- history pages
create index messages_wedding_id_created_at_idx on public.messages (wedding_id, created_at desc);
create index messages_sender_id_idx on public.messages (sender_id);
create index messages_reply_to_idx on public.messages (reply_to) where reply_to is not null;
comment on table public.messages is 'A message in a conversation. Published (publication vendorhub) with replica identity default.';

-- Messages take their wedding from their conversation, whatever the client sent, and record edits.
create function vendorhub.messages_before_write() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    select c.wedding_id into new.wedding_id from public.conversations c where c.id = new.conversation_id;
  elsif new.body is distinct from old.body then
    new.edited_at := now();
  end if;
  return new;
end
$$;
create trigger messages_before_write before insert or update on public.messages
  for each row execute function vendorhub.messages_before_write();

-- The creator of a conversation is its first participant.
create function vendorhub.conversations_add_creator() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  if new.created_by is not null then
    insert into public.conversation_participants (conversation_id, user_id)
    values (new.id, new.created_by)
    on conflict (conversation_id, user_id) do nothing;
  end if;
  return null;
end
$$;
create trigger conversations_add_creator after insert on public.conversations
  for each row execute function vendorhub.conversations_add_creator();

-- ---------------------------------------------------------------------------------------------
-- Coordination: day-of status updates and tasks
-- ---------------------------------------------------------------------------------------------

create table public.vendor_status_updates (
  id uuid primary key default gen_random_uuid(),
  wedding_id uuid not null,
  vendor_id uuid not null,
  status text not null check (status in (
    'on_schedule', 'en_route', 'arrived', 'setting_up', 'ready', 'delayed', 'finished', 'issue')),
  note text check (char_length(note) <= 2000),
  eta timestamptz,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  -- Only a vendor connected to the wedding posts about it.
  foreign key (wedding_id, vendor_id) references public.wedding_vendors (wedding_id, vendor_id) on delete cascade
);
create index vendor_status_updates_wedding_id_idx on public.vendor_status_updates (wedding_id, created_at desc);
create index vendor_status_updates_vendor_id_idx on public.vendor_status_updates (vendor_id, wedding_id);
comment on table public.vendor_status_updates is 'Day-of updates a vendor posts about a wedding (en route, arrived, delayed, …). Append-only for users.';

create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  wedding_id uuid not null references public.weddings (id) on delete cascade,
  vendor_id uuid, -- the vendor responsible, if any; must be connected to the wedding
  title text not null check (char_length(btrim(title)) between 1 and 300),
  notes text check (char_length(notes) <= 5000),
  status text not null default 'todo' check (status in ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
  due_at timestamptz,
  critical boolean not null default false, -- a day-of task: its changes notify even in quiet hours
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (wedding_id, vendor_id) references public.wedding_vendors (wedding_id, vendor_id) on delete set null (vendor_id)
);
create index tasks_wedding_id_due_at_idx on public.tasks (wedding_id, due_at);
create index tasks_vendor_id_idx on public.tasks (vendor_id, wedding_id) where vendor_id is not null;
comment on table public.tasks is 'A wedding coordination task, optionally assigned to a connected vendor.';

-- ---------------------------------------------------------------------------------------------
-- Availability and bookings
-- ---------------------------------------------------------------------------------------------

create table public.availability_blocks (
  id uuid primary key default gen_random_uuid(),
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  all_day boolean not null default false,
  source public.sync_source not null default 'manual',
  external_id text check (char_length(external_id) between 1 and 1024),
  title text check (char_length(title) <= 300), -- seen by the vendor's members only
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (ends_at > starts_at),
  check (source = 'manual' or external_id is not null), -- synced rows are upserted on their external id
  unique (vendor_id, source, external_id)
);
create index availability_blocks_vendor_id_starts_at_idx on public.availability_blocks (vendor_id, starts_at); -- busy in [a, b)
comment on table public.availability_blocks is 'Time a vendor is busy, typed by hand or synced from a calendar or CRM.';

create table public.bookings (
  id uuid primary key default gen_random_uuid(),
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  wedding_id uuid, -- set when the booking is for a wedding on vendorhub; the vendor must be connected to it
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  status text not null default 'inquiry' check (status in ('inquiry', 'held', 'booked', 'cancelled')),
  source public.sync_source not null default 'manual',
  external_id text check (char_length(external_id) between 1 and 1024),
  title text check (char_length(title) <= 300),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (ends_at > starts_at),
  check (source = 'manual' or external_id is not null),
  unique (vendor_id, source, external_id),
  foreign key (wedding_id, vendor_id) references public.wedding_vendors (wedding_id, vendor_id) on delete set null (wedding_id)
);
create index bookings_vendor_id_starts_at_idx on public.bookings (vendor_id, starts_at);
create index bookings_wedding_id_idx on public.bookings (wedding_id, vendor_id) where wedding_id is not null;
comment on table public.bookings is 'A vendor commitment (inquiry, hold, booking), from vendorhub or synced from a CRM.';

-- ---------------------------------------------------------------------------------------------
-- Notifications
-- ---------------------------------------------------------------------------------------------

create table public.notification_settings (
  user_id uuid primary key references auth.users (id) on delete cascade,
  timezone public.iana_timezone not null default 'UTC',
  quiet_hours_start time, -- local time in timezone; a window may wrap midnight (22:00–07:00)
  quiet_hours_end time,
  email text check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'), -- E.164
  email_bounced_at timestamptz, -- set by the delivery workers; cleared when email changes
  sms_opted_out_at timestamptz, -- set on STOP; cleared when phone changes
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((quiet_hours_start is null) = (quiet_hours_end is null)),
  check (quiet_hours_start <> quiet_hours_end)
);
comment on table public.notification_settings is 'Per-user delivery settings: time zone, quiet hours, contact addresses and their suppression state.';

-- A new address starts with a clean suppression state.
create function vendorhub.notification_settings_before_update() returns trigger
  language plpgsql set search_path = ''
as $$
begin
  if new.email is distinct from old.email then
    new.email_bounced_at := null;
  end if;
  if new.phone is distinct from old.phone then
    new.sms_opted_out_at := null;
  end if;
  return new;
end
$$;
create trigger notification_settings_before_update before update on public.notification_settings
  for each row execute function vendorhub.notification_settings_before_update();

create table public.notification_preferences (
  user_id uuid not null references auth.users (id) on delete cascade,
  category public.notification_category not null,
  channel public.notification_channel not null,
  enabled boolean not null default true,
  updated_at timestamptz not null default now(),
  primary key (user_id, category, channel)
);
comment on table public.notification_preferences is 'User × category × channel switches; a missing row means the planner default.';

create table public.devices (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  platform text not null check (platform in ('ios', 'android', 'web')),
  token text not null unique check (vendorhub.is_push_token(token)),
  enabled boolean not null default true,
  disabled_reason text check (char_length(disabled_reason) <= 200), -- e.g. UNREGISTERED from FCM
  last_seen_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index devices_user_id_idx on public.devices (user_id) where enabled; -- push fan-out
comment on table public.devices is 'Push registration tokens, one row per app install; register through register_device().';

create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  wedding_id uuid references public.weddings (id) on delete cascade,
  category public.notification_category not null,
  title text not null check (char_length(title) between 1 and 200),
  body text check (char_length(body) <= 2000),
  data jsonb not null default '{}' check (jsonb_typeof(data) = 'object'),
  event_key text check (char_length(event_key) between 1 and 200), -- the causing event's Key ("16b3748/3")
  read_at timestamptz,
  created_at timestamptz not null default now(),
  unique (user_id, event_key) -- one notification per user per event, whatever the replays
);
create index notifications_user_id_created_at_idx on public.notifications (user_id, created_at desc);
create index notifications_user_id_unread_idx on public.notifications (user_id) where read_at is null;
comment on table public.notifications is 'In-app notifications (the in_app channel), written by the notification planner.';

create table public.deliveries (
  id uuid primary key default gen_random_uuid(),
  notification_id uuid references public.notifications (id) on delete set null,
  user_id uuid not null references auth.users (id) on delete cascade,
  channel public.notification_channel not null,
  provider text not null check (provider ~ '^[a-z][a-z0-9_]{0,39}$'), -- fcm, resend, twilio, devmailbox, …
  status text not null default 'queued'
    check (status in ('queued', 'sent', 'delivered', 'opened', 'failed', 'suppressed', 'deferred')),
  attempt integer not null default 1 check (attempt >= 1),
  error_code text check (char_length(error_code) <= 200),
  error text check (char_length(error) <= 2000),
  provider_id text check (char_length(provider_id) <= 500), -- the provider's message id
  event_key text check (char_length(event_key) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index deliveries_user_id_created_at_idx on public.deliveries (user_id, created_at desc);
create index deliveries_notification_id_idx on public.deliveries (notification_id) where notification_id is not null;
create index deliveries_event_key_idx on public.deliveries (event_key) where event_key is not null;
create index deliveries_provider_id_idx on public.deliveries (provider, provider_id) where provider_id is not null; -- status webhooks
comment on table public.deliveries is 'One row per delivery attempt of a notification on a channel.';

-- ---------------------------------------------------------------------------------------------
-- Integrations
-- ---------------------------------------------------------------------------------------------

create table public.integration_connections (
  id uuid primary key default gen_random_uuid(),
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  kind text not null check (kind in (
    'honeybook', 'dubsado', 'lightblue', 'google_calendar', 'outlook', 'ical', 'outbound_webhook')),
  status text not null default 'active' check (status in ('active', 'needs_reauth', 'disabled', 'error')),
  display_name text not null check (char_length(btrim(display_name)) between 1 and 200),
  -- Non-secret settings only; secrets live encrypted in vendorhub.integration_credentials.
  config jsonb not null default '{}' check (
    jsonb_typeof(config) = 'object'
    and not (config ?| array['secret', 'password', 'token', 'api_key', 'apikey', 'access_token',
                             'refresh_token', 'client_secret', 'signing_secret', 'private_key'])),
  last_sync_at timestamptz,
  last_error text check (char_length(last_error) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index integration_connections_vendor_id_idx on public.integration_connections (vendor_id);
create index integration_connections_kind_status_idx on public.integration_connections (kind, status); -- sync schedulers, health
comment on table public.integration_connections is 'A vendor''s CRM, calendar or outbound-webhook connection (no secrets).';

create table vendorhub.integration_credentials (
  connection_id uuid primary key references public.integration_connections (id) on delete cascade,
  key_id text not null check (key_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  ciphertext bytea not null check (octet_length(ciphertext) >= 28), -- AES-256-GCM: 12-byte nonce + data + 16-byte tag
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index integration_credentials_key_id_idx on vendorhub.integration_credentials (key_id); -- rotation: rows still under a key
comment on table vendorhub.integration_credentials is 'Encrypted connection secrets (never plaintext): AES-256-GCM ciphertext and the id of its key.';

create table vendorhub.webhook_inbox (
  id uuid primary key default gen_random_uuid(),
  source text not null check (source ~ '^[a-z][a-z0-9_]{0,39}$'), -- honeybook, dubsado, resend, twilio, google, …
  connection_id uuid references public.integration_connections (id) on delete set null,
  provider_event_id text not null check (char_length(provider_event_id) between 1 and 500),
  received_at timestamptz not null default now(),
  -- Store an allow-list of headers (lower-case names); credentials are refused outright.
  headers jsonb not null default '{}' check (
    jsonb_typeof(headers) = 'object'
    and not (headers ?| array['authorization', 'proxy-authorization', 'cookie', 'set-cookie',
                              'x-api-key', 'apikey', 'x-goog-channel-token'])),
  payload jsonb not null,
  processed_at timestamptz,
  attempts integer not null default 0 check (attempts >= 0),
  last_error text check (char_length(last_error) <= 2000),
  unique (source, provider_event_id) -- duplicates are absorbed with ON CONFLICT DO NOTHING
);
create index webhook_inbox_connection_id_idx on vendorhub.webhook_inbox (connection_id, received_at desc);
create index webhook_inbox_unprocessed_idx on vendorhub.webhook_inbox (received_at) where processed_at is null;
comment on table vendorhub.webhook_inbox is 'Verified inbound webhooks, stored before processing.';

create table vendorhub.audit_log (
  id bigserial primary key,
  occurred_at timestamptz not null default now(),
  actor text, -- auth user id, or null for the system
  action text not null check (char_length(action) between 1 and 100),
  subject text,
  reason text,
  source_ip inet,
  details jsonb
);
create index audit_log_occurred_at_idx on vendorhub.audit_log (occurred_at desc);
create index audit_log_action_idx on vendorhub.audit_log (action, occurred_at desc);
comment on table vendorhub.audit_log is 'Append-only log of security-relevant events: UPDATE, DELETE and TRUNCATE raise.';

create function vendorhub.audit_log_append_only() returns trigger
  language plpgsql set search_path = ''
as $$
begin
  raise exception 'vendorhub.audit_log is append-only: % refused', tg_op
    using errcode = '42501', hint = 'Write a new entry instead.';
end
$$;
create trigger audit_log_append_only before update or delete on vendorhub.audit_log
  for each row execute function vendorhub.audit_log_append_only();
create trigger audit_log_no_truncate before truncate on vendorhub.audit_log
  for each statement execute function vendorhub.audit_log_append_only();

-- updated_at on every table that has one.
do $$
declare
  t regclass;
begin
  foreach t in array array[
    'public.vendors', 'public.weddings', 'public.wedding_vendors', 'public.conversations',
    'public.tasks', 'public.availability_blocks', 'public.bookings', 'public.notification_settings',
    'public.notification_preferences', 'public.devices', 'public.deliveries',
    'public.integration_connections', 'vendorhub.integration_credentials']::regclass[]
  loop
    execute format('create trigger touch_updated_at before update on %s for each row execute function vendorhub.touch_updated_at()', t);
  end loop;
end
$$;
