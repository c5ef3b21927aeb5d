-- Plain-Postgres shim of the Supabase objects vendorhub's migrations rely on.
--
-- Used by `vendorhub dev` and the tests only; never by a real Supabase project. Every object is
-- created only where it is missing, so on a Supabase database this file changes nothing, and it
-- can run any number of times. Definitions follow Supabase's own (see
-- docs/realtime.md §7 and §12):
--   roles        supabase/postgres migrations/db/init-scripts/00000000000000-initial-schema.sql
--   auth.*       supabase/auth migrations/20240624145325_recreate_auth_functions.up.sql
--   realtime.*   supabase/realtime migrations 20240523004032, 20240919163303, 20241108114728
-- Differences from Supabase, on purpose: realtime.messages is not partitioned (a plain table with
-- the same columns and key), auth.users carries only the columns GoTrue's seed scripts commonly set.

-- Roles are cluster-wide: create each one only if it is missing.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
    alter role anon set statement_timeout = '3s';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
    alter role authenticated set statement_timeout = '8s';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  -- PostgREST and Realtime switch from authenticator to the request's role.
  if not pg_has_role('authenticator', 'anon', 'member') then
    grant anon to authenticator;
  end if;
  if not pg_has_role('authenticator', 'authenticated', 'member') then
    grant authenticated to authenticator;
  end if;
  if not pg_has_role('authenticator', 'service_role', 'member') then
    grant service_role to authenticator;
  end if;
end
$$;

-- Per-database Supabase defaults, applied where the extensions schema is missing (a plain
-- Postgres database).
do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'extensions') then
    create schema extensions;
    create extension if not exists pgcrypto with schema extensions;
    grant usage on schema public, extensions to postgres, anon, authenticated, service_role;

    -- Supabase grants everything in public to the API roles; RLS is what restricts them.
    alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
    alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
    alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;
    alter default privileges in schema extensions grant all on tables to postgres, anon, authenticated, service_role;
    alter default privileges in schema extensions grant all on functions to postgres, anon, authenticated, service_role;
    alter default privileges in schema extensions grant all on sequences to postgres, anon, authenticated, service_role;
  end if;
end
$$;

-- auth: the users table (minimal, Supabase-shaped) and the claim helpers in the coalesce form
-- that works with PostgREST ≤ 8 (per-claim settings) and ≥ 9 (request.jwt.claims JSON).
do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'auth') then
    create schema auth;
    grant usage on schema auth to anon, authenticated, service_role;
  end if;
end
$$;

do $$
begin
  if to_regclass('auth.users') is not null then
    return;
  end if;
  create table auth.users (
    instance_id uuid,
    id uuid not null primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    recovery_token varchar(255),
    email_change_token_new varchar(255),
    email_change varchar(255),
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text unique default null,
    phone_confirmed_at timestamptz,
    banned_until timestamptz,
    deleted_at timestamptz,
    is_sso_user boolean not null default false,
    is_anonymous boolean not null default false
  );
end
$$;

do $$
begin
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
      language sql stable set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $f$;
    comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
      language sql stable set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $f$;
    comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';
  end if;
  if to_regprocedure('auth.email()') is null then
    create function auth.email() returns text
      language sql stable set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
      )::text
    $f$;
    comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';
  end if;
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
      language sql stable set search_path = ''
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $f$;
  end if;
end
$$;

-- realtime: the authorization table that Realtime's join probe and private-channel policies
-- use, realtime.topic(), and realtime.send() (Broadcast from Database).
do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'realtime') then
    create schema realtime;
    grant usage on schema realtime to postgres, anon, authenticated, service_role;
  end if;
end
$$;

do $$
begin
  if to_regclass('realtime.messages') is null then
    create table realtime.messages (
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
    );
    alter table realtime.messages enable row level security;
    grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
  end if;
  -- Realtime's replay index (migration 20250905041441_create_messages_replay_index).
  create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
    where extension = 'broadcast' and private is true;
end
$$;

do $$
begin
  if to_regprocedure('realtime.topic()') is null then
    create function realtime.topic() returns text
      language sql stable
    as $f$
      select nullif(current_setting('realtime.topic', true), '')::text;
    $f$;
  end if;
  if to_regprocedure('realtime.send(jsonb, text, text, boolean)') is null then
    create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
      returns void
      language plpgsql
    as $f$
    declare
      generated_id uuid;
      final_payload jsonb;
    begin
      begin
        generated_id := gen_random_uuid();
        if payload ? 'id' then
          final_payload := payload;
        else
          final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
        end if;
        -- Set the topic setting so that policies evaluated for this insert can read it.
        perform set_config('realtime.topic', topic, true);
        insert into realtime.messages (id, payload, event, topic, private, extension)
        values (generated_id, final_payload, event, topic, private, 'broadcast');
      exception
        when others then
          -- Like Supabase: a failed send never aborts the caller's transaction.
          raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
      end;
    end;
    $f$;
  end if;
end
$$;

-- The publication Supabase creates (empty) for Postgres Changes.
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
