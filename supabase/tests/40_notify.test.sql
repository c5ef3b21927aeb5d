-- Notifications: device registration is for the caller only, and the planner's and
-- workers' own state (migration 20261125000400_notify.sql) stays private.
begin;
\ir fixtures/world.psql
select plan(24);

-- Device registration: only ever for the signed-in user ----------------------------------------------
select tests.act_as('OUTSIDER');
select is(
  (select user_id from public.register_device('web', 'outsider-token:APA91bOutsiderBrowser000001')),
  tests.id('OUTSIDER'), 'register_device registers for the caller');
select is(
  (select count(*)::integer from public.devices where user_id = tests.id('OUTSIDER')),
  1, 'the caller sees the device registered');
select is(tests.probe('OUTSIDER', 'insert', $$ insert into public.devices (user_id, platform, token)
  values ({COUPLE}, 'ios', 'forged-token:APA91bForgedForSomeoneElse0001') $$), 'N',
  'a user cannot insert a device for someone else');
select is(tests.probe('OUTSIDER', 'update', $$ update public.devices set user_id = {COUPLE}
  where token = 'outsider-token:APA91bOutsiderBrowser000001' $$), 'N',
  'a user cannot hand their device over to someone else');
select is(tests.probe('OUTSIDER', 'update', $$ update public.devices set user_id = {OUTSIDER} where id = {DEV1} $$), 'N',
  'a user cannot take someone else''s device row by id');
select is(tests.probe('OUTSIDER', 'select', $$ select 1 from public.devices where user_id = {PARTICIPANT} $$), 'N',
  'a user cannot see someone else''s devices');
select is(tests.probe('OUTSIDER', 'update', $$ update public.devices set enabled = false where id = {DEV1} $$), 'N',
  'a user cannot disable someone else''s device');
select tests.act_as('anon');
select throws_ok($$ select public.register_device('web', 'anon-token:APA91bAnonymousBrowser00001') $$, '42501', null,
  'anon cannot register a device');
select tests.act_as_tester();
select is((select count(*)::integer from public.devices where token like 'forged-token:%' or token like 'anon-token:%'), 0,
  'refused registrations left nothing behind');
select is((select user_id from public.devices where id = tests.id('DEV1')), tests.id('PARTICIPANT'),
  'the participant still owns their device');

-- Deliveries: a user sees only their own ------------------------------------------------------------
select is(tests.probe('PARTICIPANT', 'select', $$ select 1 from public.deliveries where id = {D1} $$), 'Y',
  'a user reads their own delivery attempts');
select is(tests.probe('COUPLE', 'select', $$ select 1 from public.deliveries where id = {D1} $$), 'N',
  'a user cannot read someone else''s delivery attempts');

-- Planner and worker state is private ---------------------------------------------------------------
select ok((select relrowsecurity from pg_class where oid = 'vendorhub.dev_mailbox'::regclass), 'RLS on vendorhub.dev_mailbox');
select ok((select relrowsecurity from pg_class where oid = 'vendorhub.notify_threads'::regclass), 'RLS on vendorhub.notify_threads');
select is(tests.probe('COUPLE', 'select', $$ select 1 from vendorhub.dev_mailbox $$), 'N', 'users cannot read the dev mailbox');
select is(tests.probe('anon', 'select', $$ select 1 from vendorhub.notify_threads $$), 'N', 'anon cannot read thread state');
select ok(not has_table_privilege('authenticated', 'vendorhub.dev_mailbox', 'insert'), 'users cannot write the dev mailbox');
select ok(has_table_privilege('service_role', 'vendorhub.dev_mailbox', 'select'), 'service_role (dashboard) reads the dev mailbox');

-- Schema additions ----------------------------------------------------------------------------------
insert into public.notifications (user_id, category, title, event_key)
  values (tests.id('PARTICIPANT'), 'conflict', 'Booking conflict', 'f00/2');
select pass('conflict is a notification category');
select throws_ok($$ insert into public.deliveries (notification_id, user_id, channel, provider, status, attempt)
  values (tests.id('N1'), tests.id('PARTICIPANT'), 'push', 'fcm', 'sent', 1) $$, '23505', null,
  'one deliveries row per notification, channel and attempt');
update public.notification_settings set phone = '+447700900123', phone_invalid_at = now() where user_id = tests.id('PARTICIPANT');
update public.notification_settings set phone = '+447700900124' where user_id = tests.id('PARTICIPANT');
select is((select phone_invalid_at from public.notification_settings where user_id = tests.id('PARTICIPANT')), null,
  'a new phone number clears the invalid-number mark');
select ok(vendorhub.delivery_status_rank('opened') > vendorhub.delivery_status_rank('delivered')
      and vendorhub.delivery_status_rank('delivered') > vendorhub.delivery_status_rank('sent')
      and vendorhub.delivery_status_rank('sent') > vendorhub.delivery_status_rank('queued'),
  'status callbacks only move a delivery forward');
select ok(vendorhub.delivery_status_rank('failed') > vendorhub.delivery_status_rank('opened'), 'failed is final');
select ok(not has_function_privilege('authenticated', 'vendorhub.delivery_status_rank(text)', 'execute'),
  'delivery_status_rank is internal');

select * from finish();
rollback;
