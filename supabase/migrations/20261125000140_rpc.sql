-- Functions for supabase-js rpc(). They run as the caller, under RLS (SECURITY INVOKER), except
-- register_device, which must move a token row another user owns (see there). All need a signed-in
-- user: anon cannot execute them, and each raises 42501 when auth.uid() is null.
-- Errors: 42501 not allowed (RLS or not signed in), 22023 invalid argument, 23514 a value outside
-- a closed vocabulary (domain or CHECK constraint), 23502 a required value missing.

-- send_message posts body to a conversation the caller takes part in and returns the new row.
-- reply_to must be a message of the same conversation.
create function public.send_message(conversation_id uuid, body text, reply_to uuid default null)
  returns public.messages
  language plpgsql security invoker set search_path = ''
as $$
declare
  m public.messages;
begin
  if auth.uid() is null then
    raise exception 'send_message: not signed in' using errcode = '42501';
  end if;
  insert into public.messages (conversation_id, body, reply_to, sender_id)
  values (send_message.conversation_id, send_message.body, send_message.reply_to, auth.uid())
  returning * into m;
  return m;
end
$$;
comment on function public.send_message(uuid, text, uuid) is
  'Post a message as the signed-in user. Not a participant: 42501. Body must be 1–10000 characters, not blank.';

-- mark_conversation_read moves the caller's read marker to now (never backwards) and returns it.
create function public.mark_conversation_read(conversation_id uuid)
  returns timestamptz
  language plpgsql security invoker set search_path = ''
as $$
declare
  read_at timestamptz;
begin
  if auth.uid() is null then
    raise exception 'mark_conversation_read: not signed in' using errcode = '42501';
  end if;
  update public.conversation_participants p
     set last_read_at = greatest(coalesce(p.last_read_at, '-infinity'::timestamptz), now())
   where p.conversation_id = mark_conversation_read.conversation_id
     and p.user_id = auth.uid()
  returning p.last_read_at into read_at;
  if not found then
    raise exception 'mark_conversation_read: not a participant of conversation %', mark_conversation_read.conversation_id
      using errcode = '42501';
  end if;
  return read_at;
end
$$;

-- set_notification_preferences upserts the caller's switches from a JSON array of
-- {"category": …, "channel": …, "enabled": true|false} and returns all of the caller's rows.
-- A malformed element is refused with its position; nothing is written unless all are valid.
create function public.set_notification_preferences(prefs jsonb)
  returns setof public.notification_preferences
  language plpgsql security invoker set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  elem jsonb;
  pos integer := 0;
begin
  if uid is null then
    raise exception 'set_notification_preferences: not signed in' using errcode = '42501';
  end if;
  if prefs is null or jsonb_typeof(prefs) <> 'array' then
    raise exception 'set_notification_preferences: prefs must be a JSON array of {category, channel, enabled}'
      using errcode = '22023';
  end if;
  for elem in select e from jsonb_array_elements(prefs) as a(e) loop
    pos := pos + 1;
    if jsonb_typeof(elem) <> 'object'
       or jsonb_typeof(elem -> 'category') is distinct from 'string'
       or jsonb_typeof(elem -> 'channel') is distinct from 'string'
       or jsonb_typeof(elem -> 'enabled') is distinct from 'boolean' then
      raise exception 'set_notification_preferences: element % must be {"category": string, "channel": string, "enabled": boolean}', pos
        using errcode = '22023';
    end if;
  end loop;

  -- The domains reject unknown categories and channels (23514), naming the domain.
  insert into public.notification_preferences as p (user_id, category, channel, enabled)
  select uid, (e ->> 'category')::public.notification_category, (e ->> 'channel')::public.notification_channel,
         (e ->> 'enabled')::boolean
  from jsonb_array_elements(prefs) as a(e)
  on conflict (user_id, category, channel) do update set enabled = excluded.enabled;

  return query
    select p.* from public.notification_preferences p where p.user_id = uid
    order by p.category, p.channel;
end
$$;

-- set_notification_settings sets the caller's time zone and quiet hours (both or neither; null
-- clears them) and returns the settings row. Contact addresses are edited on the table itself.
create function public.set_notification_settings(
  timezone text, quiet_hours_start time default null, quiet_hours_end time default null)
  returns public.notification_settings
  language plpgsql security invoker set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  s public.notification_settings;
begin
  if uid is null then
    raise exception 'set_notification_settings: not signed in' using errcode = '42501';
  end if;
  if (set_notification_settings.quiet_hours_start is null) <> (set_notification_settings.quiet_hours_end is null) then
    raise exception 'set_notification_settings: give both quiet_hours_start and quiet_hours_end, or neither'
      using errcode = '22023';
  end if;
  insert into public.notification_settings as ns (user_id, timezone, quiet_hours_start, quiet_hours_end)
  values (uid, set_notification_settings.timezone::public.iana_timezone,
          set_notification_settings.quiet_hours_start, set_notification_settings.quiet_hours_end)
  on conflict (user_id) do update
    set timezone = excluded.timezone,
        quiet_hours_start = excluded.quiet_hours_start,
        quiet_hours_end = excluded.quiet_hours_end
  returning * into s;
  return s;
end
$$;

-- register_device records a push token for the signed-in user (never for anyone else) and
-- returns the device row, enabled.
--
-- A token identifies one app install, and only that install can present it. When a token the
-- caller presents is registered to another user (someone else signed in on the same device
-- before), the row moves to the caller: pushes follow whoever is signed in, and the previous user
-- stops receiving them on that device. That update crosses RLS, so the function is SECURITY
-- DEFINER; it only ever writes user_id = auth.uid().
create function public.register_device(platform text, token text)
  returns public.devices
  language plpgsql security definer set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  d public.devices;
begin
  if uid is null then
    raise exception 'register_device: not signed in' using errcode = '42501';
  end if;
  if register_device.platform is null or register_device.platform not in ('ios', 'android', 'web') then
    raise exception 'register_device: platform must be ios, android or web'
      using errcode = '22023';
  end if;
  if not vendorhub.is_push_token(register_device.token) then
    raise exception 'register_device: token must be 32–4096 characters of A–Z, a–z, 0–9, "_", ":", ".", "-"'
      using errcode = '22023';
  end if;
  insert into public.devices as dv (user_id, platform, token, enabled, disabled_reason, last_seen_at)
  values (uid, register_device.platform, register_device.token, true, null, now())
  on conflict on constraint devices_token_key do update
    set user_id = excluded.user_id,
        platform = excluded.platform,
        enabled = true,
        disabled_reason = null,
        last_seen_at = now()
  returning * into d;
  return d;
end
$$;

revoke execute on function
  public.send_message(uuid, text, uuid), public.mark_conversation_read(uuid),
  public.set_notification_preferences(jsonb), public.set_notification_settings(text, time, time),
  public.register_device(text, text)
  from public, anon;
grant execute on function
  public.send_message(uuid, text, uuid), public.mark_conversation_read(uuid),
  public.set_notification_preferences(jsonb), public.set_notification_settings(text, time, time),
  public.register_device(text, text)
  to authenticated, service_role;
