-- Tenant-safe writes: what an API role (anon, authenticated) may write through PostgREST.
--
-- Rules (docs/tenancy.md has the whole model in one table):
--   * Column grants, not table grants: for every table a client writes, INSERT and UPDATE are
--     granted on exactly the columns a client may set. anon writes nothing.
--   * Tenant keys and authorship (wedding_id, vendor_id, conversation_id, user_id, parent_id,
--     created_by, sender_id, connection_id, …) are set on insert only, where the RLS WITH CHECK
--     ties them to the caller (member of that wedding / vendor / conversation, author =
--     auth.uid()); no client may UPDATE them, so no row moves to another tenant afterwards.
--   * Server timestamps (created_at, updated_at, joined_at, edited_at, last_seen_at, …) are never
--     client-settable: defaults and triggers only.
--   * wedding_vendors.status is a state machine (vendorhub.wedding_vendor_move_allowed): a couple
--     creates an inquiry only; only the vendor side books, confirms or declines.
--   * A calendar block's or booking's connection_id names a connection of the same vendor.
--
-- Trusted writers (postgres running migrations and SECURITY DEFINER code, service_role for the
-- sidecar and the planning backend) are not API roles: the grants and the state machine below do
-- not restrict them.

-- ---------------------------------------------------------------------------------------------
-- Column grants
-- ---------------------------------------------------------------------------------------------

-- A table-level REVOKE also removes the column grants of the same privilege, so every table a
-- client may write starts from nothing and gets its column list back below.
revoke insert, update, delete on
  public.vendors, public.vendor_members, public.weddings, public.wedding_couples,
  public.wedding_vendors, public.conversations, public.conversation_participants, public.messages,
  public.vendor_status_updates, public.tasks, public.availability_blocks, public.bookings,
  public.notification_settings, public.notification_preferences, public.devices,
  public.notifications, public.deliveries, public.integration_connections,
  public.webhook_endpoints, public.webhook_deliveries, public.webhook_delivery_attempts,
  public.sync_runs, public.availability_conflicts
  from anon;
revoke insert, update on
  public.vendors, public.vendor_members, public.weddings, public.wedding_couples,
  public.wedding_vendors, public.conversations, public.conversation_participants, public.messages,
  public.vendor_status_updates, public.tasks, public.availability_blocks, public.bookings,
  public.notification_settings, public.notification_preferences, public.devices,
  public.notifications, public.deliveries, public.integration_connections,
  public.webhook_endpoints, public.webhook_deliveries, public.webhook_delivery_attempts,
  public.sync_runs, public.availability_conflicts
  from authenticated;

-- Vendor profile: owners edit it; vendors are created by the backend.
grant update (name, kind, timezone, email, phone, website, buffer_before, buffer_after)
  on public.vendors to authenticated;
-- Staff: owners add users to their vendor and change their role.
grant insert (vendor_id, user_id, role), update (role) on public.vendor_members to authenticated;
-- Wedding details: the couple edits; weddings and couples are created by the backend.
grant update (title, wedding_date, starts_at, timezone) on public.weddings to authenticated;
-- Connections: the couple invites (status inquiry); the status moves by the state machine.
grant insert (wedding_id, vendor_id, status), update (status) on public.wedding_vendors to authenticated;
-- Conversations: started in a wedding (optionally as a thread); only the subject changes.
grant insert (wedding_id, parent_id, subject, created_by), update (subject)
  on public.conversations to authenticated;
grant insert (conversation_id, user_id), update (last_read_at)
  on public.conversation_participants to authenticated;
-- Messages: posted as oneself; only the body is edited (edited_at is the trigger's).
grant insert (conversation_id, sender_id, body, reply_to), update (body) on public.messages to authenticated;
-- Day-of status updates are append-only for users.
grant insert (wedding_id, vendor_id, status, note, eta, created_by) on public.vendor_status_updates to authenticated;
grant insert (wedding_id, vendor_id, title, notes, status, due_at, critical, created_by),
      update (title, notes, status, due_at, critical)
  on public.tasks to authenticated;
-- Calendars: members type manual blocks and bookings; source, external_id, connection_id and
-- crm_status are the sync's.
grant insert (vendor_id, starts_at, ends_at, all_day, title, tz, tentative),
      update (starts_at, ends_at, all_day, title, tz, tentative)
  on public.availability_blocks to authenticated;
grant insert (vendor_id, wedding_id, starts_at, ends_at, status, title, contract_signed_at,
              amount_paid, currency, last_payment_at),
      update (starts_at, ends_at, status, title, contract_signed_at, amount_paid, currency, last_payment_at)
  on public.bookings to authenticated;
-- Per-user rows. Suppression and verification state is the server's.
grant insert (user_id, timezone, quiet_hours_start, quiet_hours_end, email, phone),
      update (timezone, quiet_hours_start, quiet_hours_end, email, phone)
  on public.notification_settings to authenticated;
grant insert (user_id, category, channel, enabled), update (enabled)
  on public.notification_preferences to authenticated;
grant insert (user_id, platform, token), update (enabled) on public.devices to authenticated;
grant update (read_at) on public.notifications to authenticated;
-- Integrations: owners connect and rename; status, sync times and errors are the sidecar's.
grant insert (vendor_id, kind, display_name, config), update (display_name, config)
  on public.integration_connections to authenticated;
-- Outbound endpoints (owner-only policies in 20261207000120_webhooks_owner_only.sql).
grant insert (vendor_id, url, description, event_types, enabled, connection_id),
      update (url, description, event_types, enabled)
  on public.webhook_endpoints to authenticated;

-- ---------------------------------------------------------------------------------------------
-- wedding_vendors: the status state machine
-- ---------------------------------------------------------------------------------------------

-- Whether side ('couple' or 'vendor') may move a connection from status "from" to "to"; from is
-- null for a new connection. The vendor side answers an inquiry (proposal, booked, declined),
-- books after a proposal, confirms a booking and cancels; the couple invites (inquiry), cancels
-- at any stage and re-opens a connection it cancelled.
create function vendorhub.wedding_vendor_move_allowed(side text, "from" text, "to" text) returns boolean
  language sql immutable parallel safe set search_path = ''
as $$
  select case side
    when 'couple' then (coalesce("from", 'new'), "to") in (
      ('new', 'inquiry'),
      ('inquiry', 'cancelled'), ('proposal', 'cancelled'), ('booked', 'cancelled'), ('confirmed', 'cancelled'),
      ('cancelled', 'inquiry'))
    when 'vendor' then (coalesce("from", 'new'), "to") in (
      ('inquiry', 'proposal'), ('inquiry', 'booked'), ('inquiry', 'declined'),
      ('proposal', 'booked'), ('proposal', 'declined'),
      ('booked', 'confirmed'), ('booked', 'cancelled'), ('confirmed', 'cancelled'))
    else false
  end is true
$$;
comment on function vendorhub.wedding_vendor_move_allowed(text, text, text) is
  'The wedding_vendors status transitions each side (couple, vendor) may make; from null = a new connection.';

-- Enforces the state machine for API callers (anon, authenticated): the trigger's WHEN clause is
-- evaluated as the writing role, so trusted writers (service_role, SECURITY DEFINER code) never
-- reach it. SECURITY DEFINER: API roles have no USAGE on schema vendorhub. Unknown statuses are
-- left to the CHECK constraint (23514).
create function vendorhub.wedding_vendors_status_guard() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  from_status text := case when tg_op = 'UPDATE' then old.status end;
  couple boolean;
  vendor boolean;
begin
  if new.status not in ('inquiry', 'proposal', 'booked', 'confirmed', 'declined', 'cancelled')
     or (tg_op = 'UPDATE' and new.status = old.status) then
    return new;
  end if;
  couple := vendorhub.is_wedding_couple(new.wedding_id);
  vendor := vendorhub.is_vendor_member(new.vendor_id);
  if (couple and vendorhub.wedding_vendor_move_allowed('couple', from_status, new.status))
     or (vendor and vendorhub.wedding_vendor_move_allowed('vendor', from_status, new.status)) then
    return new;
  end if;
  if tg_op = 'INSERT' then
    raise exception 'wedding_vendors: a new connection starts as inquiry, not %', new.status
      using errcode = '42501', hint = 'Only the vendor side moves a connection to proposal, booked, confirmed or declined.';
  end if;
  raise exception 'wedding_vendors: the % side may not move status from % to %',
      case when couple and vendor then 'couple and vendor' when couple then 'couple'
           when vendor then 'vendor' else 'caller''s' end,
      from_status, new.status
    using errcode = '42501',
          hint = 'couple: inquiry, cancel, re-open a cancelled one; vendor: proposal/booked/declined from inquiry, booked/declined from proposal, confirmed from booked, cancel.';
end
$$;
create trigger wedding_vendors_status_guard before insert or update of status on public.wedding_vendors
  for each row when (current_user in ('anon', 'authenticated'))
  execute function vendorhub.wedding_vendors_status_guard();

revoke execute on function vendorhub.wedding_vendors_status_guard() from public, anon, authenticated;
revoke execute on function vendorhub.wedding_vendor_move_allowed(text, text, text) from public, anon, authenticated;
grant execute on function vendorhub.wedding_vendor_move_allowed(text, text, text) to service_role;

-- ---------------------------------------------------------------------------------------------
-- Connections of calendar entries belong to the entry's vendor
-- ---------------------------------------------------------------------------------------------

-- Rows that already point at another vendor's connection (none should) lose the link rather than
-- block the migration.
update public.availability_blocks b set connection_id = null
where b.connection_id is not null
  and not exists (select 1 from public.integration_connections c where c.id = b.connection_id and c.vendor_id = b.vendor_id);
update public.bookings b set connection_id = null
where b.connection_id is not null
  and not exists (select 1 from public.integration_connections c where c.id = b.connection_id and c.vendor_id = b.vendor_id);

alter table public.availability_blocks
  drop constraint availability_blocks_connection_id_fkey,
  add constraint availability_blocks_connection_vendor_fkey foreign key (connection_id, vendor_id)
    references public.integration_connections (id, vendor_id) on delete cascade;
alter table public.bookings
  drop constraint bookings_connection_id_fkey,
  add constraint bookings_connection_vendor_fkey foreign key (connection_id, vendor_id)
    references public.integration_connections (id, vendor_id) on delete set null (connection_id);
