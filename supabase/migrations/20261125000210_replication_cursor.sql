-- Replication cursor: the durable copy of the sidecar's acknowledgement frontier, one row
-- per replication slot. The hand-off writes it in the same transaction as the River jobs of
-- the source transactions it covers, always as GREATEST(stored, proposed), and the sidecar
-- acknowledges to Postgres only values already committed here, so
-- pg_replication_slots.confirmed_flush_lsn <= lsn holds at every instant. The sidecar
-- starts replication at this position (never at IDENTIFY_SYSTEM's XLogPos).
--
-- Private to the sidecar: RLS enabled with no policy, no privilege for the API roles, and
-- never part of a publication (that would feed the sidecar's own writes back to it).

create schema if not exists vendorhub;

create table vendorhub.replication_cursor (
  slot_name  text primary key check (slot_name ~ '^[a-z0-9_]{1,63}$'),
  lsn        pg_lsn not null,
  updated_at timestamptz not null default now(),
  updated_by text not null default ''
);

comment on table vendorhub.replication_cursor is
  'Per replication slot: TransactionEndLSN up to which every source transaction''s durable hand-off has committed.';

alter table vendorhub.replication_cursor enable row level security;

do $$
declare r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if exists (select 1 from pg_roles where rolname = r) then
      execute format('revoke all on vendorhub.replication_cursor from %I', r);
    end if;
  end loop;
end $$;
revoke all on vendorhub.replication_cursor from public;
