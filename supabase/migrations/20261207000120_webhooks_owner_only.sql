-- Outbound webhooks are the vendor OWNERS' (not staff's): endpoints, deliveries (whose bodies
-- carry every event sent), attempts and the replay RPC. And a cap on endpoints per vendor.

-- ---------------------------------------------------------------------------------------------
-- Owner-only policies
-- ---------------------------------------------------------------------------------------------

drop policy "webhook_endpoints: members read" on public.webhook_endpoints;
drop policy "webhook_endpoints: members add" on public.webhook_endpoints;
drop policy "webhook_endpoints: members update" on public.webhook_endpoints;
drop policy "webhook_endpoints: members delete" on public.webhook_endpoints;
create policy "webhook_endpoints: owners read" on public.webhook_endpoints
  for select to authenticated using (vendorhub.is_vendor_owner(vendor_id));
create policy "webhook_endpoints: owners add" on public.webhook_endpoints
  for insert to authenticated with check (vendorhub.is_vendor_owner(vendor_id));
create policy "webhook_endpoints: owners update" on public.webhook_endpoints
  for update to authenticated using (vendorhub.is_vendor_owner(vendor_id)) with check (vendorhub.is_vendor_owner(vendor_id));
create policy "webhook_endpoints: owners delete" on public.webhook_endpoints
  for delete to authenticated using (vendorhub.is_vendor_owner(vendor_id));

drop policy "webhook_deliveries: members read" on public.webhook_deliveries;
create policy "webhook_deliveries: owners read" on public.webhook_deliveries
  for select to authenticated using (vendorhub.is_vendor_owner(vendor_id));
drop policy "webhook_delivery_attempts: members read" on public.webhook_delivery_attempts;
create policy "webhook_delivery_attempts: owners read" on public.webhook_delivery_attempts
  for select to authenticated using (vendorhub.is_vendor_owner(vendor_id));

-- Grants: owners read and delete endpoints (column grants for insert/update are in
-- 20261207000100_tenant_writes.sql); deliveries and attempts are read-only; anon gets nothing.
revoke all on public.webhook_endpoints, public.webhook_deliveries, public.webhook_delivery_attempts from anon;
revoke delete, truncate, references, trigger on public.webhook_deliveries, public.webhook_delivery_attempts from authenticated;
revoke truncate, references, trigger on public.webhook_endpoints from authenticated;

-- ---------------------------------------------------------------------------------------------
-- Replay: owners only
-- ---------------------------------------------------------------------------------------------

create or replace function public.replay_webhook_deliveries(
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
  -- user must own the endpoint's vendor. Anyone else learns nothing, not even that it exists.
  if not found or not (coalesce(auth.role(), '') not in ('anon', 'authenticated')
                       or vendorhub.is_vendor_owner(ep.vendor_id)) then
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
comment on function public.replay_webhook_deliveries(uuid, timestamptz, timestamptz, boolean) is
  'Re-send an endpoint''s deliveries of [since, until) (by default only failed/discarded ones). Vendor owners and service_role only.';

-- ---------------------------------------------------------------------------------------------
-- Cap: endpoints per vendor
-- ---------------------------------------------------------------------------------------------

-- The one place the cap is set.
create function vendorhub.max_webhook_endpoints_per_vendor() returns integer
  language sql immutable parallel safe set search_path = ''
as $$ select 10 $$;
comment on function vendorhub.max_webhook_endpoints_per_vendor() is
  'Most outbound webhook endpoints one vendor may have (enabled or not). Change it here, in a new migration.';

-- Counts under a per-vendor transaction lock, so two concurrent inserts cannot both take the
-- last slot. Applies to every writer, service_role included.
create function vendorhub.webhook_endpoints_cap() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  cap integer := vendorhub.max_webhook_endpoints_per_vendor();
  n integer;
begin
  perform pg_advisory_xact_lock(hashtextextended('vendorhub.webhook_endpoints:' || new.vendor_id::text, 0));
  select count(*) into n from public.webhook_endpoints e where e.vendor_id = new.vendor_id and e.id <> new.id;
  if n >= cap then
    raise exception 'vendor % already has % webhook endpoints, the most allowed', new.vendor_id, cap
      using errcode = '54000', hint = 'Delete an endpoint you no longer use before adding another.';
  end if;
  return new;
end
$$;
create trigger webhook_endpoints_cap before insert or update of vendor_id on public.webhook_endpoints
  for each row execute function vendorhub.webhook_endpoints_cap();

revoke execute on function vendorhub.webhook_endpoints_cap(), vendorhub.max_webhook_endpoints_per_vendor()
  from public, anon, authenticated;
grant execute on function vendorhub.max_webhook_endpoints_per_vendor() to service_role;
