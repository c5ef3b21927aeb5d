-- Supabase-shaped test database, part 1 of 2 (internal/pgtest, "shaped" mode only; never used by
-- `vendorhub dev` or a real project). Run as the bootstrap superuser supabase_admin in a fresh
-- database owned by postgres, before sql/supabase_shim.sql; part 2 (supabase_hosted_post.sql)
-- runs after the shim. Facts and their sources: docs/supabase.md.
--
-- This part creates what the shim would otherwise create in its plain-Postgres form: the service
-- roles, the auth schema owned as on Supabase, and realtime.messages partitioned by range on
-- inserted_at (the shim then skips both and adds the rest).

do $$
begin
  -- On Supabase, postgres exists before the init scripts and is demoted afterwards (part 2).
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin noinherit createrole login noreplication;
    alter role supabase_auth_admin set search_path = auth;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_storage_admin') then
    create role supabase_storage_admin noinherit createrole login noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin noinherit nologin noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_replication_admin') then
    create role supabase_replication_admin login replication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_read_only_user') then
    create role supabase_read_only_user login bypassrls;
    grant pg_read_all_data to supabase_read_only_user;
  end if;
end
$$;

-- auth is created by supabase_admin; its objects are handed to supabase_auth_admin in part 2.
create schema if not exists auth authorization supabase_admin;

-- realtime: the schema the Realtime service migrates, and messages as it has been since its
-- partitioning migration (same columns and key as the shim's plain table).
create schema if not exists realtime;
create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  binary_payload bytea,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  id uuid not null default gen_random_uuid(),
  constraint messages_pkey primary key (id, inserted_at),
  constraint messages_payload_exclusive check (payload is null or binary_payload is null)
) partition by range (inserted_at);
alter table realtime.messages enable row level security;
