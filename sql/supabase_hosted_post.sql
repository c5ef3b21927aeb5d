-- Supabase-shaped test database, part 2 of 2: after sql/supabase_shim.sql, as supabase_admin.
-- Hands the platform objects to their Supabase owners, grants postgres what Supabase grants it,
-- and demotes postgres. Facts and their sources: docs/supabase.md.

-- Default privileges for objects postgres creates in public (Supabase's init scripts ran as
-- postgres; the shim, run here as supabase_admin, set the same for supabase_admin).
alter default privileges for role postgres in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter schema extensions owner to postgres;
alter publication supabase_realtime owner to postgres;

-- auth: tables and functions owned by supabase_auth_admin; postgres gets ALL on all of it.
do $$
declare
  r record;
begin
  for r in select c.oid::regclass as rel from pg_class c
           where c.relnamespace = 'auth'::regnamespace and c.relkind in ('r', 'p', 'S', 'v')
  loop
    execute format('alter table %s owner to supabase_auth_admin', r.rel);
  end loop;
  for r in select p.oid::regprocedure as fn from pg_proc p where p.pronamespace = 'auth'::regnamespace
  loop
    execute format('alter function %s owner to supabase_auth_admin', r.fn);
  end loop;
end
$$;
grant all privileges on schema auth to supabase_auth_admin;
grant usage on schema auth to anon, authenticated, service_role;
grant all on schema auth to postgres;
grant all on all tables in schema auth to postgres;
grant all on all sequences in schema auth to postgres;
grant all on all routines in schema auth to postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on tables to postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on sequences to postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on routines to postgres;
grant all on schema extensions to postgres;
grant all on all tables in schema extensions to postgres;
grant all on all sequences in schema extensions to postgres;
grant all on all routines in schema extensions to postgres;

-- realtime: messages, topic() and send() owned by supabase_realtime_admin.
grant all privileges on schema realtime to supabase_realtime_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
alter table realtime.messages owner to supabase_realtime_admin;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;

-- API roles: INHERIT since supabase/postgres 20230529180330 (they have no memberships anyway).
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;

-- postgres: memberships, then the demotion (supabase/postgres 10000000000000_demote-postgres).
grant anon, authenticated, service_role to postgres;
grant supabase_auth_admin, supabase_storage_admin, supabase_realtime_admin to postgres;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;
alter role postgres set search_path to "$user", public, extensions;
alter role postgres nosuperuser createdb createrole login replication bypassrls;
