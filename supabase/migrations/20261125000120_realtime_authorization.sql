-- Realtime Authorization for vendorhub's private topics, following Supabase's documented pattern:
-- policies on realtime.messages, "for select" = may receive (join), "for insert" = may send
-- (broadcast, presence track), reading the topic from realtime.topic() and the extension from the
-- row. Realtime evaluates them with a probe row per extension under the user's role (see
-- docs/realtime.md §7.2); so does vendorhub's embedded gateway.
--
--   topic                 receive (broadcast + presence)          send
--   conversation:<uuid>   participants                            participants: broadcast, presence
--   wedding:<uuid>        the couple, connected vendors' members  the same: presence only
--   vendor:<uuid>         the vendor's members                    members: presence only
--   user:<uuid>           that user                               that user: broadcast, presence
--
-- Server events (message.created, vendor.status_changed, …) are published by the sidecar with
-- service_role, which bypasses RLS; users cannot broadcast on wedding, vendor or other users'
-- topics, so they cannot forge those events. A malformed topic or id denies, never raises.

-- The uuid of a vendorhub topic "<family>:<uuid>", or null when the topic is anything else.
create function vendorhub.topic_id(topic text, family text) returns uuid
  language plpgsql immutable parallel safe set search_path = ''
as $$
begin
  if topic is null or family is null
     or topic !~ ('^' || family || ':[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$') then
    return null;
  end if;
  return substr(topic, char_length(family) + 2)::uuid;
end
$$;

create function vendorhub.can_receive_topic(topic text) returns boolean
  language plpgsql stable security definer set search_path = ''
as $$
declare
  id uuid;
begin
  id := vendorhub.topic_id(topic, 'conversation');
  if id is not null then
    return vendorhub.is_participant(id);
  end if;
  id := vendorhub.topic_id(topic, 'wedding');
  if id is not null then
    return vendorhub.can_see_wedding(id);
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

create function vendorhub.can_send_topic(topic text, extension text) returns boolean
  language plpgsql stable security definer set search_path = ''
as $$
declare
  id uuid;
begin
  if extension is null or extension not in ('broadcast', 'presence') then
    return false;
  end if;
  id := vendorhub.topic_id(topic, 'conversation');
  if id is not null then
    return vendorhub.is_participant(id);
  end if;
  id := vendorhub.topic_id(topic, 'user');
  if id is not null then
    return id = auth.uid();
  end if;
  if extension <> 'presence' then
    return false;
  end if;
  id := vendorhub.topic_id(topic, 'wedding');
  if id is not null then
    return vendorhub.can_see_wedding(id);
  end if;
  id := vendorhub.topic_id(topic, 'vendor');
  if id is not null then
    return vendorhub.is_vendor_member(id);
  end if;
  return false;
end
$$;

revoke execute on function vendorhub.topic_id(text, text), vendorhub.can_receive_topic(text),
  vendorhub.can_send_topic(text, text) from public, anon, authenticated;
grant execute on function vendorhub.topic_id(text, text), vendorhub.can_receive_topic(text),
  vendorhub.can_send_topic(text, text) to authenticated, service_role;

create policy "vendorhub: receive on private topics" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension in ('broadcast', 'presence')
    and realtime.messages.topic = (select realtime.topic())
    and (select vendorhub.can_receive_topic((select realtime.topic()))));

create policy "vendorhub: send on private topics" on realtime.messages
  for insert to authenticated
  with check (
    realtime.messages.topic = (select realtime.topic())
    and vendorhub.can_send_topic((select realtime.topic()), realtime.messages.extension));
