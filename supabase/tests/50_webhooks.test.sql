-- Webhooks in and out, encryption keys (migration 20261125000500_webhooks_credentials.sql):
-- who may manage endpoints and read deliveries, what stays private, the retired-key guard, the
-- batched ingest function and replay.
begin;
\ir fixtures/world.psql
select plan(42);

insert into tests.ids (name, id) values
  ('EP1', 'fe000000-0000-4000-8000-000000000001'),
  ('EPOUT', 'fe000000-0000-4000-8000-000000000002'),
  ('WD1', 'fe100000-0000-4000-8000-000000000001'),
  ('WD2', 'fe100000-0000-4000-8000-000000000002');
insert into public.webhook_endpoints (id, vendor_id, url, event_types) values
  (tests.id('EP1'), tests.id('V1'), 'https://hooks.fixture.example.com/v1', '{vendor.status_changed}'),
  (tests.id('EPOUT'), tests.id('VOUT'), 'https://hooks.elsewhere.example.com/in', '{}');
insert into public.webhook_deliveries (id, endpoint_id, vendor_id, event_key, event_id, event_type, occurred_at, message_id, body, status) values
  (tests.id('WD1'), tests.id('EP1'), tests.id('V1'), '16b3748/0', gen_random_uuid(), 'vendor.status_changed', now() - interval '1 hour', 'msg_16b3748_0', '{}', 'failed'),
  (tests.id('WD2'), tests.id('EP1'), tests.id('V1'), '16b3749/0', gen_random_uuid(), 'vendor.status_changed', now() - interval '3 days', 'msg_16b3749_0', '{}', 'failed');
insert into public.webhook_delivery_attempts (delivery_id, endpoint_id, vendor_id, attempt, status_code, outcome) values
  (tests.id('WD1'), tests.id('EP1'), tests.id('V1'), 1, 500, 'failed');

-- RLS everywhere ------------------------------------------------------------------------------------
select ok((select relrowsecurity from pg_class where oid = t::regclass), 'RLS on ' || t)
from unnest(array['public.webhook_endpoints', 'public.webhook_deliveries', 'public.webhook_delivery_attempts',
  'vendorhub.encryption_keys', 'vendorhub.webhook_endpoint_secrets', 'vendorhub.webhook_rate_windows']) as t;

-- Endpoints: the vendor's members manage them, nobody else sees them -------------------------------
select is(tests.probe('VENDOR', 'select', $$ select 1 from public.webhook_endpoints where id = {EP1} $$), 'Y',
  'a vendor member sees the vendor''s endpoint');
select is(tests.probe('OUTSIDER', 'select', $$ select 1 from public.webhook_endpoints where id = {EP1} $$), 'N',
  'another vendor''s member does not');
select is(tests.probe('anon', 'select', $$ select 1 from public.webhook_endpoints $$), 'N', 'anon sees no endpoint');
select is(tests.probe('VENDOR', 'insert', $$ insert into public.webhook_endpoints (vendor_id, url, event_types)
  values ({V1}, 'https://hooks.fixture.example.com/two', '{booking.updated}') $$), 'Y', 'a member adds an endpoint');
select is(tests.probe('OUTSIDER', 'insert', $$ insert into public.webhook_endpoints (vendor_id, url)
  values ({V1}, 'https://attacker.example.com/') $$), 'N', 'nobody adds an endpoint to another vendor');
select is(tests.probe('VENDOR', 'update', $$ update public.webhook_endpoints set url = 'https://hooks.fixture.example.com/v2' where id = {EP1} $$), 'Y',
  'a member changes the URL');
select is(tests.probe('OUTSIDER', 'update', $$ update public.webhook_endpoints set url = 'https://attacker.example.com/' where id = {EP1} $$), 'N',
  'nobody redirects another vendor''s endpoint');
select is(tests.probe('VENDOR', 'update', $$ update public.webhook_endpoints set failing_since = null, disabled_reason = null where id = {EP1} $$), 'N',
  'delivery state is the sidecar''s (column privileges)');
select is(tests.probe('OUTSIDER', 'delete', $$ delete from public.webhook_endpoints where id = {EP1} $$), 'N',
  'nobody deletes another vendor''s endpoint');
select is(tests.probe('VENDOR', 'delete', $$ delete from public.webhook_endpoints where id = {EP1} $$), 'Y',
  'a member deletes the vendor''s endpoint');
select throws_ok($$ insert into public.webhook_endpoints (vendor_id, url, event_types) values (tests.id('V1'), 'https://x.example.com', '{task.updated}') $$,
  '23514', null, 'only outbound event types can be chosen');
select throws_ok($$ insert into public.webhook_endpoints (vendor_id, url) values (tests.id('V1'), 'ftp://x.example.com') $$,
  '23514', null, 'endpoints are http(s) URLs');

-- Deliveries and attempts: visible per endpoint to the vendor's members, written by the sidecar -----
select is(tests.probe('VENDOR', 'select', $$ select 1 from public.webhook_deliveries where endpoint_id = {EP1} $$), 'Y',
  'a member sees the endpoint''s deliveries');
select is(tests.probe('VENDOR', 'select', $$ select 1 from public.webhook_delivery_attempts where endpoint_id = {EP1} $$), 'Y',
  'a member sees the endpoint''s attempts');
select is(tests.probe('OUTSIDER', 'select', $$ select 1 from public.webhook_deliveries where endpoint_id = {EP1} $$), 'N',
  'another vendor''s member does not see them');
select is(tests.probe('OUTSIDER', 'select', $$ select 1 from public.webhook_delivery_attempts $$), 'N',
  'nor any attempt');
select is(tests.probe('VENDOR', 'insert', $$ insert into public.webhook_deliveries (endpoint_id, vendor_id, event_key, event_id, event_type, occurred_at, message_id, body)
  values ({EP1}, {V1}, 'ab/1', gen_random_uuid(), 'vendor.status_changed', now(), 'msg_ab_1', '{}') $$), 'N',
  'members cannot forge deliveries');
select is(tests.probe('VENDOR', 'update', $$ update public.webhook_deliveries set status = 'succeeded' where id = {WD1} $$), 'N',
  'members cannot rewrite delivery status');

-- Secrets and keys stay private ---------------------------------------------------------------------
select is(tests.probe('VENDOR', 'select', $$ select 1 from vendorhub.webhook_endpoint_secrets $$), 'N', 'endpoint secrets are unreadable by users');
select is(tests.probe('VENDOR', 'select', $$ select 1 from vendorhub.encryption_keys $$), 'N', 'key registry is unreadable by users');
select is(tests.probe('anon', 'select', $$ select 1 from vendorhub.integration_credentials $$), 'N', 'credentials are unreadable by anon');
select ok(has_table_privilege('service_role', 'vendorhub.webhook_endpoint_secrets', 'select'), 'service_role reads endpoint secrets');
select ok(not has_table_privilege('service_role', 'vendorhub.encryption_keys', 'delete'), 'key ids are never deleted');

-- A retired key takes no new writes ------------------------------------------------------------------
insert into vendorhub.encryption_keys (key_id, check_value, retired_at) values ('old-key', decode(repeat('11', 16), 'hex'), now());
select throws_ok($$ update vendorhub.integration_credentials set key_id = 'old-key' where connection_id = tests.id('IC1') $$,
  'VHK01', null, 'a write under a retired key is refused');
select throws_ok($$ insert into vendorhub.integration_credentials (connection_id, key_id, ciphertext)
  values (tests.id('IC2'), 'never-registered', decode(repeat('ab', 40), 'hex')) $$,
  '23503', null, 'a write under an unregistered key id is refused');

-- Ingest: stored once, duplicates absorbed; shared per-second counters --------------------------------
create temp table store_out as
select * from vendorhub.webhook_store(
  array['standard', 'standard', 'standard'], array[tests.id('IC1'), tests.id('IC1'), tests.id('IC1')],
  array['evt-a', 'evt-a', 'fixture-evt-1'], array['{}', '{}', '{}']::jsonb[], array['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
select results_eq($$ select ord, outcome, inbox_id is not null from store_out order by ord $$,
  $$ values (1, 'stored', true), (2, 'duplicate', false), (3, 'stored', true) $$,
  'first of an id stored, repeats in the batch are duplicates (another source''s id is independent)');
select is((select count(*)::integer from vendorhub.webhook_inbox where source = 'standard'), 2, 'two inbox rows');
select results_eq($$ select outcome from vendorhub.webhook_store(array['standard'], array[tests.id('IC1')], array['evt-a'],
    array['{}']::jsonb[], array['{"n": 4}']::jsonb[]) $$,
  $$ values ('duplicate') $$, 'a later duplicate stores nothing');
select results_eq($$ select key, hits from vendorhub.webhook_rate_hit(array['ip:192.0.2.1', 'conn:a', 'ip:192.0.2.1'], array[2, 1, 1]) order by key $$,
  $$ values ('conn:a', 1), ('ip:192.0.2.1', 3) $$, 'hits are summed per key');
select results_eq($$ select key, hits from vendorhub.webhook_rate_hit(array['conn:a'], array[5]) $$,
  $$ values ('conn:a', 6) $$, 'and accumulate within the second');

-- The edge function's insert is service_role only ---------------------------------------------------
select is(tests.probe('VENDOR', 'select', $$ select public.webhook_inbox_insert('standard', 'x', '{}') $$), 'N',
  'users cannot call webhook_inbox_insert');

-- Replay --------------------------------------------------------------------------------------------
-- (Probes run in rolled-back subtransactions: EP1 and its deliveries are still there.)
select tests.act_as('OUTSIDER');
select throws_ok($$ select public.replay_webhook_deliveries(tests.id('EP1'), now() - interval '2 hours') $$, 'P0002', null,
  'another vendor''s member cannot replay the endpoint');
select tests.act_as('VENDOR');
select is(public.replay_webhook_deliveries(tests.id('EP1'), now() - interval '2 hours'), 1,
  'a member replays the failed deliveries of a time range (one of two)');
select tests.act_as_tester();
select is((select count(*)::integer from river.river_job where kind = 'webhook_delivery' and args ->> 'delivery_id' = tests.id('WD1')::text), 1,
  'replay queued a delivery job');
update public.webhook_endpoints set enabled = false, disabled_at = now(), disabled_reason = 'endpoint answered 410 Gone' where id = tests.id('EP1');
select throws_ok($$ select public.replay_webhook_deliveries(tests.id('EP1'), now() - interval '5 days') $$, '55000', null,
  'a disabled endpoint is not replayed');
update public.webhook_endpoints set enabled = true where id = tests.id('EP1');
select is((select disabled_at is null and disabled_reason is null from public.webhook_endpoints where id = tests.id('EP1')), true,
  're-enabling an endpoint clears its disabled state');

select * from finish();
rollback;
