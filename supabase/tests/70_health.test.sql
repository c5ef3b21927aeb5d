-- Health and operations (migration 20261125000700_health.sql): critical tasks, the
-- private breaker history and health samples, and who the operators are.
begin;
select plan(17);

-- Critical (day-of) tasks ------------------------------------------------------------------------
select has_column('public', 'tasks', 'critical', 'tasks have a critical flag');
select col_not_null('public', 'tasks', 'critical', 'critical is never null');
select col_default_is('public', 'tasks', 'critical', 'false', 'tasks are not critical by default');
select ok(pg_get_triggerdef(t.oid) ~ 'new\.critical', 'marking a task critical fires task.updated')
from pg_trigger t where t.tgrelid = 'public.tasks'::regclass and t.tgname = 'emit_task_updated_update';
select ok(pg_get_functiondef('vendorhub.emit_task_updated()'::regprocedure) ~ '''critical'', r\.critical',
  'task.updated data carries critical');

-- Private tables: RLS on, nothing for the API roles --------------------------------------------
select ok((select relrowsecurity from pg_class where oid = 'vendorhub.breaker_transitions'::regclass), 'breaker history has RLS');
select ok((select relrowsecurity from pg_class where oid = 'vendorhub.health_samples'::regclass), 'health samples have RLS');
select ok(not has_table_privilege('authenticated', 'vendorhub.breaker_transitions', 'select'), 'users cannot read breaker history');
select ok(not has_table_privilege('anon', 'vendorhub.health_samples', 'select'), 'anon cannot read health samples');
select ok(has_table_privilege('service_role', 'vendorhub.breaker_transitions', 'select'), 'service_role reads breaker history');
select ok(not has_table_privilege('service_role', 'vendorhub.breaker_transitions', 'insert'), 'only the sidecar writes it');

-- Breaker history constraints ---------------------------------------------------------------------
select throws_ok($$ insert into vendorhub.breaker_transitions (instance, breaker, from_state, to_state, event_id)
  values ('a', 'provider:fcm', 'open', 'open', gen_random_uuid()) $$, '23514', null, 'a transition changes the state');
select throws_ok($$ insert into vendorhub.breaker_transitions (instance, breaker, from_state, to_state, event_id)
  values ('a', 'provider:fcm', 'closed', 'broken', gen_random_uuid()) $$, '23514', null, 'states are closed, half-open, open');
select throws_ok($$ insert into vendorhub.breaker_transitions (instance, breaker, from_state, to_state, event_id)
  values ('a', 'fcm; drop table x', 'closed', 'open', gen_random_uuid()) $$, '23514', null, 'breaker names are provider:… or connection:…');

-- Operators ------------------------------------------------------------------------------------------
insert into auth.users (id, aud, role, email, raw_app_meta_data) values
  ('90000000-0000-4000-8000-000000000001', 'authenticated', 'authenticated', 'ops@vendorhub.test', '{"role": "operator"}'),
  ('90000000-0000-4000-8000-000000000002', 'authenticated', 'authenticated', 'user@vendorhub.test', '{"provider": "email"}');
select is(array(select vendorhub.operator_ids()), array['90000000-0000-4000-8000-000000000001'::uuid],
  'operators are the users whose app_metadata.role is operator');
select ok(not has_function_privilege('authenticated', 'vendorhub.operator_ids()', 'execute'), 'users cannot list operators');
select ok(has_function_privilege('service_role', 'vendorhub.operator_ids()', 'execute'), 'service_role lists operators');

select * from finish();
rollback;
