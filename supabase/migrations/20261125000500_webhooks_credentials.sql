-- Webhooks in and out, encrypted credentials and their keys.
--
--   * vendorhub.encryption_keys: the key ids the sidecar's keyring has used (never key material:
--     a check value only), with their retirement. Every sealed table references it, and a
--     trigger refuses writes under a retired key, so `vendorhub keys retire` cannot race a writer.
--   * integration_connections gets the kinds of generic signed senders: standard_webhooks,
--     resend and twilio (a vendor's own account; the hub's system accounts are configured in
--     the sidecar instead).
--   * vendorhub.webhook_rate_hit() and webhook_store(): the ingress's two statements per batch of
--     verified requests — shared per-second counters per connection and per source address (so
--     rate limits hold across sidecar instances), then the inbox insert with ON CONFLICT DO NOTHING.
--   * Outbound webhooks: public.webhook_endpoints (vendor members manage their vendor's),
--     vendorhub.webhook_endpoint_secrets (encrypted signing secrets), public.webhook_deliveries
--     and public.webhook_delivery_attempts (visible per endpoint to the vendor's members), and
--     public.replay_webhook_deliveries() to re-send a time range.

-- ---------------------------------------------------------------------------------------------
-- Encryption keys
-- ---------------------------------------------------------------------------------------------

create table vendorhub.encryption_keys (
  key_id text primary key check (key_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  -- HMAC-SHA256 of a constant under the key, cut to 16 bytes: detects a key id reused for other
  -- material; reveals nothing about the key.
  check_value bytea not null check (octet_length(check_value) = 16),
  created_at timestamptz not null default now(),
  retired_at timestamptz
);
comment on table vendorhub.encryption_keys is
  'Key ids of the sidecar keyring (VENDORHUB_ENCRYPTION_KEYS) with check values; never key material.';

-- Refuses a write under a retired key. FOR SHARE pairs with the FOR UPDATE that retirement takes
-- on the key row: either the write commits first (and retirement counts it), or it waits and sees
-- the key retired. An unregistered key id is left to the foreign key.
create function vendorhub.sealed_key_usable() returns trigger
  language plpgsql security definer set search_path = '' -- FOR SHARE needs more than service_role's SELECT
as $$
declare
  retired timestamptz;
begin
  select k.retired_at into retired from vendorhub.encryption_keys k where k.key_id = new.key_id for share;
  if found and retired is not null then
    raise exception 'encryption key % is retired', new.key_id
      using errcode = 'VHK01', hint = 'Make another key active (first in VENDORHUB_ENCRYPTION_KEYS).';
  end if;
  return new;
end
$$;

-- Credentials written before this migration keep working: their key ids are registered with an
-- all-zero check value, which the sidecar's keyring replaces with the real one when it first
-- registers that key (secret.Keyring.Register).
insert into vendorhub.encryption_keys (key_id, check_value)
select distinct c.key_id, '\x00000000000000000000000000000000'::bytea from vendorhub.integration_credentials c
on conflict do nothing;

alter table vendorhub.integration_credentials
  add constraint integration_credentials_key_id_fkey
  foreign key (key_id) references vendorhub.encryption_keys (key_id);
create trigger sealed_key_usable before insert or update of key_id on vendorhub.integration_credentials
  for each row execute function vendorhub.sealed_key_usable();

-- ---------------------------------------------------------------------------------------------
-- Connections of generic signed senders
-- ---------------------------------------------------------------------------------------------

alter table public.integration_connections drop constraint integration_connections_kind_check;
alter table public.integration_connections add constraint integration_connections_kind_check check (kind in (
  'honeybook', 'dubsado', 'lightblue', 'google_calendar', 'outlook', 'ical', 'outbound_webhook',
  'standard_webhooks', 'resend', 'twilio'));

-- ---------------------------------------------------------------------------------------------
-- Ingress: shared rate windows and the batched inbox insert
-- ---------------------------------------------------------------------------------------------

-- One row per key ("conn:<uuid>" or "ip:<address>") per one-second window. Unlogged: the counts
-- are worth nothing after a crash, and skipping the WAL keeps the ingress cheap.
create unlogged table vendorhub.webhook_rate_windows (
  key text not null,
  window_start timestamptz not null,
  hits integer not null check (hits >= 0),
  primary key (key, window_start)
);
comment on table vendorhub.webhook_rate_windows is
  'Per-second request counters of the webhook ingress, shared by every sidecar instance.';
alter table vendorhub.webhook_rate_windows enable row level security;

-- webhook.received per inserted row, emitted once per statement (transition table) instead of a
-- row trigger: the ingress stores hundreds of webhooks per statement, and a trigger call plus a
-- vendorhub.emit() call per row were most of its database cost. The envelope is exactly the one
-- vendorhub.emit() writes ({id, type, occurred_at, subject without nulls, data, actor when set};
-- no wedding_id), built set-wise; internal/emit's tests check it like every other type.
create or replace function vendorhub.emit_webhook_received() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  actor uuid := auth.uid();
begin
  perform pg_logical_emit_message(true, 'vendorhub', (
    jsonb_build_object(
      'id', gen_random_uuid(),
      'type', 'webhook.received',
      'occurred_at', now(),
      'subject', jsonb_strip_nulls(jsonb_build_object('table', 'webhook_inbox', 'id', i.id, 'vendor_id', c.vendor_id)),
      'data', jsonb_build_object(
        'inbox_id', i.id, 'source', i.source, 'connection_id', i.connection_id,
        'provider_event_id', i.provider_event_id))
    || case when actor is null then '{}'::jsonb else jsonb_build_object('actor', actor) end)::text)
  from inserted i
  left join public.integration_connections c on c.id = i.connection_id;
  return null;
end
$$;
drop trigger emit_webhook_received on vendorhub.webhook_inbox;
create trigger emit_webhook_received after insert on vendorhub.webhook_inbox
  referencing new table as inserted
  for each statement execute function vendorhub.emit_webhook_received();

-- webhook_rate_hit counts requests in the current one-second window: keys ("conn:<uuid>",
-- "ip:<address>") with the number of requests each, returning each key's total so far in the
-- window (all instances together). The ingress calls it in a transaction of its own before
-- storing: the counters are hot rows, and touching only an unlogged table the transaction commits
-- without waiting for the WAL, so the row locks are held for microseconds. Keys are upserted in
-- order, so concurrent calls cannot deadlock. Old windows are trimmed now and then.
create function vendorhub.webhook_rate_hit(keys text[], counts integer[])
  returns table (key text, hits integer)
  language sql volatile set search_path = ''
as $$
  delete from vendorhub.webhook_rate_windows w
  where w.window_start < now() - interval '1 minute' and (select random()) < 0.01;

  insert into vendorhub.webhook_rate_windows as w (key, window_start, hits)
  select k.key, date_trunc('second', now()), sum(k.n)
  from unnest(keys, counts) as k(key, n)
  group by k.key
  order by k.key
  on conflict (key, window_start) do update set hits = w.hits + excluded.hits
  returning w.key, w.hits;
$$;

-- webhook_store stores one batch of verified webhooks, in one statement. Arrays are parallel
-- (one element per request, in arrival order). It answers each request's position (1-based),
-- outcome and inbox id:
--   stored     a new inbox row (the insert trigger emits webhook.received)
--   duplicate  (source, provider event id) already stored, or earlier in the batch: nothing new
create function vendorhub.webhook_store(
  sources text[], connection_ids uuid[], event_ids text[], headers jsonb[], payloads jsonb[])
  returns table (ord integer, outcome text, inbox_id uuid)
  language sql volatile set search_path = ''
as $$
  with input as (
    select u.ord::integer as ord, u.source, u.connection_id, u.event_id, u.hdrs, u.payload,
           row_number() over (partition by u.source, u.event_id order by u.ord) = 1 as first_of_id
    from unnest(sources, connection_ids, event_ids, headers, payloads)
      with ordinality as u(source, connection_id, event_id, hdrs, payload, ord)
  ),
  stored as (
    insert into vendorhub.webhook_inbox (source, connection_id, provider_event_id, headers, payload)
    select i.source, i.connection_id, i.event_id, i.hdrs, i.payload
    from input i
    where i.first_of_id
    order by i.ord
    on conflict (source, provider_event_id) do nothing
    returning webhook_inbox.id, webhook_inbox.source, webhook_inbox.provider_event_id
  )
  select i.ord,
         case when i.first_of_id and s.id is not null then 'stored' else 'duplicate' end,
         case when i.first_of_id then s.id end
  from input i
  left join stored s on s.source = i.source and s.provider_event_id = i.event_id
  order by i.ord;
$$;

-- webhook_inbox_insert stores one webhook verified elsewhere — the webhook-inbox edge function
-- (supabase/functions/webhook-inbox) calls it through PostgREST with the service_role key, since
-- the inbox lives in the private schema. Answers 'stored' or 'duplicate'. service_role only.
create function public.webhook_inbox_insert(
  source text, provider_event_id text, payload jsonb, headers jsonb default '{}', connection_id uuid default null)
  returns text
  language plpgsql volatile security definer set search_path = ''
as $$
declare
  inserted uuid;
begin
  insert into vendorhub.webhook_inbox as i (source, connection_id, provider_event_id, headers, payload)
  values ($1, $5, $2, coalesce($4, '{}'), $3)
  on conflict on constraint webhook_inbox_source_provider_event_id_key do nothing
  returning i.id into inserted;
  return case when inserted is null then 'duplicate' else 'stored' end;
end
$$;
comment on function public.webhook_inbox_insert(text, text, jsonb, jsonb, uuid) is
  'Stores a webhook verified by the webhook-inbox edge function (service_role only).';

-- ---------------------------------------------------------------------------------------------
-- Outbound webhooks
-- ---------------------------------------------------------------------------------------------

-- Event types a vendor can subscribe an endpoint to (the events routed to webhook.outbound).
create function vendorhub.outbound_event_types() returns text[]
  language sql immutable parallel safe set search_path = ''
as $$
  select array['message.created', 'vendor.status_changed', 'booking.updated']
$$;

create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  url text not null check (url ~ '^https?://[^\s/?#]+' and char_length(url) <= 2000),
  description text check (char_length(description) <= 500),
  -- Empty = every outbound event type.
  event_types text[] not null default '{}' check (event_types <@ vendorhub.outbound_event_types()),
  enabled boolean not null default true,
  -- Written by the sidecar: disabling (410 Gone, or failing for 5 days) and the failure streak.
  disabled_at timestamptz,
  disabled_reason text check (char_length(disabled_reason) <= 500),
  failing_since timestamptz,
  last_success_at timestamptz,
  last_failure_at timestamptz,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_endpoints_vendor_id_idx on public.webhook_endpoints (vendor_id) where enabled; -- the outbound sink
comment on table public.webhook_endpoints is
  'A vendor''s outbound webhook endpoint: Standard Webhooks-signed POSTs of the chosen event types.';
create trigger touch_updated_at before update on public.webhook_endpoints
  for each row execute function vendorhub.touch_updated_at();

-- Re-enabling an endpoint (enabled false → true) starts a clean slate.
create function vendorhub.webhook_endpoint_reenabled() returns trigger
  language plpgsql set search_path = ''
as $$
begin
  if new.enabled and not old.enabled then
    new.disabled_at := null;
    new.disabled_reason := null;
    new.failing_since := null;
  end if;
  return new;
end
$$;
create trigger webhook_endpoint_reenabled before update of enabled on public.webhook_endpoints
  for each row execute function vendorhub.webhook_endpoint_reenabled();

create table vendorhub.webhook_endpoint_secrets (
  endpoint_id uuid primary key references public.webhook_endpoints (id) on delete cascade,
  key_id text not null references vendorhub.encryption_keys (key_id)
    check (key_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  -- Sealed JSON {"current": "whsec_…", "previous": "whsec_…", "previous_until": "…"}.
  ciphertext bytea not null check (octet_length(ciphertext) >= 28),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_endpoint_secrets_key_id_idx on vendorhub.webhook_endpoint_secrets (key_id);
comment on table vendorhub.webhook_endpoint_secrets is 'Encrypted signing secrets of outbound webhook endpoints.';
create trigger sealed_key_usable before insert or update of key_id on vendorhub.webhook_endpoint_secrets
  for each row execute function vendorhub.sealed_key_usable();
create trigger touch_updated_at before update on vendorhub.webhook_endpoint_secrets
  for each row execute function vendorhub.touch_updated_at();

create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  event_key text not null check (event_key ~* '^[0-9a-f]+/[0-9]+$'), -- commit LSN + index
  event_id uuid not null,
  event_type text not null,
  occurred_at timestamptz not null,
  message_id text not null check (message_id ~ '^msg_[A-Za-z0-9_-]+$'), -- webhook-id, same on every attempt
  body text not null, -- the exact bytes signed and sent
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'discarded')),
  attempts integer not null default 0 check (attempts >= 0),
  last_status_code integer,
  last_error text check (char_length(last_error) <= 2000),
  next_attempt_at timestamptz,
  succeeded_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (endpoint_id, event_key)
);
create index webhook_deliveries_endpoint_time_idx on public.webhook_deliveries (endpoint_id, occurred_at); -- replay, per-endpoint view
comment on table public.webhook_deliveries is 'One outbound webhook message per (event, endpoint).';
create trigger touch_updated_at before update on public.webhook_deliveries
  for each row execute function vendorhub.touch_updated_at();

create table public.webhook_delivery_attempts (
  id bigint generated always as identity primary key,
  delivery_id uuid not null references public.webhook_deliveries (id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  attempt integer not null check (attempt >= 1),
  started_at timestamptz not null default now(),
  duration_ms integer check (duration_ms >= 0),
  status_code integer,
  outcome text not null check (outcome in ('succeeded', 'failed', 'gone')),
  error text check (char_length(error) <= 2000),
  response_excerpt text check (char_length(response_excerpt) <= 1024)
);
create index webhook_delivery_attempts_delivery_idx on public.webhook_delivery_attempts (delivery_id, attempt);
create index webhook_delivery_attempts_endpoint_idx on public.webhook_delivery_attempts (endpoint_id, started_at desc);
comment on table public.webhook_delivery_attempts is 'Every HTTP attempt of an outbound webhook delivery.';

-- replay_webhook_deliveries re-sends endpoint's deliveries whose events occurred in
-- [since, until) — by default only those that failed or were discarded — as fresh River jobs
-- (same webhook-id, so receivers deduplicate). The caller must be a member of the endpoint's
-- vendor (service_role always may), and the endpoint must be enabled. Returns the number queued.
create function public.replay_webhook_deliveries(
  endpoint uuid, since timestamptz, until timestamptz default now(), only_failed boolean default true)
  returns integer
  language plpgsql volatile security definer set search_path = ''
as $$
declare
  ep public.webhook_endpoints;
  n integer;
begin
  select * into ep from public.webhook_endpoints e where e.id = endpoint;
  -- Trusted callers carry no API role (the sidecar, an operator's psql) or service_role; an API
  -- user must be a member of the endpoint's vendor.
  if not found or not (coalesce(auth.role(), '') not in ('anon', 'authenticated')
                       or vendorhub.is_vendor_member(ep.vendor_id)) then
    raise exception 'webhook endpoint % not found', endpoint using errcode = 'P0002';
  end if;
  if not ep.enabled then
    raise exception 'webhook endpoint % is disabled: enable it before replaying', endpoint
      using errcode = '55000';
  end if;
  if since is null or until is null or until <= since then
    raise exception 'replay range [%, %) is empty', since, until using errcode = '22023';
  end if;

  with picked as (
    update public.webhook_deliveries d
       set status = 'pending', next_attempt_at = now(), last_error = null
     where d.endpoint_id = endpoint
       and d.occurred_at >= since and d.occurred_at < until
       and (not only_failed or d.status in ('failed', 'discarded'))
    returning d.id
  ),
  queued as (
    -- A River job per delivery, as river.Client.Insert writes it (kind webhook_delivery).
    insert into river.river_job (args, kind, max_attempts, queue, state, scheduled_at, metadata)
    select jsonb_build_object('delivery_id', p.id, 'replay', true), 'webhook_delivery', 8, 'webhooks',
           'available', now(), '{"replay": true}'
    from picked p
    returning 1
  )
  select count(*)::integer into n from queued;

  insert into vendorhub.audit_log (actor, action, subject, details)
  values (auth.uid()::text, 'endpoint.replayed', 'webhook_endpoint:' || endpoint::text,
          jsonb_build_object('since', since, 'until', until, 'only_failed', only_failed, 'queued', n));
  return n;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security and grants
-- ---------------------------------------------------------------------------------------------

alter table vendorhub.encryption_keys enable row level security;
alter table vendorhub.webhook_endpoint_secrets enable row level security;

-- Endpoints: the vendor's members read and manage them.
alter table public.webhook_endpoints enable row level security;
create policy "webhook_endpoints: members read" on public.webhook_endpoints
  for select to authenticated using (vendorhub.is_vendor_member(vendor_id));
create policy "webhook_endpoints: members add" on public.webhook_endpoints
  for insert to authenticated with check (vendorhub.is_vendor_member(vendor_id));
create policy "webhook_endpoints: members update" on public.webhook_endpoints
  for update to authenticated using (vendorhub.is_vendor_member(vendor_id)) with check (vendorhub.is_vendor_member(vendor_id));
create policy "webhook_endpoints: members delete" on public.webhook_endpoints
  for delete to authenticated using (vendorhub.is_vendor_member(vendor_id));

-- Deliveries and attempts: the vendor's members read; the sidecar writes.
alter table public.webhook_deliveries enable row level security;
create policy "webhook_deliveries: members read" on public.webhook_deliveries
  for select to authenticated using (vendorhub.is_vendor_member(vendor_id));
alter table public.webhook_delivery_attempts enable row level security;
create policy "webhook_delivery_attempts: members read" on public.webhook_delivery_attempts
  for select to authenticated using (vendorhub.is_vendor_member(vendor_id));

revoke all on public.webhook_endpoints, public.webhook_deliveries, public.webhook_delivery_attempts from anon, authenticated;
grant select, delete on public.webhook_endpoints to authenticated;
grant insert (vendor_id, url, description, event_types, enabled) on public.webhook_endpoints to authenticated;
grant update (url, description, event_types, enabled) on public.webhook_endpoints to authenticated;
grant select on public.webhook_deliveries, public.webhook_delivery_attempts to authenticated;
grant select, insert, update, delete on public.webhook_endpoints, public.webhook_deliveries, public.webhook_delivery_attempts to service_role;

revoke all on vendorhub.encryption_keys, vendorhub.webhook_endpoint_secrets, vendorhub.webhook_rate_windows
  from public, anon, authenticated;
grant select, insert, update, delete on vendorhub.webhook_endpoint_secrets, vendorhub.webhook_rate_windows to service_role;
grant select, insert, update (check_value, retired_at) on vendorhub.encryption_keys to service_role;

revoke execute on function vendorhub.sealed_key_usable(), vendorhub.webhook_rate_hit(text[], integer[]),
  vendorhub.webhook_store(text[], uuid[], text[], jsonb[], jsonb[]),
  vendorhub.outbound_event_types(), vendorhub.webhook_endpoint_reenabled()
  from public, anon, authenticated;
grant execute on function vendorhub.outbound_event_types() to anon, authenticated, service_role; -- used by a CHECK
grant execute on function vendorhub.webhook_rate_hit(text[], integer[]), vendorhub.webhook_store(text[], uuid[], text[], jsonb[], jsonb[])
  to service_role;
revoke execute on function public.webhook_inbox_insert(text, text, jsonb, jsonb, uuid) from public, anon, authenticated;
grant execute on function public.webhook_inbox_insert(text, text, jsonb, jsonb, uuid) to service_role;
revoke execute on function public.replay_webhook_deliveries(uuid, timestamptz, timestamptz, boolean) from public, anon;
grant execute on function public.replay_webhook_deliveries(uuid, timestamptz, timestamptz, boolean) to authenticated, service_role;
