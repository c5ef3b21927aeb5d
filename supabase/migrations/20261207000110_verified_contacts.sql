-- Verified contact addresses: an email address or phone number a user typed into
-- notification_settings is used for email/SMS only once it is verified.
--
-- email_verified_at / phone_verified_at (no API role may write them) are set:
--   * when a user writes an address equal to their own CONFIRMED auth.users address
--     (email_confirmed_at / phone_confirmed_at set by Supabase Auth): verified at once;
--   * by the server (service_role: the planning backend after its own verification flow, or the
--     owner running migrations and seed data): an address the server writes is trusted and
--     verified when written, unless it sets the column itself;
--   * and cleared whenever the address changes through an API role to anything else.
-- The planner (internal/notify, recipients.go) and the delivery workers (internal/deliver) read
-- an address only when its *_verified_at is set, so nobody can make the hub email or text a
-- third party's address by typing it into their own settings.

alter table public.notification_settings
  add column email_verified_at timestamptz,
  add column phone_verified_at timestamptz;
comment on column public.notification_settings.email_verified_at is
  'When email was verified (equal to the confirmed auth.users email, or written by the server). Email is sent only to verified addresses.';
comment on column public.notification_settings.phone_verified_at is
  'When phone was verified (equal to the confirmed auth.users phone, or written by the server). SMS go only to verified numbers.';

-- Whether value is usr's confirmed auth.users email (kind 'email') or phone (kind 'phone').
-- SECURITY DEFINER: API roles cannot read auth.users.
create function vendorhub.auth_contact_confirmed(usr uuid, kind text, value text) returns boolean
  language sql stable security definer set search_path = ''
as $$
  select exists (
    select 1 from auth.users u
    where u.id = usr
      and case kind
            when 'email' then u.email_confirmed_at is not null and lower(u.email) = lower(value)
            when 'phone' then u.phone_confirmed_at is not null
                              and ltrim(u.phone, '+') = ltrim(value, '+')
            else false
          end)
$$;

-- Writes through an API role: an address counts as verified only when it is the user's
-- confirmed auth.users address. The trigger's WHEN clause is evaluated as the writing role.
-- SECURITY DEFINER: API roles have no USAGE on schema vendorhub.
create function vendorhub.notification_settings_verify_api() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  if tg_op = 'INSERT' or new.email is distinct from old.email then
    new.email_verified_at := case
      when new.email is not null and vendorhub.auth_contact_confirmed(new.user_id, 'email', new.email) then now() end;
  end if;
  if tg_op = 'INSERT' or new.phone is distinct from old.phone then
    new.phone_verified_at := case
      when new.phone is not null and vendorhub.auth_contact_confirmed(new.user_id, 'phone', new.phone) then now() end;
  end if;
  return new;
end
$$;
create trigger notification_settings_verify_api before insert or update on public.notification_settings
  for each row when (current_user in ('anon', 'authenticated'))
  execute function vendorhub.notification_settings_verify_api();

-- Writes by the server: an address it writes is verified when written, unless the same write
-- sets *_verified_at itself; a removed address is unverified.
create function vendorhub.notification_settings_verify_server() returns trigger
  language plpgsql set search_path = ''
as $$
begin
  if tg_op = 'INSERT' or new.email is distinct from old.email then
    new.email_verified_at := case
      when new.email is null then null
      when tg_op = 'INSERT' then coalesce(new.email_verified_at, now())
      when new.email_verified_at is distinct from old.email_verified_at then new.email_verified_at
      else now()
    end;
  end if;
  if tg_op = 'INSERT' or new.phone is distinct from old.phone then
    new.phone_verified_at := case
      when new.phone is null then null
      when tg_op = 'INSERT' then coalesce(new.phone_verified_at, now())
      when new.phone_verified_at is distinct from old.phone_verified_at then new.phone_verified_at
      else now()
    end;
  end if;
  return new;
end
$$;
create trigger notification_settings_verify_server before insert or update on public.notification_settings
  for each row when (current_user not in ('anon', 'authenticated'))
  execute function vendorhub.notification_settings_verify_server();

-- Addresses stored before this migration were written without verification: keep those equal to
-- the confirmed auth.users address, drop the rest to unverified.
update public.notification_settings s
   set email_verified_at = case when vendorhub.auth_contact_confirmed(s.user_id, 'email', s.email) then now() end,
       phone_verified_at = case when vendorhub.auth_contact_confirmed(s.user_id, 'phone', s.phone) then now() end
 where s.email is not null or s.phone is not null;

revoke execute on function vendorhub.notification_settings_verify_api(), vendorhub.notification_settings_verify_server()
  from public, anon, authenticated;
-- Only the SECURITY DEFINER trigger calls it: no API role may probe who owns an address.
revoke execute on function vendorhub.auth_contact_confirmed(uuid, text, text) from public, anon, authenticated;
