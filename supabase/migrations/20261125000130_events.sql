-- Transactional events: vendorhub.emit() writes an event envelope into the WAL with
-- pg_logical_emit_message(true, 'vendorhub', …), so an event exists if and only if the
-- transaction that caused it commits. Triggers below emit the domain events with the ids a router
-- needs (wedding, conversation, vendor, user, participants), so the sidecar never reads them
-- back. Payloads per type: docs/events.md. The closed set of types mirrors internal/event/event.go.

-- The closed set of event types (internal/event/event.go Types; a Go test keeps them equal).
create function vendorhub.event_types() returns text[]
  language sql immutable parallel safe set search_path = ''
as $$
  select array[
    'message.created', 'message.read', 'vendor.status_changed', 'availability.changed',
    'booking.updated', 'connection.changed', 'webhook.received', 'notification.created',
    'delivery.updated', 'integration.failed', 'conflict.detected', 'breaker.changed',
    'task.updated', 'heartbeat']
$$;

-- emit writes {id, type, occurred_at, wedding_id, actor, subject, data} as a transactional
-- logical decoding message with prefix 'vendorhub' and returns the event id. subject is an
-- object naming the row ({"table": …, "id": …} plus routing ids); its null fields are dropped,
-- as are a null wedding_id and actor (auth.uid(): null for the system and service_role).
create function vendorhub.emit(type text, wedding_id uuid, subject jsonb, data jsonb default '{}')
  returns uuid
  language plpgsql volatile security definer set search_path = ''
as $$
declare
  event_id uuid := gen_random_uuid();
  actor uuid := auth.uid();
  envelope jsonb;
begin
  if emit.type is null or not (emit.type = any (vendorhub.event_types())) then
    raise exception 'vendorhub.emit: unknown event type %', coalesce(quote_literal(emit.type), 'NULL')
      using errcode = '22023',
            hint = 'Event types are a closed set: add it to internal/event/event.go and vendorhub.event_types().';
  end if;
  if emit.subject is not null and jsonb_typeof(emit.subject) <> 'object' then
    raise exception 'vendorhub.emit: subject must be a JSON object, got %', jsonb_typeof(emit.subject)
      using errcode = '22023';
  end if;
  if emit.data is not null and jsonb_typeof(emit.data) <> 'object' then
    raise exception 'vendorhub.emit: data must be a JSON object, got %', jsonb_typeof(emit.data)
      using errcode = '22023';
  end if;

  envelope := jsonb_build_object(
    'id', event_id,
    'type', emit.type,
    'occurred_at', now(),
    'subject', jsonb_strip_nulls(coalesce(emit.subject, '{}')),
    'data', coalesce(emit.data, '{}'));
  if emit.wedding_id is not null then
    envelope := envelope || jsonb_build_object('wedding_id', emit.wedding_id);
  end if;
  if actor is not null then
    envelope := envelope || jsonb_build_object('actor', actor);
  end if;

  perform pg_logical_emit_message(true, 'vendorhub', envelope::text);
  return event_id;
end
$$;

-- body on one line: whitespace runs collapsed to one space, spaces trimmed. Text that is
-- ASCII with no whitespace but single spaces (most chat messages) is returned trimmed without
-- running the regular expression, which converts every string to wide characters first and
-- was most of the cost of a preview. No SET clause, so it is inlined into its callers' queries
-- (the notification triggers of 20261125000410 call it once per inserted row).
create function vendorhub.squish(body text) returns text
  language sql immutable parallel safe
as $$
  select case
    when octet_length(body) = char_length(body) and strpos(body, '  ') = 0
         and strpos(body, E'\n') = 0 and strpos(body, E'\t') = 0 and strpos(body, E'\r') = 0
         and strpos(body, E'\f') = 0 and strpos(body, pg_catalog.chr(11)) = 0
      then pg_catalog.btrim(body)
    else pg_catalog.btrim(pg_catalog.regexp_replace(body, '\s+', ' ', 'g'))
  end
$$;

-- Short single-line text for previews: whitespace runs collapsed, cut to n characters with "…".
create function vendorhub.preview(body text, n integer) returns text
  language sql immutable parallel safe set search_path = ''
as $$
  select case
    when b is null then null
    when char_length(b) <= n then b
    else left(b, n - 1) || '…'
  end
  from (select vendorhub.squish(body) as b) as collapsed
$$;

-- User ids taking part in a conversation, sorted, as a JSON array.
create function vendorhub.participants_of(conv uuid) returns jsonb
  language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(p.user_id order by p.user_id), '[]'::jsonb)
  from public.conversation_participants p
  where p.conversation_id = conv
$$;

-- ---------------------------------------------------------------------------------------------
-- Trigger functions (SECURITY DEFINER: they read routing ids the caller may not see, and call
-- vendorhub.emit, which the API roles cannot). auth.uid() still names the caller.
-- ---------------------------------------------------------------------------------------------

-- message.created: a message was posted.
create function vendorhub.emit_message_created() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  conv_subject text;
begin
  select c.subject into conv_subject from public.conversations c where c.id = new.conversation_id;
  perform vendorhub.emit('message.created', new.wedding_id,
    jsonb_build_object(
      'table', 'messages', 'id', new.id, 'conversation_id', new.conversation_id,
      'participants', vendorhub.participants_of(new.conversation_id)),
    jsonb_build_object(
      'message_id', new.id, 'conversation_id', new.conversation_id,
      'conversation_subject', conv_subject, 'sender_id', new.sender_id,
      'body_preview', vendorhub.preview(new.body, 140), 'reply_to', new.reply_to,
      'created_at', new.created_at));
  return null;
end
$$;
create trigger emit_message_created after insert on public.messages
  for each row execute function vendorhub.emit_message_created();

-- message.read: a participant's read marker moved.
create function vendorhub.emit_message_read() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  wedding uuid;
begin
  select c.wedding_id into wedding from public.conversations c where c.id = new.conversation_id;
  perform vendorhub.emit('message.read', wedding,
    jsonb_build_object(
      'table', 'conversation_participants', 'id', new.id, 'conversation_id', new.conversation_id,
      'user_id', new.user_id, 'participants', vendorhub.participants_of(new.conversation_id)),
    jsonb_build_object(
      'conversation_id', new.conversation_id, 'user_id', new.user_id,
      'last_read_at', new.last_read_at, 'previous_read_at', old.last_read_at));
  return null;
end
$$;
create trigger emit_message_read after update of last_read_at on public.conversation_participants
  for each row when (new.last_read_at is not null and new.last_read_at is distinct from old.last_read_at)
  execute function vendorhub.emit_message_read();

-- vendor.status_changed: a connection's status changed (wedding_vendors), or a vendor posted a
-- day-of update (vendor_status_updates). data.scope tells which.
create function vendorhub.emit_vendor_status_changed() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  v record;
  old_status text;
  note text;
  eta timestamptz;
begin
  select x.name, x.kind into v from public.vendors x where x.id = new.vendor_id;
  if tg_table_name = 'wedding_vendors' then
    if tg_op = 'UPDATE' then
      old_status := old.status;
    end if;
  else
    -- Read through jsonb: this function also serves wedding_vendors, which has no such columns.
    note := vendorhub.preview(to_jsonb(new) ->> 'note', 280);
    eta := (to_jsonb(new) ->> 'eta')::timestamptz;
  end if;
  perform vendorhub.emit('vendor.status_changed', new.wedding_id,
    jsonb_build_object('table', tg_table_name, 'id', new.id, 'vendor_id', new.vendor_id),
    jsonb_build_object(
      'scope', case tg_table_name when 'wedding_vendors' then 'connection' else 'day_of' end,
      'vendor_id', new.vendor_id, 'vendor_name', v.name, 'vendor_kind', v.kind,
      'old_status', old_status, 'new_status', new.status, 'note', note, 'eta', eta));
  return null;
end
$$;
create trigger emit_vendor_status_changed_insert after insert on public.wedding_vendors
  for each row execute function vendorhub.emit_vendor_status_changed();
create trigger emit_vendor_status_changed_update after update of status on public.wedding_vendors
  for each row when (new.status is distinct from old.status)
  execute function vendorhub.emit_vendor_status_changed();
create trigger emit_vendor_status_changed after insert on public.vendor_status_updates
  for each row execute function vendorhub.emit_vendor_status_changed();

-- availability.changed: a vendor's busy set changed. data describes the block after the change
-- (before it, for a delete); an update also carries the old range.
create function vendorhub.emit_availability_changed() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  r public.availability_blocks;
  data jsonb;
begin
  if tg_op = 'DELETE' then
    r := old;
  else
    r := new;
  end if;
  data := jsonb_build_object(
    'op', lower(tg_op), 'vendor_id', r.vendor_id, 'starts_at', r.starts_at, 'ends_at', r.ends_at,
    'all_day', r.all_day, 'source', r.source, 'external_id', r.external_id);
  if tg_op = 'UPDATE' then
    data := data || jsonb_build_object('old_starts_at', old.starts_at, 'old_ends_at', old.ends_at);
  end if;
  perform vendorhub.emit('availability.changed', null,
    jsonb_build_object('table', 'availability_blocks', 'id', r.id, 'vendor_id', r.vendor_id), data);
  return null;
end
$$;
create trigger emit_availability_changed after insert or delete on public.availability_blocks
  for each row execute function vendorhub.emit_availability_changed();
create trigger emit_availability_changed_update after update on public.availability_blocks
  for each row
  when ((new.starts_at, new.ends_at, new.all_day, new.vendor_id) is distinct from (old.starts_at, old.ends_at, old.all_day, old.vendor_id))
  execute function vendorhub.emit_availability_changed();

-- booking.updated: a booking was created, changed or removed.
create function vendorhub.emit_booking_updated() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  r public.bookings;
  old_status text;
begin
  if tg_op = 'DELETE' then
    r := old;
  else
    r := new;
  end if;
  if tg_op = 'UPDATE' then
    old_status := old.status;
  end if;
  perform vendorhub.emit('booking.updated', r.wedding_id,
    jsonb_build_object('table', 'bookings', 'id', r.id, 'vendor_id', r.vendor_id),
    jsonb_build_object(
      'op', lower(tg_op), 'vendor_id', r.vendor_id, 'wedding_id', r.wedding_id,
      'status', r.status, 'old_status', old_status, 'starts_at', r.starts_at, 'ends_at', r.ends_at,
      'source', r.source, 'external_id', r.external_id, 'title', r.title));
  return null;
end
$$;
create trigger emit_booking_updated after insert or delete on public.bookings
  for each row execute function vendorhub.emit_booking_updated();
create trigger emit_booking_updated_update after update on public.bookings
  for each row
  when ((new.status, new.starts_at, new.ends_at, new.wedding_id, new.title, new.vendor_id)
        is distinct from (old.status, old.starts_at, old.ends_at, old.wedding_id, old.title, old.vendor_id))
  execute function vendorhub.emit_booking_updated();

-- connection.changed: an integration connection was added, removed, or changed status. Never
-- carries config or credentials.
create function vendorhub.emit_connection_changed() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  r public.integration_connections;
  old_status text;
begin
  if tg_op = 'DELETE' then
    r := old;
  else
    r := new;
  end if;
  if tg_op <> 'INSERT' then
    old_status := old.status;
  end if;
  perform vendorhub.emit('connection.changed', null,
    jsonb_build_object('table', 'integration_connections', 'id', r.id, 'vendor_id', r.vendor_id),
    jsonb_build_object(
      'op', lower(tg_op), 'vendor_id', r.vendor_id, 'kind', r.kind, 'display_name', r.display_name,
      'old_status', old_status, 'new_status', case when tg_op = 'DELETE' then null else r.status end,
      'last_error', vendorhub.preview(r.last_error, 500)));
  return null;
end
$$;
create trigger emit_connection_changed after insert or delete on public.integration_connections
  for each row execute function vendorhub.emit_connection_changed();
create trigger emit_connection_changed_update after update of status on public.integration_connections
  for each row when (new.status is distinct from old.status)
  execute function vendorhub.emit_connection_changed();

-- webhook.received: a verified webhook landed in the inbox (ids only, never the payload).
create function vendorhub.emit_webhook_received() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  vendor uuid;
begin
  select c.vendor_id into vendor from public.integration_connections c where c.id = new.connection_id;
  perform vendorhub.emit('webhook.received', null,
    jsonb_build_object('table', 'webhook_inbox', 'id', new.id, 'vendor_id', vendor),
    jsonb_build_object(
      'inbox_id', new.id, 'source', new.source, 'connection_id', new.connection_id,
      'provider_event_id', new.provider_event_id));
  return null;
end
$$;
create trigger emit_webhook_received after insert on vendorhub.webhook_inbox
  for each row execute function vendorhub.emit_webhook_received();

-- notification.created: an in-app notification was written for a user.
create function vendorhub.emit_notification_created() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  perform vendorhub.emit('notification.created', new.wedding_id,
    jsonb_build_object('table', 'notifications', 'id', new.id, 'user_id', new.user_id),
    jsonb_build_object(
      'notification_id', new.id, 'user_id', new.user_id, 'category', new.category,
      'title', new.title, 'body_preview', vendorhub.preview(new.body, 280),
      'event_key', new.event_key, 'created_at', new.created_at));
  return null;
end
$$;
create trigger emit_notification_created after insert on public.notifications
  for each row execute function vendorhub.emit_notification_created();

-- delivery.updated: a delivery attempt was recorded or changed status.
create function vendorhub.emit_delivery_updated() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  wedding uuid;
  old_status text;
begin
  select n.wedding_id into wedding from public.notifications n where n.id = new.notification_id;
  if tg_op = 'UPDATE' then
    old_status := old.status;
  end if;
  perform vendorhub.emit('delivery.updated', wedding,
    jsonb_build_object('table', 'deliveries', 'id', new.id, 'user_id', new.user_id),
    jsonb_build_object(
      'delivery_id', new.id, 'notification_id', new.notification_id, 'user_id', new.user_id,
      'channel', new.channel, 'provider', new.provider, 'status', new.status,
      'old_status', old_status, 'attempt', new.attempt, 'error_code', new.error_code,
      'provider_id', new.provider_id, 'event_key', new.event_key));
  return null;
end
$$;
create trigger emit_delivery_updated after insert on public.deliveries
  for each row execute function vendorhub.emit_delivery_updated();
create trigger emit_delivery_updated_update after update of status on public.deliveries
  for each row when (new.status is distinct from old.status)
  execute function vendorhub.emit_delivery_updated();

-- task.updated: a coordination task was created, changed or removed.
create function vendorhub.emit_task_updated() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  r public.tasks;
  old_status text;
begin
  if tg_op = 'DELETE' then
    r := old;
  else
    r := new;
  end if;
  if tg_op = 'UPDATE' then
    old_status := old.status;
  end if;
  perform vendorhub.emit('task.updated', r.wedding_id,
    jsonb_build_object('table', 'tasks', 'id', r.id, 'vendor_id', r.vendor_id),
    jsonb_build_object(
      'op', lower(tg_op), 'task_id', r.id, 'title', r.title, 'status', r.status,
      'old_status', old_status, 'due_at', r.due_at, 'vendor_id', r.vendor_id, 'critical', r.critical));
  return null;
end
$$;
create trigger emit_task_updated after insert or delete on public.tasks
  for each row execute function vendorhub.emit_task_updated();
create trigger emit_task_updated_update after update on public.tasks
  for each row
  when ((new.title, new.notes, new.status, new.due_at, new.vendor_id, new.critical)
        is distinct from (old.title, old.notes, old.status, old.due_at, old.vendor_id, old.critical))
  execute function vendorhub.emit_task_updated();

-- Nothing here is callable by the API roles; triggers run as the function owner. Only
-- service_role (the sidecar: heartbeat, integration.failed, conflict.detected, breaker.changed)
-- may emit directly.
revoke execute on function
  vendorhub.event_types(), vendorhub.emit(text, uuid, jsonb, jsonb), vendorhub.preview(text, integer),
  vendorhub.participants_of(uuid), vendorhub.emit_message_created(), vendorhub.emit_message_read(),
  vendorhub.emit_vendor_status_changed(), vendorhub.emit_availability_changed(),
  vendorhub.emit_booking_updated(), vendorhub.emit_connection_changed(),
  vendorhub.emit_webhook_received(), vendorhub.emit_notification_created(),
  vendorhub.emit_delivery_updated(), vendorhub.emit_task_updated()
  from public, anon, authenticated;
grant execute on function vendorhub.emit(text, uuid, jsonb, jsonb), vendorhub.event_types() to service_role;

-- ---------------------------------------------------------------------------------------------
-- Publication
-- ---------------------------------------------------------------------------------------------

-- The tables whose row changes the sidecar follows directly. Every routed event reaches it as a
-- logical message (pgoutput option messages=true, whatever the publication lists); the
-- publication adds the rows themselves for:
--   public.messages  edits and deletions (no event type of their own) and the full message row.
--                    Replica identity DEFAULT: an UPDATE that leaves a large (TOASTed) body
--                    unchanged sends it as 'u' (unchanged), which the decoder must handle.
-- Later migrations add tables with ALTER PUBLICATION vendorhub ADD TABLE.
alter table public.messages replica identity default;
create publication vendorhub for table public.messages;
