-- Row-level security for the foundation tables: who may read and write what.
--
-- Model:
--   * A vendor member sees the weddings their vendor is connected to (any status); a couple sees
--     their wedding. Both see that wedding's vendors, couples, status updates and tasks.
--   * Only participants read or write a conversation and its messages.
--   * A user sees only their own notification settings, preferences, devices, notifications and
--     deliveries.
--   * Vendors, weddings and couples are created by the planning SaaS backend (service_role).
--   * vendorhub.integration_credentials, webhook_inbox and audit_log: service_role only.
--   * anon gets nothing: no policy names it.
--
-- Policies call SECURITY DEFINER predicates (search_path = '') so that checking membership does not
-- recurse into the policies of the membership tables. They live in the private schema vendorhub:
-- callers need EXECUTE (granted below), not USAGE, because stored policies reference them by oid.
-- auth.uid() is wrapped as (select auth.uid()) where it is compared to a column, so it runs once.
--
-- RLS is enabled, not forced: the table owner (the role that runs migrations, "postgres") must
-- see every row, because the SECURITY DEFINER predicates and event triggers run as it, and on
-- hosted Supabase that role is not a superuser. No API role owns a table.

-- ---------------------------------------------------------------------------------------------
-- Predicates
-- ---------------------------------------------------------------------------------------------

create function vendorhub.is_vendor_member(vendor uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.vendor_members m
    where m.vendor_id = vendor and m.user_id = auth.uid())
$$;

create function vendorhub.is_vendor_owner(vendor uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.vendor_members m
    where m.vendor_id = vendor and m.user_id = auth.uid() and m.role = 'owner')
$$;

create function vendorhub.is_wedding_couple(wedding uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.wedding_couples c
    where c.wedding_id = wedding and c.user_id = auth.uid())
$$;

-- Whether usr is one of the couple, or a member of a vendor connected to the wedding.
create function vendorhub.user_sees_wedding(usr uuid, wedding uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select usr is not null and (
    exists (
      select 1 from public.wedding_couples c
      where c.wedding_id = wedding and c.user_id = usr)
    or exists (
      select 1
      from public.wedding_vendors wv
      join public.vendor_members m on m.vendor_id = wv.vendor_id
      where wv.wedding_id = wedding and m.user_id = usr))
$$;

create function vendorhub.can_see_wedding(wedding uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select vendorhub.user_sees_wedding(auth.uid(), wedding)
$$;

-- A vendor is visible to its members and to everyone who sees a wedding it is connected to.
create function vendorhub.can_see_vendor(vendor uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select vendorhub.is_vendor_member(vendor)
      or exists (
        select 1 from public.wedding_vendors wv
        where wv.vendor_id = vendor and vendorhub.user_sees_wedding(auth.uid(), wv.wedding_id))
$$;

create function vendorhub.is_participant(conv uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = conv and p.user_id = auth.uid())
$$;

-- The caller may add usr to conv: the caller takes part in it (or started it), and usr sees its wedding.
create function vendorhub.can_add_participant(conv uuid, usr uuid) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from public.conversations c
    where c.id = conv
      and (c.created_by = auth.uid() or vendorhub.is_participant(c.id))
      and vendorhub.user_sees_wedding(usr, c.wedding_id))
$$;

-- ---------------------------------------------------------------------------------------------
-- Policies (all "to authenticated"; service_role bypasses RLS)
-- ---------------------------------------------------------------------------------------------

-- vendors: members and the people of their weddings read; owners edit the profile.
alter table public.vendors enable row level security;
create policy "vendors: visible to members and their weddings" on public.vendors
  for select to authenticated using (vendorhub.can_see_vendor(id));
create policy "vendors: owners update" on public.vendors
  for update to authenticated using (vendorhub.is_vendor_owner(id)) with check (vendorhub.is_vendor_owner(id));

-- vendor_members: colleagues read; owners manage.
alter table public.vendor_members enable row level security;
create policy "vendor_members: visible to colleagues" on public.vendor_members
  for select to authenticated using (user_id = (select auth.uid()) or vendorhub.is_vendor_member(vendor_id));
create policy "vendor_members: owners add" on public.vendor_members
  for insert to authenticated with check (vendorhub.is_vendor_owner(vendor_id));
create policy "vendor_members: owners update" on public.vendor_members
  for update to authenticated using (vendorhub.is_vendor_owner(vendor_id)) with check (vendorhub.is_vendor_owner(vendor_id));
create policy "vendor_members: owners remove" on public.vendor_members
  for delete to authenticated using (vendorhub.is_vendor_owner(vendor_id));

-- weddings: the couple and connected vendors read; the couple edits.
alter table public.weddings enable row level security;
create policy "weddings: visible to couple and connected vendors" on public.weddings
  for select to authenticated using (vendorhub.can_see_wedding(id));
create policy "weddings: couple updates" on public.weddings
  for update to authenticated using (vendorhub.is_wedding_couple(id)) with check (vendorhub.is_wedding_couple(id));

alter table public.wedding_couples enable row level security;
create policy "wedding_couples: visible with the wedding" on public.wedding_couples
  for select to authenticated using (vendorhub.can_see_wedding(wedding_id));

-- wedding_vendors: the couple invites and removes vendors; the couple and the vendor move the status.
alter table public.wedding_vendors enable row level security;
create policy "wedding_vendors: visible with the wedding" on public.wedding_vendors
  for select to authenticated using (vendorhub.can_see_wedding(wedding_id));
create policy "wedding_vendors: couple connects vendors" on public.wedding_vendors
  for insert to authenticated with check (vendorhub.is_wedding_couple(wedding_id));
create policy "wedding_vendors: couple or vendor updates status" on public.wedding_vendors
  for update to authenticated
  using (vendorhub.is_wedding_couple(wedding_id) or vendorhub.is_vendor_member(vendor_id))
  with check (vendorhub.is_wedding_couple(wedding_id) or vendorhub.is_vendor_member(vendor_id));
create policy "wedding_vendors: couple disconnects vendors" on public.wedding_vendors
  for delete to authenticated using (vendorhub.is_wedding_couple(wedding_id));

-- conversations: participants read and rename; anyone who sees the wedding starts one (and
-- becomes its first participant). The creator also reads it, so INSERT … RETURNING works.
alter table public.conversations enable row level security;
create policy "conversations: visible to participants" on public.conversations
  for select to authenticated using (created_by = (select auth.uid()) or vendorhub.is_participant(id));
create policy "conversations: started by people of the wedding" on public.conversations
  for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and vendorhub.can_see_wedding(wedding_id)
    and (parent_id is null or vendorhub.is_participant(parent_id)));
create policy "conversations: participants update" on public.conversations
  for update to authenticated using (vendorhub.is_participant(id)) with check (vendorhub.is_participant(id));

-- conversation_participants: participants see each other and add people of the wedding; each
-- participant moves only their own read marker and may leave.
alter table public.conversation_participants enable row level security;
create policy "conversation_participants: visible to participants" on public.conversation_participants
  for select to authenticated using (vendorhub.is_participant(conversation_id));
create policy "conversation_participants: add people of the wedding" on public.conversation_participants
  for insert to authenticated with check (vendorhub.can_add_participant(conversation_id, user_id));
create policy "conversation_participants: own read marker" on public.conversation_participants
  for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "conversation_participants: leave" on public.conversation_participants
  for delete to authenticated using (user_id = (select auth.uid()));

-- messages: participants read; a participant posts as themself; senders edit and delete their own.
alter table public.messages enable row level security;
create policy "messages: visible to participants" on public.messages
  for select to authenticated using (vendorhub.is_participant(conversation_id));
create policy "messages: participants post as themselves" on public.messages
  for insert to authenticated
  with check (sender_id = (select auth.uid()) and vendorhub.is_participant(conversation_id));
create policy "messages: senders edit" on public.messages
  for update to authenticated
  using (sender_id = (select auth.uid()) and vendorhub.is_participant(conversation_id))
  with check (sender_id = (select auth.uid()) and vendorhub.is_participant(conversation_id));
create policy "messages: senders delete" on public.messages
  for delete to authenticated using (sender_id = (select auth.uid()));

-- vendor_status_updates: visible with the wedding; a member posts for their own vendor.
alter table public.vendor_status_updates enable row level security;
create policy "vendor_status_updates: visible with the wedding" on public.vendor_status_updates
  for select to authenticated using (vendorhub.can_see_wedding(wedding_id));
create policy "vendor_status_updates: members post for their vendor" on public.vendor_status_updates
  for insert to authenticated
  with check (created_by = (select auth.uid()) and vendorhub.is_vendor_member(vendor_id));

-- tasks: visible with the wedding; people of the wedding add tasks; the couple, the creator
-- and the assigned vendor update; the couple and the creator delete.
alter table public.tasks enable row level security;
create policy "tasks: visible with the wedding" on public.tasks
  for select to authenticated using (vendorhub.can_see_wedding(wedding_id));
create policy "tasks: people of the wedding add" on public.tasks
  for insert to authenticated
  with check (created_by = (select auth.uid()) and vendorhub.can_see_wedding(wedding_id));
create policy "tasks: couple, creator or assigned vendor update" on public.tasks
  for update to authenticated
  using (vendorhub.is_wedding_couple(wedding_id) or created_by = (select auth.uid())
         or (vendor_id is not null and vendorhub.is_vendor_member(vendor_id)))
  with check (vendorhub.can_see_wedding(wedding_id));
create policy "tasks: couple or creator delete" on public.tasks
  for delete to authenticated
  using (vendorhub.is_wedding_couple(wedding_id) or created_by = (select auth.uid()));

-- availability_blocks: the vendor's own calendar.
alter table public.availability_blocks enable row level security;
create policy "availability_blocks: members read" on public.availability_blocks
  for select to authenticated using (vendorhub.is_vendor_member(vendor_id));
create policy "availability_blocks: members add" on public.availability_blocks
  for insert to authenticated with check (vendorhub.is_vendor_member(vendor_id));
create policy "availability_blocks: members update" on public.availability_blocks
  for update to authenticated using (vendorhub.is_vendor_member(vendor_id)) with check (vendorhub.is_vendor_member(vendor_id));
create policy "availability_blocks: members delete" on public.availability_blocks
  for delete to authenticated using (vendorhub.is_vendor_member(vendor_id));

-- bookings: the vendor's members manage; the couple reads bookings for their wedding.
alter table public.bookings enable row level security;
create policy "bookings: members and the wedding's couple read" on public.bookings
  for select to authenticated
  using (vendorhub.is_vendor_member(vendor_id) or (wedding_id is not null and vendorhub.is_wedding_couple(wedding_id)));
create policy "bookings: members add" on public.bookings
  for insert to authenticated with check (vendorhub.is_vendor_member(vendor_id));
create policy "bookings: members update" on public.bookings
  for update to authenticated using (vendorhub.is_vendor_member(vendor_id)) with check (vendorhub.is_vendor_member(vendor_id));
create policy "bookings: members delete" on public.bookings
  for delete to authenticated using (vendorhub.is_vendor_member(vendor_id));

-- Per-user tables: own rows only.
alter table public.notification_settings enable row level security;
create policy "notification_settings: own" on public.notification_settings
  for all to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));

alter table public.notification_preferences enable row level security;
create policy "notification_preferences: own" on public.notification_preferences
  for all to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));

alter table public.devices enable row level security;
create policy "devices: own" on public.devices
  for all to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));

alter table public.notifications enable row level security;
create policy "notifications: own read" on public.notifications
  for select to authenticated using (user_id = (select auth.uid()));
create policy "notifications: own mark read" on public.notifications
  for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "notifications: own dismiss" on public.notifications
  for delete to authenticated using (user_id = (select auth.uid()));

alter table public.deliveries enable row level security;
create policy "deliveries: own read" on public.deliveries
  for select to authenticated using (user_id = (select auth.uid()));

-- integration_connections: members read; owners manage.
alter table public.integration_connections enable row level security;
create policy "integration_connections: members read" on public.integration_connections
  for select to authenticated using (vendorhub.is_vendor_member(vendor_id));
create policy "integration_connections: owners add" on public.integration_connections
  for insert to authenticated with check (vendorhub.is_vendor_owner(vendor_id));
create policy "integration_connections: owners update" on public.integration_connections
  for update to authenticated using (vendorhub.is_vendor_owner(vendor_id)) with check (vendorhub.is_vendor_owner(vendor_id));
create policy "integration_connections: owners delete" on public.integration_connections
  for delete to authenticated using (vendorhub.is_vendor_owner(vendor_id));

-- Private tables: RLS on with no policy, so only roles with BYPASSRLS (service_role) or the
-- owner reach rows; anon and authenticated also lack USAGE on the schema and any grant.
alter table vendorhub.integration_credentials enable row level security;
alter table vendorhub.webhook_inbox enable row level security;
alter table vendorhub.audit_log enable row level security;

-- ---------------------------------------------------------------------------------------------
-- Grants
-- ---------------------------------------------------------------------------------------------

-- Supabase's default privileges grant ALL on public tables to anon and authenticated; RLS
-- restricts rows. On top of that: no TRUNCATE/REFERENCES/TRIGGER for API roles (TRUNCATE
-- ignores RLS), and column grants where a user may change only some columns.
revoke truncate, references, trigger on
  public.vendors, public.vendor_members, public.weddings, public.wedding_couples,
  public.wedding_vendors, public.conversations, public.conversation_participants, public.messages,
  public.vendor_status_updates, public.tasks, public.availability_blocks, public.bookings,
  public.notification_settings, public.notification_preferences, public.devices,
  public.notifications, public.deliveries, public.integration_connections
  from anon, authenticated;

-- Users edit a message's body only; move only their read marker; change only the status of a
-- connection.
revoke update on public.messages, public.conversation_participants, public.wedding_vendors from anon, authenticated;
grant update (body) on public.messages to authenticated;
grant update (last_read_at) on public.conversation_participants to authenticated;
grant update (status) on public.wedding_vendors to authenticated;

-- Notifications and deliveries are written by the sidecar; a user marks read and dismisses.
revoke insert, update on public.notifications from anon, authenticated;
grant update (read_at) on public.notifications to authenticated;
revoke insert, update, delete on public.deliveries from anon, authenticated;

-- Suppression state (bounces, SMS opt-out) is the delivery workers'.
revoke insert, update on public.notification_settings from anon, authenticated;
grant insert (user_id, timezone, quiet_hours_start, quiet_hours_end, email, phone),
      update (timezone, quiet_hours_start, quiet_hours_end, email, phone)
  on public.notification_settings to authenticated;

-- Private tables: service_role only. The audit log takes no UPDATE or DELETE even from it.
revoke all on vendorhub.integration_credentials, vendorhub.webhook_inbox, vendorhub.audit_log from public, anon, authenticated;
grant select, insert, update, delete on vendorhub.integration_credentials, vendorhub.webhook_inbox to service_role;
grant select, insert on vendorhub.audit_log to service_role;
grant usage on sequence vendorhub.audit_log_id_seq to service_role;

-- Functions: nothing in vendorhub is callable by default; policies and constraints need the
-- predicates and validators below.
revoke execute on all functions in schema vendorhub from public, anon, authenticated;
grant execute on function
  vendorhub.is_iana_timezone(text), vendorhub.is_push_token(text)
  to anon, authenticated, service_role;
grant execute on function
  vendorhub.is_vendor_member(uuid), vendorhub.is_vendor_owner(uuid), vendorhub.is_wedding_couple(uuid),
  vendorhub.user_sees_wedding(uuid, uuid), vendorhub.can_see_wedding(uuid), vendorhub.can_see_vendor(uuid),
  vendorhub.is_participant(uuid), vendorhub.can_add_participant(uuid, uuid)
  to authenticated, service_role;
