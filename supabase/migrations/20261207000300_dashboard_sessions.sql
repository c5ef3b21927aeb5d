-- Operator dashboard sessions: the dashboard cookie holds a random 256-bit session id, never a
-- token; the session lives here so every sidecar instance behind the load balancer honours it
-- and logout on one ends it on all. Private to the sidecar (schema vendorhub, RLS on, no API
-- grants). Expired rows are pruned by the dashboard (internal/dashboard, sessions.go).

create table vendorhub.dashboard_sessions (
  -- SHA-256 of the cookie's session id: a copy of this table opens no dashboard.
  id_hash bytea primary key check (octet_length(id_hash) = 32),
  -- who logged in: the JWT's email or subject, "service_role", or "operator token"
  operator text not null check (char_length(operator) between 1 and 320),
  method text not null check (method in ('operator_token', 'jwt', 'service_role')),
  -- SHA-256 of VENDORHUB_OPERATOR_TOKEN for method operator_token: rotating the token ends
  -- its sessions.
  credential_hash bytea check (octet_length(credential_hash) = 32),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  check (expires_at > created_at),
  check ((method = 'operator_token') = (credential_hash is not null))
);
create index dashboard_sessions_expires_at_idx on vendorhub.dashboard_sessions (expires_at);
comment on table vendorhub.dashboard_sessions is 'Operator dashboard sessions (opaque cookie id, stored hashed), shared by every sidecar instance.';
alter table vendorhub.dashboard_sessions enable row level security;
revoke all on vendorhub.dashboard_sessions from public, anon, authenticated;
grant select, insert, delete on vendorhub.dashboard_sessions to service_role;
