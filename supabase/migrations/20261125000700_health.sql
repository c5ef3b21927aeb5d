-- Health, operations and the dashboard: circuit breaker
-- history, health samples for the lag chart and the integration report, and who the operators
-- are. Everything new is private to the sidecar (schema vendorhub, RLS on, no API grants).

-- Critical (day-of) tasks: public.tasks.critical and its task.updated data are declared in
-- 20261125000100_foundation_schema.sql and 20261125000130_events.sql.

-- ---------------------------------------------------------------------------------------------
-- Operators
-- ---------------------------------------------------------------------------------------------

-- Operators are the auth users whose app_metadata.role is 'operator' (app_metadata is writable
-- by service_role only, so the claim cannot be self-assigned). They get the in-app alerts of
-- breaker changes and may open the dashboard with their Supabase JWT.
create function vendorhub.operator_ids() returns setof uuid
  language sql stable security definer set search_path = ''
as $$
  select u.id from auth.users u
  where u.raw_app_meta_data ->> 'role' = 'operator'
  order by u.id
$$;
revoke execute on function vendorhub.operator_ids() from public, anon, authenticated;
grant execute on function vendorhub.operator_ids() to service_role;

-- ---------------------------------------------------------------------------------------------
-- Circuit breaker history
-- ---------------------------------------------------------------------------------------------

-- One row per state change of a provider or connection circuit breaker, written in the same
-- transaction as its breaker.changed event, its audit row and its operator alerts. The report
-- computes each integration's uptime from it.
create table vendorhub.breaker_transitions (
  id uuid primary key default gen_random_uuid(), -- the breaker.changed event's subject id
  occurred_at timestamptz not null default now(),
  instance text not null check (char_length(instance) between 1 and 200), -- the sidecar that saw it
  breaker text not null check (breaker ~ '^[a-z_]+:[A-Za-z0-9_.:-]{1,100}$'), -- provider:fcm, connection:<uuid>
  from_state text not null check (from_state in ('closed', 'half-open', 'open')),
  to_state text not null check (to_state in ('closed', 'half-open', 'open')),
  consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
  last_error text check (char_length(last_error) <= 2000),
  event_id uuid not null unique, -- the breaker.changed event's id
  check (from_state <> to_state)
);
create index breaker_transitions_breaker_idx on vendorhub.breaker_transitions (breaker, occurred_at);
create index breaker_transitions_occurred_at_idx on vendorhub.breaker_transitions (occurred_at desc); -- dashboard
comment on table vendorhub.breaker_transitions is 'Circuit breaker state changes (closed → open → half-open → closed), per sidecar instance.';
alter table vendorhub.breaker_transitions enable row level security;
revoke all on vendorhub.breaker_transitions from public, anon, authenticated;
grant select on vendorhub.breaker_transitions to service_role;

-- ---------------------------------------------------------------------------------------------
-- Health samples
-- ---------------------------------------------------------------------------------------------

-- What the health monitor saw, every sample interval per instance: replication lag and slot
-- state (the dashboard's lag chart), River queue, gateway sockets, and a histogram of realtime
-- latency (commit → broadcast hand-off) over the interval, for the report's percentiles.
-- Pruned after the monitor's retention (7 days by default).
create table vendorhub.health_samples (
  id bigint generated always as identity primary key,
  sampled_at timestamptz not null default now(),
  instance text not null check (char_length(instance) between 1 and 200),
  lag_bytes bigint check (lag_bytes >= 0),
  lag_seconds double precision check (lag_seconds >= 0),
  retained_bytes bigint check (retained_bytes >= 0), -- WAL the slot holds on disk (restart_lsn → end)
  slot_active boolean,
  wal_status text check (wal_status in ('reserved', 'extended', 'unreserved', 'lost')),
  safe_wal_size bigint,
  queue_depth integer check (queue_depth >= 0),
  oldest_job_seconds double precision check (oldest_job_seconds >= 0),
  gateway_connections integer check (gateway_connections >= 0),
  -- Realtime latency histogram: counts per upper bound in milliseconds (internal/health
  -- LatencyBoundsMillis; the last count is above the last bound).
  realtime_latency_counts integer[] not null default '{}'
);
create index health_samples_sampled_at_idx on vendorhub.health_samples (sampled_at);
comment on table vendorhub.health_samples is 'Health monitor samples: lag, slot state, queue, sockets, realtime latency histogram.';
alter table vendorhub.health_samples enable row level security;
revoke all on vendorhub.health_samples from public, anon, authenticated;
grant select on vendorhub.health_samples to service_role;
