-- Realtime topics that cannot be forged and do not leak, and the event that tells the gateway
-- to re-check who may still read a topic.
--
-- Server events travel on server topics, which no client may broadcast on; clients talk on
-- chatter topics of their own. A topic's readers are exactly the readers of the rows whose
-- events it carries (the SELECT policies of 20261125000110_foundation_rls.sql):
--
--   topic                          receive (join)                          send (clients)
--   conversation:<uuid>            participants                            presence only
--   conversation:<uuid>:chatter    participants                            broadcast, presence
--   wedding:<uuid>                 the couple, connected vendors' members  presence only
--   couple:<wedding uuid>          the wedding's couple                    presence only
--   vendor:<uuid>                  the vendor's members                    presence only
--   user:<uuid>                    that user                               presence only
--
-- Presence cannot forge a broadcast event (it is its own extension), so it stays open to
-- every reader. service_role (the sidecar's REST broadcasts; the embedded gateway's in-process
-- publisher, which checks nothing) bypasses RLS and still sends on every topic.
--
-- membership.removed: a row that granted read access went away (a conversation participant,
-- a wedding–vendor connection, a vendor member, a wedding's couple member), or moved. The
-- embedded gateway re-runs the read probe of the affected channels and closes those that lost
-- access (docs/realtime.md).

-- ---------------------------------------------------------------------------------------------
-- Topics
-- ---------------------------------------------------------------------------------------------

-- The conversation id of a chatter topic "conversation:<uuid>:chatter", or null.
create function vendorhub.chatter_conversation_id(topic text) returns uuid
  language plpgsql immutable parallel safe set search_path = ''
as $$
begin
  if topic is null
     or topic !~ '^conversation:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:chatter$' then
    return null;
  end if;
  return substr(topic, char_length('conversation:') + 1, 36)::uuid;
end
$$;

create or replace function vendorhub.can_receive_topic(topic text) returns boolean
  language plpgsql stable security definer set search_path = ''
as $$
declare
  id uuid;
begin
  id := coalesce(vendorhub.topic_id(topic, 'conversation'), vendorhub.chatter_conversation_id(topic));
  if id is not null then
    return vendorhub.is_participant(id);
  end if;
  id := vendorhub.topic_id(topic, 'wedding');
  if id is not null then
    return vendorhub.can_see_wedding(id);
  end if;
  id := vendorhub.topic_id(topic, 'couple');
  if id is not null then
    return vendorhub.is_wedding_couple(id);
  end if;
  id := vendorhub.topic_id(topic, 'vendor');
  if id is not null then
    return vendorhub.is_vendor_member(id);
  end if;
  id := vendorhub.topic_id(topic, 'user');
  if id is not null then
    return id = auth.uid();
  end if;
  return false;
end
$$;

-- Broadcast only on chatter topics; presence wherever the caller may receive.
create or replace function vendorhub.can_send_topic(topic text, extension text) returns boolean
  language plpgsql stable security definer set search_path = ''
as $$
declare
  id uuid;
begin
  if extension = 'broadcast' then
    id := vendorhub.chatter_conversation_id(topic);
    return id is not null and vendorhub.is_participant(id);
  end if;
  if extension = 'presence' then
    return vendorhub.can_receive_topic(topic);
  end if;
  return false;
end
$$;

revoke execute on function vendorhub.chatter_conversation_id(text) from public, anon, authenticated;
grant execute on function vendorhub.chatter_conversation_id(text) to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- membership.removed
-- ---------------------------------------------------------------------------------------------

create or replace function vendorhub.event_types() returns text[]
  language sql immutable parallel safe set search_path = ''
as $$
  select array[
    'message.created', 'message.read', 'vendor.status_changed', 'availability.changed',
    'booking.updated', 'connection.changed', 'webhook.received', 'notification.created',
    'delivery.updated', 'integration.failed', 'conflict.detected', 'breaker.changed',
    'task.updated', 'heartbeat', 'membership.removed']
$$;

-- A participant left or was removed (or the row moved to another conversation or user).
create function vendorhub.emit_participant_removed() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  wedding uuid;
begin
  select c.wedding_id into wedding from public.conversations c where c.id = old.conversation_id;
  perform vendorhub.emit('membership.removed', wedding,
    jsonb_build_object('table', 'conversation_participants', 'id', old.id,
      'conversation_id', old.conversation_id, 'user_id', old.user_id),
    jsonb_build_object('kind', 'conversation_participant', 'conversation_id', old.conversation_id,
      'user_id', old.user_id, 'wedding_id', wedding, 'vendor_id', null));
  return null;
end
$$;
create trigger emit_participant_removed after delete on public.conversation_participants
  for each row execute function vendorhub.emit_participant_removed();
create trigger emit_participant_removed_update after update of conversation_id, user_id on public.conversation_participants
  for each row when (new.conversation_id is distinct from old.conversation_id or new.user_id is distinct from old.user_id)
  execute function vendorhub.emit_participant_removed();

-- A vendor was disconnected from a wedding.
create function vendorhub.emit_wedding_vendor_removed() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  perform vendorhub.emit('membership.removed', old.wedding_id,
    jsonb_build_object('table', 'wedding_vendors', 'id', old.id, 'vendor_id', old.vendor_id),
    jsonb_build_object('kind', 'wedding_vendor', 'conversation_id', null, 'user_id', null,
      'wedding_id', old.wedding_id, 'vendor_id', old.vendor_id));
  return null;
end
$$;
create trigger emit_wedding_vendor_removed after delete on public.wedding_vendors
  for each row execute function vendorhub.emit_wedding_vendor_removed();
create trigger emit_wedding_vendor_removed_update after update of wedding_id, vendor_id on public.wedding_vendors
  for each row when (new.wedding_id is distinct from old.wedding_id or new.vendor_id is distinct from old.vendor_id)
  execute function vendorhub.emit_wedding_vendor_removed();

-- A member left a vendor. The table's key is (vendor_id, user_id): subject.id is "<vendor>:<user>".
create function vendorhub.emit_vendor_member_removed() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  perform vendorhub.emit('membership.removed', null,
    jsonb_build_object('table', 'vendor_members', 'id', old.vendor_id || ':' || old.user_id,
      'vendor_id', old.vendor_id, 'user_id', old.user_id),
    jsonb_build_object('kind', 'vendor_member', 'conversation_id', null, 'user_id', old.user_id,
      'wedding_id', null, 'vendor_id', old.vendor_id));
  return null;
end
$$;
create trigger emit_vendor_member_removed after delete on public.vendor_members
  for each row execute function vendorhub.emit_vendor_member_removed();
create trigger emit_vendor_member_removed_update after update of vendor_id, user_id on public.vendor_members
  for each row when (new.vendor_id is distinct from old.vendor_id or new.user_id is distinct from old.user_id)
  execute function vendorhub.emit_vendor_member_removed();

-- One of a wedding's couple was removed. Key (wedding_id, user_id): subject.id "<wedding>:<user>".
create function vendorhub.emit_wedding_couple_removed() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  perform vendorhub.emit('membership.removed', old.wedding_id,
    jsonb_build_object('table', 'wedding_couples', 'id', old.wedding_id || ':' || old.user_id,
      'user_id', old.user_id),
    jsonb_build_object('kind', 'wedding_couple', 'conversation_id', null, 'user_id', old.user_id,
      'wedding_id', old.wedding_id, 'vendor_id', null));
  return null;
end
$$;
create trigger emit_wedding_couple_removed after delete on public.wedding_couples
  for each row execute function vendorhub.emit_wedding_couple_removed();
create trigger emit_wedding_couple_removed_update after update of wedding_id, user_id on public.wedding_couples
  for each row when (new.wedding_id is distinct from old.wedding_id or new.user_id is distinct from old.user_id)
  execute function vendorhub.emit_wedding_couple_removed();

revoke execute on function
  vendorhub.emit_participant_removed(), vendorhub.emit_wedding_vendor_removed(),
  vendorhub.emit_vendor_member_removed(), vendorhub.emit_wedding_couple_removed()
  from public, anon, authenticated;
