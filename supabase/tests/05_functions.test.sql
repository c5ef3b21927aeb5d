-- The rpc() functions, called as PostgREST calls them (role + claims), and vendorhub.emit's
-- input checks. Event emission itself is tested against a logical slot in internal/emit.
begin;
\ir fixtures/world.psql
select plan(43);

-- send_message ------------------------------------------------------------------------------------
select tests.act_as('PARTICIPANT');
create temporary table sent as
  select * from public.send_message(tests.id('C1'), 'Sent through rpc', tests.id('M1'));
select tests.act_as_tester();
select is((select sender_id from sent), tests.id('PARTICIPANT'), 'send_message posts as the caller');
select is((select wedding_id from sent), tests.id('W1'), 'send_message fills in the wedding');
select is((select reply_to from sent), tests.id('M1'), 'send_message keeps reply_to');
select is((select count(*)::integer from public.messages m join sent s on s.id = m.id), 1, 'the message is stored');

select tests.act_as('OUTSIDER');
select throws_ok(
  format($$ select public.send_message(%L, 'let me in') $$, tests.id('C1')),
  '42501', 'new row violates row-level security policy for table "messages"',
  'send_message into a conversation you are not part of fails with an RLS error');
select tests.act_as('PARTICIPANT');
select throws_ok(format($$ select public.send_message(%L, '   ') $$, tests.id('C1')), '23514', null, 'send_message refuses a blank body');
select throws_ok(format($$ select public.send_message(%L, 'x', %L) $$, tests.id('C1'), tests.id('M2')), '23503', null,
  'send_message refuses a reply to another conversation');
select tests.act_as('anon');
select throws_ok(format($$ select public.send_message(%L, 'hi') $$, tests.id('C1')), '42501', null, 'anon cannot call send_message');
select tests.act_as('service');
select throws_ok(format($$ select public.send_message(%L, 'hi') $$, tests.id('C1')), '42501', 'send_message: not signed in',
  'send_message needs a signed-in user');
select tests.act_as_tester();
select is((select count(*)::integer from public.messages where body in ('let me in', 'hi', '   ')), 0, 'refused messages left nothing behind');

-- mark_conversation_read --------------------------------------------------------------------------
select tests.act_as('PARTICIPANT');
select is(public.mark_conversation_read(tests.id('C1')), now(), 'mark_conversation_read returns the new marker');
select tests.act_as_tester();
select is((select last_read_at from public.conversation_participants where conversation_id = tests.id('C1') and user_id = tests.id('PARTICIPANT')),
  now(), 'the caller''s read marker moved');
update public.conversation_participants set last_read_at = now() + interval '1 hour'
  where conversation_id = tests.id('C1') and user_id = tests.id('COUPLE');
select tests.act_as('COUPLE');
select is(public.mark_conversation_read(tests.id('C1')), now() + interval '1 hour', 'a read marker never moves backwards');
select tests.act_as('VENDOR');
select throws_ok(format($$ select public.mark_conversation_read(%L) $$, tests.id('C1')), '42501', null,
  'mark_conversation_read refuses a non-participant');
select tests.act_as_tester();

-- set_notification_preferences --------------------------------------------------------------------
select tests.act_as('COUPLE');
select results_eq(
  $$ select category::text, channel::text, enabled from public.set_notification_preferences(
       '[{"category": "new_message", "channel": "push", "enabled": true},
         {"category": "new_message", "channel": "email", "enabled": false},
         {"category": "day_of_change", "channel": "sms", "enabled": true}]') $$,
  $$ values ('day_of_change', 'sms', true), ('new_message', 'email', false), ('new_message', 'push', true) $$,
  'set_notification_preferences stores and returns the caller''s switches');
select results_eq(
  $$ select enabled from public.set_notification_preferences('[{"category": "new_message", "channel": "email", "enabled": true}]')
     where category = 'new_message' and channel = 'email' $$,
  $$ values (true) $$,
  'set_notification_preferences updates an existing switch');
select throws_ok(
  $$ select public.set_notification_preferences('[{"category": "new_message", "channel": "push", "enabled": false},
                                                 {"category": "new_message", "channel": "owl", "enabled": true}]') $$,
  '23514', null, 'an invalid channel is refused');
select throws_ok($$ select public.set_notification_preferences('{"category": "task"}') $$, '22023', null, 'prefs must be an array');
select throws_ok(
  $$ select public.set_notification_preferences('[{"category": "task", "channel": "push", "enabled": "yes"}]') $$,
  '22023', 'set_notification_preferences: element 1 must be {"category": string, "channel": string, "enabled": boolean}',
  'a malformed element is refused with its position');
select is(
  (select enabled from public.notification_preferences
   where user_id = tests.id('COUPLE') and category = 'new_message' and channel = 'push'),
  true, 'a refused batch changed nothing');
select tests.act_as_tester();
select is((select count(*)::integer from public.notification_preferences where user_id = tests.id('COUPLE')), 3,
  'only the caller''s rows were written');

-- set_notification_settings -----------------------------------------------------------------------
select tests.act_as('COUPLE');
select is(
  (select (timezone::text, quiet_hours_start, quiet_hours_end)::text
   from public.set_notification_settings('America/Chicago', '21:30', '06:45')),
  '(America/Chicago,21:30:00,06:45:00)', 'set_notification_settings stores time zone and quiet hours');
select is((select quiet_hours_start from public.set_notification_settings('America/Chicago')), null, 'omitting quiet hours clears them');
select throws_ok($$ select public.set_notification_settings('Atlantis/Capital') $$, '23514', null, 'an unknown time zone is refused');
select throws_ok($$ select public.set_notification_settings('UTC', '22:00') $$, '22023', null, 'half a quiet-hours window is refused');
select tests.act_as_tester();

-- register_device ---------------------------------------------------------------------------------
select tests.act_as('COUPLE');
create temporary table reg as select * from public.register_device('ios', 'couple-token:APA91bFixtureTokenForCoupleIphone01');
select tests.act_as_tester();
select is((select user_id from reg), tests.id('COUPLE'), 'register_device registers for the caller');
select is((select (platform, enabled)::text from reg), '(ios,t)', 'the device is enabled on its platform');
select tests.act_as('COUPLE');
select throws_ok($$ select public.register_device('symbian', 'couple-token:APA91bFixtureTokenForCoupleIphone02') $$,
  '22023', 'register_device: platform must be ios, android or web', 'an unknown platform is refused');
select throws_ok($$ select public.register_device('ios', 'not a token') $$, '22023', null, 'a malformed token is refused');
select throws_ok($$ select public.register_device('ios', repeat('a', 31)) $$, '22023', null, 'a too-short token is refused');
-- The participant's token, presented by the couple (signed in on that device now), moves to the couple.
select is(
  (select user_id from public.register_device('android', 'fixture-participant-token:0123456789abcdef')),
  tests.id('COUPLE'), 'a token presented by another user moves to that user');
select tests.act_as_tester();
select is(
  (select count(*)::integer from public.devices where token = 'fixture-participant-token:0123456789abcdef'),
  1, 'the moved token is still one device row');
select is(
  (select count(*)::integer from public.devices where user_id = tests.id('PARTICIPANT')),
  0, 'the previous owner no longer receives pushes on that device');
update public.devices set enabled = false, disabled_reason = 'UNREGISTERED' where user_id = tests.id('COUPLE');
select tests.act_as('COUPLE');
select is(
  (select (enabled, disabled_reason)::text from public.register_device('ios', 'couple-token:APA91bFixtureTokenForCoupleIphone01')),
  '(t,)', 're-registering a token re-enables it');
select tests.act_as('anon');
select throws_ok($$ select public.register_device('ios', 'anon-token:APA91bFixtureTokenForNobody0000001') $$, '42501', null,
  'anon cannot register a device');
select tests.act_as_tester();

-- vendorhub.emit and helpers ----------------------------------------------------------------------
select throws_ok($$ select vendorhub.emit('message.deleted', null, '{"table": "messages", "id": "x"}', '{}') $$,
  '22023', 'vendorhub.emit: unknown event type ''message.deleted''', 'emit refuses a type outside the closed set');
select throws_ok($$ select vendorhub.emit('heartbeat', null, '["not", "an", "object"]', '{}') $$,
  '22023', null, 'emit refuses a subject that is not an object');
select isnt(vendorhub.emit('heartbeat', null, '{"table": "sidecar", "id": "beat"}', '{}'), null, 'emit returns the event id');
select tests.act_as('PARTICIPANT');
select throws_ok($$ select vendorhub.emit('heartbeat', null, '{}', '{}') $$, '42501', null, 'users cannot emit events');
select tests.act_as_tester();
select is(vendorhub.preview(E'\n Hello\n\n  there   friend\t', 140), 'Hello there friend', 'previews collapse and trim whitespace');
select is(char_length(vendorhub.preview(repeat('ab ', 100), 140)), 140, 'previews are cut to their length, ellipsis included');
-- squish's shortcut (ASCII with single spaces) and its regular expression agree on every case.
select is(
  (select count(*)::integer from unnest(array[
     'plain words', ' lead and trail ', 'double  space', E'tab\there', E'line\nbreak', E'cr\rlf',
     E'form\ffeed', 'vertical' || chr(11) || 'tab', 'no-space', '', ' ', '   ', E'\n', 'café  au lait',
     'non-breaking' || chr(160) || 'space', 'ideographic' || chr(12288) || 'space', 'émoji 🎉 ok',
     E' \t mixed \n\n runs \r\n ']) b
   where vendorhub.squish(b) is distinct from btrim(regexp_replace(b, '\s+', ' ', 'g'))),
  0, 'squish equals btrim(regexp_replace(body, ''\s+'', '' '', ''g'')), shortcut or not');
select is(vendorhub.squish(null), null, 'squish keeps null');

select * from finish();
rollback;
