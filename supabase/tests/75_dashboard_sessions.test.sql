-- Operator dashboard sessions (migration 20261207000300_dashboard_sessions.sql): private to
-- the sidecar, ids stored as 32-byte hashes, operator-token sessions carry the token's hash.
begin;
select plan(9);

select has_table('vendorhub', 'dashboard_sessions', 'vendorhub.dashboard_sessions exists');
select ok((select relrowsecurity from pg_class where oid = 'vendorhub.dashboard_sessions'::regclass), 'sessions have RLS');
select ok(not has_table_privilege('authenticated', 'vendorhub.dashboard_sessions', 'select'), 'users cannot read sessions');
select ok(not has_table_privilege('anon', 'vendorhub.dashboard_sessions', 'insert'), 'anon cannot open sessions');
select ok(has_table_privilege('service_role', 'vendorhub.dashboard_sessions', 'delete'), 'service_role deletes sessions (logout, pruning)');
select ok(not has_table_privilege('service_role', 'vendorhub.dashboard_sessions', 'update'), 'a session is never extended in place');

select throws_ok($$ insert into vendorhub.dashboard_sessions (id_hash, operator, method, expires_at)
  values ('\x00'::bytea, 'x', 'jwt', now() + interval '1 hour') $$, '23514', null, 'an id hash is 32 bytes');
select throws_ok($$ insert into vendorhub.dashboard_sessions (id_hash, operator, method, expires_at)
  values (sha256('a'), 'operator token', 'operator_token', now() + interval '1 hour') $$, '23514', null,
  'an operator-token session carries the token hash');
select lives_ok($$ insert into vendorhub.dashboard_sessions (id_hash, operator, method, credential_hash, expires_at)
  values (sha256('b'), 'operator token', 'operator_token', sha256('tok'), now() + interval '12 hours') $$,
  'a well-formed session is stored');

select * from finish();
rollback;
