-- Adversarial writes, the named holes and rules: the four cross-tenant writes that used to work
-- (a conversation moved into another wedding, a task moved between a two-wedding vendor's
-- weddings, a couple booking any vendor, a backdated message), the wedding_vendors state
-- machine and its errors, owner-only outbound webhooks with the endpoint cap, and verified
-- contact addresses. Matrix of every writable table: 80_adversarial_writes.test.sql.
begin;
\ir fixtures/world.psql
\ir fixtures/tenants.psql

select plan(39);

-- 1. A participant moves a conversation into a wedding they do not belong to ---------------------
select tests.act_as('PARTICIPANT');
select throws_ok(tests.fill($$ update public.conversations set wedding_id = {W2} where id = {C1} $$),
  '42501', 'permission denied for table conversations',
  'a participant cannot move a conversation into a wedding they do not belong to');
select tests.act_as('MULTI');
select throws_ok(tests.fill($$ update public.conversations set wedding_id = {W2} where id = {C1} $$),
  '42501', 'permission denied for table conversations',
  'nor into another wedding they do belong to');
select tests.act_as_tester();
select is((select wedding_id from public.conversations where id = tests.id('C1')), tests.id('W1'), 'the conversation stays in its wedding');

-- 2. A vendor member who works two weddings moves a task (with the couple's notes) across --------
select tests.act_as('MULTI');
select throws_ok(tests.fill($$ update public.tasks set wedding_id = {W2} where id = {TM} $$),
  '42501', 'permission denied for table tasks',
  'a member of a vendor working two weddings cannot move a task to the other wedding');
select lives_ok(tests.fill($$ update public.tasks set status = 'in_progress' where id = {TM} $$),
  'the assigned vendor still updates the task');
select tests.act_as('COUPLE2');
select is_empty(tests.fill($$ select 1 from public.tasks where id = {TM} $$), 'the other wedding''s couple does not see the task');
select tests.act_as_tester();
select is((select (wedding_id, status) from public.tasks where id = tests.id('TM')), (tests.id('W1'), 'in_progress'::text),
  'the task stays in its wedding, with the legitimate change');

-- 3. A couple books any vendor (blocking its calendar) ----------------------------------------------
select tests.act_as('COUPLE');
select throws_ok(tests.fill($$ insert into public.wedding_vendors (wedding_id, vendor_id, status) values ({W1}, {VOUT}, 'booked') $$),
  '42501', 'wedding_vendors: a new connection starts as inquiry, not booked',
  'a couple cannot connect a vendor as booked');
select lives_ok(tests.fill($$ insert into public.wedding_vendors (wedding_id, vendor_id) values ({W1}, {VOUT}) $$),
  'a couple connects a vendor as an inquiry');
select throws_ok(tests.fill($$ update public.wedding_vendors set status = 'booked' where wedding_id = {W1} and vendor_id = {VOUT} $$),
  '42501', 'wedding_vendors: the couple side may not move status from inquiry to booked',
  'the couple cannot book the vendor afterwards either');
select tests.act_as_tester();
select is_empty(tests.fill($$ select 1 from vendorhub.commitments({VOUT}) c where c.wedding_id = {W1} $$),
  'the inquiry does not block the vendor''s calendar');
select tests.act_as('COUPLE');
select results_eq(
  tests.fill($$ select free, busy from public.vendor_availability({W1}, '2027-09-17 00:00Z', '2027-09-20 00:00Z') where vendor_id = {VOUT} $$),
  $$ values (null::boolean, '{}'::tstzmultirange) $$,
  'an inquiry does not let the couple read the vendor''s calendar outside their wedding day');
select results_eq(
  tests.fill($$ select free from public.vendor_availability({W1}, '2027-06-12 10:00Z', '2027-06-12 18:00Z') where vendor_id = {VOUT} $$),
  $$ values (true) $$,
  'but it does tell whether the vendor is free on the wedding day');
select tests.act_as('OUTSIDER'); -- VOUT's owner answers
select lives_ok(tests.fill($$ update public.wedding_vendors set status = 'proposal' where wedding_id = {W1} and vendor_id = {VOUT} $$),
  'the vendor answers an inquiry with a proposal');
select lives_ok(tests.fill($$ update public.wedding_vendors set status = 'booked' where wedding_id = {W1} and vendor_id = {VOUT} $$),
  'the vendor books after its proposal');
select throws_ok(tests.fill($$ update public.wedding_vendors set status = 'inquiry' where wedding_id = {W1} and vendor_id = {VOUT} $$),
  '42501', 'wedding_vendors: the vendor side may not move status from booked to inquiry',
  'a refused move names the side and both states');
select tests.act_as('COUPLE');
select isnt(
  (select busy from public.vendor_availability(tests.id('W1'), '2027-09-17 00:00Z', '2027-09-20 00:00Z') where vendor_id = tests.id('VOUT')),
  '{}'::tstzmultirange,
  'once the vendor has answered, the couple sees its busy periods in any range');
select tests.act_as('COUPLE');
select lives_ok(tests.fill($$ update public.wedding_vendors set status = 'cancelled' where wedding_id = {W1} and vendor_id = {VOUT} $$),
  'the couple cancels');
select lives_ok(tests.fill($$ update public.wedding_vendors set status = 'inquiry' where wedding_id = {W1} and vendor_id = {VOUT} $$),
  'and re-opens a cancelled connection as an inquiry');
select tests.act_as('service');
select lives_ok(tests.fill($$ update public.wedding_vendors set status = 'confirmed' where wedding_id = {W1} and vendor_id = {VOUT} $$),
  'the backend (service_role) is not bound by the state machine');
select tests.act_as_tester();
select ok(vendorhub.wedding_vendor_move_allowed('couple', null, 'inquiry')
          and not vendorhub.wedding_vendor_move_allowed('couple', null, 'booked')
          and not vendorhub.wedding_vendor_move_allowed('couple', 'proposal', 'booked')
          and vendorhub.wedding_vendor_move_allowed('vendor', 'proposal', 'booked')
          and not vendorhub.wedding_vendor_move_allowed('vendor', null, 'inquiry')
          and not vendorhub.wedding_vendor_move_allowed('nobody', 'inquiry', 'proposal'),
  'the transition table: couple invites and cancels, vendor books');

-- 4. A participant backdates a message (and a status update, a participant row) --------------------
select tests.act_as('PARTICIPANT');
select throws_ok(tests.fill($$ insert into public.messages (conversation_id, body, created_at) values ({C1}, 'old news', '2020-01-01') $$),
  '42501', 'permission denied for table messages', 'a participant cannot backdate a message');
select throws_ok(tests.fill($$ insert into public.conversation_participants (conversation_id, user_id, joined_at) values ({C1}, {VENDOR}, '2020-01-01') $$),
  '42501', 'permission denied for table conversation_participants', 'nor a participant''s joined_at');
select tests.act_as('VENDOR');
select throws_ok(tests.fill($$ insert into public.vendor_status_updates (wedding_id, vendor_id, status, created_at) values ({W1}, {V1}, 'arrived', '2020-01-01') $$),
  '42501', 'permission denied for table vendor_status_updates', 'a vendor cannot backdate a status update');
select tests.act_as('PARTICIPANT');
select lives_ok(tests.fill($$ insert into public.messages (conversation_id, body) values ({C1}, 'fresh news') $$), 'a participant posts');
select tests.act_as_tester();
select is((select created_at from public.messages where body = 'fresh news'), now(), 'at the server''s time');

-- Outbound webhooks: owners only ---------------------------------------------------------------------
select tests.act_as('STAFF');
select is_empty(tests.fill($$ select body from public.webhook_deliveries where id = {WD1} $$), 'staff do not read delivery bodies');
select is_empty(tests.fill($$ select 1 from public.webhook_delivery_attempts where delivery_id = {WD1} $$), 'nor attempts');
select is_empty(tests.fill($$ select 1 from public.webhook_endpoints where id = {WE1} $$), 'nor endpoints');
select throws_ok(tests.fill($$ select public.replay_webhook_deliveries({WE1}, now() - interval '1 day') $$),
  'P0002', null, 'staff cannot replay deliveries');
select tests.act_as('OUTSIDER');
select throws_ok(tests.fill($$ select public.replay_webhook_deliveries({WE1}, now() - interval '1 day') $$),
  'P0002', null, 'another vendor''s owner cannot replay deliveries');
select tests.act_as('VENDOR');
select is((select body from public.webhook_deliveries where id = tests.id('WD1')), '{"type":"message.created","data":{"body":"private"}}',
  'the owner reads the delivery body');
select is(public.replay_webhook_deliveries(tests.id('WE1'), now() - interval '1 day'), 1, 'the owner replays the failed delivery');

-- The cap: vendorhub.max_webhook_endpoints_per_vendor() endpoints per vendor, WE1 being the first.
select lives_ok(
  format($$ insert into public.webhook_endpoints (vendor_id, url) select %L, 'https://hooks.example.com/' || g from generate_series(2, %s) g $$,
         tests.id('V1'), 10),
  'an owner adds endpoints up to the cap of 10');
select throws_ok(tests.fill($$ insert into public.webhook_endpoints (vendor_id, url) values ({V1}, 'https://hooks.example.com/11') $$),
  '54000', format('vendor %s already has 10 webhook endpoints, the most allowed', tests.id('V1')),
  'the 11th endpoint is refused with a clear error');
select tests.act_as('service');
select throws_ok(tests.fill($$ insert into public.webhook_endpoints (vendor_id, url) values ({V1}, 'https://hooks.example.com/11') $$),
  '54000', null, 'the cap binds the backend too');
select tests.act_as_tester();
select is(vendorhub.max_webhook_endpoints_per_vendor(), 10, 'the cap is one named setting (default 10)');

-- Verified contacts ---------------------------------------------------------------------------------
select tests.act_as('PARTICIPANT');
select lives_ok(tests.fill($$ update public.notification_settings set email = 'victim@example.com', phone = '+15555550100' where user_id = {PARTICIPANT} $$),
  'a user may type any address');
select tests.act_as_tester();
select is((select (email_verified_at, phone_verified_at) from public.notification_settings where user_id = tests.id('PARTICIPANT')),
  (null::timestamptz, null::timestamptz), 'but an address that is not their confirmed one stays unverified (never emailed or texted)');

select * from finish();
rollback;
