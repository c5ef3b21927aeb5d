-- RLS matrix: every table × select/insert/update/delete × anon, an authenticated outsider, a
-- vendor member, the couple, a conversation participant and service_role, on rows of wedding W1
-- and, for the wedding-scoped tables, on rows of the other wedding W2: no cross-wedding read or
-- write. Each cell runs in a rolled-back subtransaction (tests.probe in fixtures/world.psql).
begin;
\ir fixtures/world.psql

-- expect: one letter per actor, in the order anon, OUTSIDER, VENDOR, COUPLE, PARTICIPANT, service;
-- Y = allowed (rows seen or touched), N = denied (nothing seen or touched, or 42501).
create temporary table matrix (
  n serial primary key,
  tbl text not null,
  op text not null check (op in ('select', 'insert', 'update', 'delete')),
  target text not null,
  stmt text not null,
  expect text not null check (expect ~ '^[YN]{6}$')
);

insert into matrix (tbl, op, target, expect, stmt) values
-- vendors --------------------------------------------------------------------------------------
('vendors', 'select', 'W1', 'NNYYYY', 'select 1 from public.vendors where id = {V1}'),
('vendors', 'insert', 'W1', 'NNNNNY', 'insert into public.vendors (name, kind) values (''Probe'', ''other'')'),
('vendors', 'update', 'W1', 'NNYNNY', 'update public.vendors set name = name where id = {V1}'),
('vendors', 'delete', 'W1', 'NNNNNY', 'delete from public.vendors where id = {V1}'),
('vendors', 'select', 'W2', 'NYNNNY', 'select 1 from public.vendors where id = {VOUT}'),
('vendors', 'update', 'W2', 'NYNNNY', 'update public.vendors set name = name where id = {VOUT}'),
('vendors', 'delete', 'W2', 'NNNNNY', 'delete from public.vendors where id = {VOUT}'),
-- vendor_members -------------------------------------------------------------------------------
('vendor_members', 'select', 'W1', 'NNYNNY', 'select 1 from public.vendor_members where vendor_id = {V1}'),
('vendor_members', 'insert', 'W1', 'NNYNNY', 'insert into public.vendor_members (vendor_id, user_id) values ({V1}, {PARTICIPANT})'),
('vendor_members', 'update', 'W1', 'NNYNNY', 'update public.vendor_members set role = role where vendor_id = {V1} and user_id = {VENDOR}'),
('vendor_members', 'delete', 'W1', 'NNYNNY', 'delete from public.vendor_members where vendor_id = {V1} and user_id = {VENDOR}'),
('vendor_members', 'select', 'W2', 'NYNNNY', 'select 1 from public.vendor_members where vendor_id = {VOUT}'),
('vendor_members', 'update', 'W2', 'NYNNNY', 'update public.vendor_members set role = role where vendor_id = {VOUT}'),
('vendor_members', 'delete', 'W2', 'NYNNNY', 'delete from public.vendor_members where vendor_id = {VOUT}'),
-- weddings -------------------------------------------------------------------------------------
('weddings', 'select', 'W1', 'NNYYYY', 'select 1 from public.weddings where id = {W1}'),
('weddings', 'insert', 'W1', 'NNNNNY', 'insert into public.weddings (title, wedding_date) values (''Probe'', ''2028-01-01'')'),
('weddings', 'update', 'W1', 'NNNYNY', 'update public.weddings set title = title where id = {W1}'),
('weddings', 'delete', 'W1', 'NNNNNY', 'delete from public.weddings where id = {W1}'),
('weddings', 'select', 'W2', 'NYNNNY', 'select 1 from public.weddings where id = {W2}'),
('weddings', 'update', 'W2', 'NNNNNY', 'update public.weddings set title = title where id = {W2}'),
('weddings', 'delete', 'W2', 'NNNNNY', 'delete from public.weddings where id = {W2}'),
-- wedding_couples ------------------------------------------------------------------------------
('wedding_couples', 'select', 'W1', 'NNYYYY', 'select 1 from public.wedding_couples where wedding_id = {W1}'),
('wedding_couples', 'insert', 'W1', 'NNNNNY', 'insert into public.wedding_couples (wedding_id, user_id) values ({W1}, {OUTSIDER})'),
('wedding_couples', 'update', 'W1', 'NNNNNY', 'update public.wedding_couples set created_at = created_at where wedding_id = {W1}'),
('wedding_couples', 'delete', 'W1', 'NNNNNY', 'delete from public.wedding_couples where wedding_id = {W1}'),
('wedding_couples', 'select', 'W2', 'NYNNNY', 'select 1 from public.wedding_couples where wedding_id = {W2}'),
('wedding_couples', 'update', 'W2', 'NNNNNY', 'update public.wedding_couples set created_at = created_at where wedding_id = {W2}'),
('wedding_couples', 'delete', 'W2', 'NNNNNY', 'delete from public.wedding_couples where wedding_id = {W2}'),
-- wedding_vendors ------------------------------------------------------------------------------
('wedding_vendors', 'select', 'W1', 'NNYYYY', 'select 1 from public.wedding_vendors where wedding_id = {W1} and vendor_id = {V1}'),
('wedding_vendors', 'insert', 'W1', 'NNNYNY', 'insert into public.wedding_vendors (wedding_id, vendor_id) values ({W1}, {VOUT})'),
('wedding_vendors', 'update', 'W1', 'NNYYNY', 'update public.wedding_vendors set status = ''cancelled'' where wedding_id = {W1} and vendor_id = {V1}'),
('wedding_vendors', 'delete', 'W1', 'NNNYNY', 'delete from public.wedding_vendors where wedding_id = {W1} and vendor_id = {V1}'),
('wedding_vendors', 'select', 'W2', 'NYNNNY', 'select 1 from public.wedding_vendors where wedding_id = {W2}'),
('wedding_vendors', 'insert', 'W2', 'NNNNNY', 'insert into public.wedding_vendors (wedding_id, vendor_id) values ({W2}, {V1})'),
('wedding_vendors', 'update', 'W2', 'NYNNNY', 'update public.wedding_vendors set status = ''confirmed'' where wedding_id = {W2}'),
('wedding_vendors', 'delete', 'W2', 'NNNNNY', 'delete from public.wedding_vendors where wedding_id = {W2}'),
-- conversations --------------------------------------------------------------------------------
('conversations', 'select', 'W1', 'NNNYYY', 'select 1 from public.conversations where id = {C1}'),
('conversations', 'insert', 'W1', 'NNYYYY', 'insert into public.conversations (wedding_id, subject) values ({W1}, ''Probe'')'),
('conversations', 'update', 'W1', 'NNNYYY', 'update public.conversations set subject = ''Renamed'' where id = {C1}'),
('conversations', 'delete', 'W1', 'NNNNNY', 'delete from public.conversations where id = {C1}'),
('conversations', 'select', 'W2', 'NYNNNY', 'select 1 from public.conversations where id = {C2}'),
('conversations', 'insert', 'W2', 'NYNNNY', 'insert into public.conversations (wedding_id, subject) values ({W2}, ''Probe'')'),
('conversations', 'update', 'W2', 'NYNNNY', 'update public.conversations set subject = ''Renamed'' where id = {C2}'),
('conversations', 'delete', 'W2', 'NNNNNY', 'delete from public.conversations where id = {C2}'),
-- conversation_participants --------------------------------------------------------------------
('conversation_participants', 'select', 'W1', 'NNNYYY', 'select 1 from public.conversation_participants where conversation_id = {C1} and user_id = {PARTICIPANT}'),
('conversation_participants', 'insert', 'W1', 'NNNYYY', 'insert into public.conversation_participants (conversation_id, user_id) values ({C1}, {VENDOR})'),
('conversation_participants', 'update', 'W1', 'NNNNYY', 'update public.conversation_participants set last_read_at = now() where conversation_id = {C1} and user_id = {PARTICIPANT}'),
('conversation_participants', 'delete', 'W1', 'NNNNYY', 'delete from public.conversation_participants where conversation_id = {C1} and user_id = {PARTICIPANT}'),
('conversation_participants', 'select', 'W2', 'NYNNNY', 'select 1 from public.conversation_participants where conversation_id = {C2} and user_id = {OUTSIDER}'),
('conversation_participants', 'insert', 'W2', 'NNNNNY', 'insert into public.conversation_participants (conversation_id, user_id) values ({C2}, {COUPLE})'),
('conversation_participants', 'update', 'W2', 'NYNNNY', 'update public.conversation_participants set last_read_at = now() where conversation_id = {C2} and user_id = {OUTSIDER}'),
('conversation_participants', 'delete', 'W2', 'NYNNNY', 'delete from public.conversation_participants where conversation_id = {C2} and user_id = {OUTSIDER}'),
-- messages -------------------------------------------------------------------------------------
('messages', 'select', 'W1', 'NNNYYY', 'select 1 from public.messages where id = {M1}'),
('messages', 'insert', 'W1', 'NNNYYY', 'insert into public.messages (conversation_id, body) values ({C1}, ''Probe'')'),
('messages', 'update', 'W1', 'NNNNYY', 'update public.messages set body = ''Edited'' where id = {M1}'),
('messages', 'delete', 'W1', 'NNNNYY', 'delete from public.messages where id = {M1}'),
('messages', 'select', 'W2', 'NYNNNY', 'select 1 from public.messages where id = {M2}'),
('messages', 'insert', 'W2', 'NYNNNY', 'insert into public.messages (conversation_id, body) values ({C2}, ''Probe'')'),
('messages', 'update', 'W2', 'NYNNNY', 'update public.messages set body = ''Edited'' where id = {M2}'),
('messages', 'delete', 'W2', 'NYNNNY', 'delete from public.messages where id = {M2}'),
-- vendor_status_updates ------------------------------------------------------------------------
('vendor_status_updates', 'select', 'W1', 'NNYYYY', 'select 1 from public.vendor_status_updates where id = {S1}'),
('vendor_status_updates', 'insert', 'W1', 'NNYNNY', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W1}, {V1}, ''en_route'')'),
('vendor_status_updates', 'update', 'W1', 'NNNNNY', 'update public.vendor_status_updates set note = ''x'' where id = {S1}'),
('vendor_status_updates', 'delete', 'W1', 'NNNNNY', 'delete from public.vendor_status_updates where id = {S1}'),
('vendor_status_updates', 'select', 'W2', 'NYNNNY', 'select 1 from public.vendor_status_updates where id = {S2}'),
('vendor_status_updates', 'insert', 'W2', 'NYNNNY', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W2}, {VOUT}, ''arrived'')'),
('vendor_status_updates', 'update', 'W2', 'NNNNNY', 'update public.vendor_status_updates set note = ''x'' where id = {S2}'),
('vendor_status_updates', 'delete', 'W2', 'NNNNNY', 'delete from public.vendor_status_updates where id = {S2}'),
-- tasks ----------------------------------------------------------------------------------------
('tasks', 'select', 'W1', 'NNYYYY', 'select 1 from public.tasks where id = {T1}'),
('tasks', 'insert', 'W1', 'NNYYYY', 'insert into public.tasks (wedding_id, title) values ({W1}, ''Probe'')'),
('tasks', 'update', 'W1', 'NNYYNY', 'update public.tasks set status = ''done'' where id = {T1}'),
('tasks', 'delete', 'W1', 'NNNYNY', 'delete from public.tasks where id = {T1}'),
('tasks', 'select', 'W2', 'NYNNNY', 'select 1 from public.tasks where id = {T2}'),
('tasks', 'insert', 'W2', 'NYNNNY', 'insert into public.tasks (wedding_id, title) values ({W2}, ''Probe'')'),
('tasks', 'update', 'W2', 'NYNNNY', 'update public.tasks set status = ''done'' where id = {T2}'),
('tasks', 'delete', 'W2', 'NNNNNY', 'delete from public.tasks where id = {T2}'),
-- availability_blocks --------------------------------------------------------------------------
('availability_blocks', 'select', 'W1', 'NNYNNY', 'select 1 from public.availability_blocks where id = {A1}'),
('availability_blocks', 'insert', 'W1', 'NNYNNY', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'')'),
('availability_blocks', 'update', 'W1', 'NNYNNY', 'update public.availability_blocks set title = ''x'' where id = {A1}'),
('availability_blocks', 'delete', 'W1', 'NNYNNY', 'delete from public.availability_blocks where id = {A1}'),
('availability_blocks', 'select', 'W2', 'NYNNNY', 'select 1 from public.availability_blocks where id = {A2}'),
('availability_blocks', 'insert', 'W2', 'NYNNNY', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ({VOUT}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'')'),
('availability_blocks', 'update', 'W2', 'NYNNNY', 'update public.availability_blocks set title = ''x'' where id = {A2}'),
('availability_blocks', 'delete', 'W2', 'NYNNNY', 'delete from public.availability_blocks where id = {A2}'),
-- bookings -------------------------------------------------------------------------------------
('bookings', 'select', 'W1', 'NNYYNY', 'select 1 from public.bookings where id = {B1}'),
('bookings', 'insert', 'W1', 'NNYNNY', 'insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at) values ({V1}, {W1}, ''2027-06-12 09:00Z'', ''2027-06-12 10:00Z'')'),
('bookings', 'update', 'W1', 'NNYNNY', 'update public.bookings set title = ''x'' where id = {B1}'),
('bookings', 'delete', 'W1', 'NNYNNY', 'delete from public.bookings where id = {B1}'),
('bookings', 'select', 'W2', 'NYNNNY', 'select 1 from public.bookings where id = {B2}'),
('bookings', 'insert', 'W2', 'NYNNNY', 'insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at) values ({VOUT}, {W2}, ''2027-09-18 01:00Z'', ''2027-09-18 02:00Z'')'),
('bookings', 'update', 'W2', 'NYNNNY', 'update public.bookings set title = ''x'' where id = {B2}'),
('bookings', 'delete', 'W2', 'NYNNNY', 'delete from public.bookings where id = {B2}'),
-- per-user tables (rows of PARTICIPANT) --------------------------------------------------------
('notification_settings', 'select', 'user', 'NNNNYY', 'select 1 from public.notification_settings where user_id = {PARTICIPANT}'),
('notification_settings', 'insert', 'user', 'NNNNYY', 'insert into public.notification_settings (user_id, timezone) values ({PARTICIPANT}, ''UTC'') on conflict (user_id) do update set timezone = excluded.timezone'),
('notification_settings', 'update', 'user', 'NNNNYY', 'update public.notification_settings set quiet_hours_start = ''23:00'' where user_id = {PARTICIPANT}'),
('notification_settings', 'delete', 'user', 'NNNNYY', 'delete from public.notification_settings where user_id = {PARTICIPANT}'),
('notification_preferences', 'select', 'user', 'NNNNYY', 'select 1 from public.notification_preferences where user_id = {PARTICIPANT}'),
('notification_preferences', 'insert', 'user', 'NNNNYY', 'insert into public.notification_preferences (user_id, category, channel, enabled) values ({PARTICIPANT}, ''task'', ''sms'', true)'),
('notification_preferences', 'update', 'user', 'NNNNYY', 'update public.notification_preferences set enabled = not enabled where user_id = {PARTICIPANT}'),
('notification_preferences', 'delete', 'user', 'NNNNYY', 'delete from public.notification_preferences where user_id = {PARTICIPANT}'),
('devices', 'select', 'user', 'NNNNYY', 'select 1 from public.devices where id = {DEV1}'),
('devices', 'insert', 'user', 'NNNNYY', 'insert into public.devices (user_id, platform, token) values ({PARTICIPANT}, ''web'', ''probe-token-0123456789abcdef0123456789'')'),
('devices', 'update', 'user', 'NNNNYY', 'update public.devices set enabled = false where id = {DEV1}'),
('devices', 'delete', 'user', 'NNNNYY', 'delete from public.devices where id = {DEV1}'),
('notifications', 'select', 'user', 'NNNNYY', 'select 1 from public.notifications where id = {N1}'),
('notifications', 'insert', 'user', 'NNNNNY', 'insert into public.notifications (user_id, category, title) values ({PARTICIPANT}, ''task'', ''Probe'')'),
('notifications', 'update', 'user', 'NNNNYY', 'update public.notifications set read_at = now() where id = {N1}'),
('notifications', 'delete', 'user', 'NNNNYY', 'delete from public.notifications where id = {N1}'),
('deliveries', 'select', 'user', 'NNNNYY', 'select 1 from public.deliveries where id = {D1}'),
('deliveries', 'insert', 'user', 'NNNNNY', 'insert into public.deliveries (user_id, channel, provider) values ({PARTICIPANT}, ''email'', ''resend'')'),
('deliveries', 'update', 'user', 'NNNNNY', 'update public.deliveries set status = ''sent'' where id = {D1}'),
('deliveries', 'delete', 'user', 'NNNNNY', 'delete from public.deliveries where id = {D1}'),
-- integration_connections ----------------------------------------------------------------------
('integration_connections', 'select', 'W1', 'NNYNNY', 'select 1 from public.integration_connections where id = {IC1}'),
('integration_connections', 'insert', 'W1', 'NNYNNY', 'insert into public.integration_connections (vendor_id, kind, display_name) values ({V1}, ''ical'', ''Probe'')'),
('integration_connections', 'update', 'W1', 'NNYNNY', 'update public.integration_connections set display_name = ''x'' where id = {IC1}'),
('integration_connections', 'delete', 'W1', 'NNYNNY', 'delete from public.integration_connections where id = {IC1}'),
('integration_connections', 'select', 'W2', 'NYNNNY', 'select 1 from public.integration_connections where id = {IC2}'),
('integration_connections', 'insert', 'W2', 'NYNNNY', 'insert into public.integration_connections (vendor_id, kind, display_name) values ({VOUT}, ''ical'', ''Probe'')'),
('integration_connections', 'update', 'W2', 'NYNNNY', 'update public.integration_connections set display_name = ''x'' where id = {IC2}'),
('integration_connections', 'delete', 'W2', 'NYNNNY', 'delete from public.integration_connections where id = {IC2}'),
-- private tables: service_role only; the audit log is append-only even for it ------------------
('integration_credentials', 'select', 'W1', 'NNNNNY', 'select 1 from vendorhub.integration_credentials where connection_id = {IC1}'),
('integration_credentials', 'insert', 'W1', 'NNNNNY', 'insert into vendorhub.integration_credentials (connection_id, key_id, ciphertext) values ({IC2}, ''k1'', decode(repeat(''cd'', 40), ''hex''))'),
('integration_credentials', 'update', 'W1', 'NNNNNY', 'update vendorhub.integration_credentials set key_id = ''k2'' where connection_id = {IC1}'),
('integration_credentials', 'delete', 'W1', 'NNNNNY', 'delete from vendorhub.integration_credentials where connection_id = {IC1}'),
('webhook_inbox', 'select', 'W1', 'NNNNNY', 'select 1 from vendorhub.webhook_inbox where id = {IB1}'),
('webhook_inbox', 'insert', 'W1', 'NNNNNY', 'insert into vendorhub.webhook_inbox (source, connection_id, provider_event_id, payload) values (''honeybook'', {IC1}, ''probe-evt'', ''{}'')'),
('webhook_inbox', 'update', 'W1', 'NNNNNY', 'update vendorhub.webhook_inbox set attempts = 1 where id = {IB1}'),
('webhook_inbox', 'delete', 'W1', 'NNNNNY', 'delete from vendorhub.webhook_inbox where id = {IB1}'),
('audit_log', 'select', 'W1', 'NNNNNY', 'select 1 from vendorhub.audit_log where action = ''fixture.audit'''),
('audit_log', 'insert', 'W1', 'NNNNNY', 'insert into vendorhub.audit_log (action) values (''probe.audit'')'),
('audit_log', 'update', 'W1', 'NNNNNN', 'update vendorhub.audit_log set reason = ''x'' where action = ''fixture.audit'''),
('audit_log', 'delete', 'W1', 'NNNNNN', 'delete from vendorhub.audit_log where action = ''fixture.audit''');

create temporary table actors (k integer primary key, actor text not null);
insert into actors values (1, 'anon'), (2, 'OUTSIDER'), (3, 'VENDOR'), (4, 'COUPLE'), (5, 'PARTICIPANT'), (6, 'service');

select plan((select count(*)::integer * 6 from matrix) + 9);

-- Every table of public and vendorhub that the foundation defines appears in the matrix with all
-- four operations.
select set_eq(
  $$ select distinct tbl from matrix $$,
  $$ select c.relname::text from pg_class c join pg_namespace s on s.oid = c.relnamespace
     where c.relkind = 'r' and c.oid = any (array[
       'public.vendors', 'public.vendor_members', 'public.weddings', 'public.wedding_couples',
       'public.wedding_vendors', 'public.conversations', 'public.conversation_participants',
       'public.messages', 'public.vendor_status_updates', 'public.tasks',
       'public.availability_blocks', 'public.bookings', 'public.notification_settings',
       'public.notification_preferences', 'public.devices', 'public.notifications',
       'public.deliveries', 'public.integration_connections', 'vendorhub.integration_credentials',
       'vendorhub.webhook_inbox', 'vendorhub.audit_log']::regclass[]) $$,
  'the matrix covers every foundation table');

select is(
  tests.probe(a.actor, m.op, m.stmt),
  substr(m.expect, a.k, 1),
  format('%s %s (%s rows) as %s: %s', m.op, m.tbl, m.target, a.actor,
         case substr(m.expect, a.k, 1) when 'Y' then 'allowed' else 'denied' end))
from matrix m cross join actors a
order by m.n, a.k;

-- The refusals carry the errors clients see.
select tests.act_as('COUPLE');
select throws_ok(
  format($$ insert into public.messages (conversation_id, body) values (%L, 'hello') $$, tests.id('C2')),
  '42501', 'new row violates row-level security policy for table "messages"',
  'posting into a conversation you are not part of fails with an RLS error');
select tests.act_as('PARTICIPANT');
select throws_ok(
  format($$ insert into public.messages (conversation_id, sender_id, body) values (%L, %L, 'spoof') $$,
         tests.id('C1'), tests.id('COUPLE')),
  '42501', null, 'a participant cannot post as someone else');
select throws_ok(
  format($$ insert into public.conversation_participants (conversation_id, user_id) values (%L, %L) $$,
         tests.id('C1'), tests.id('OUTSIDER')),
  '42501', null, 'a participant cannot add someone outside the wedding');
select tests.act_as('VENDOR');
select throws_ok(
  format($$ update public.wedding_vendors set wedding_id = %L where vendor_id = %L $$, tests.id('W2'), tests.id('V1')),
  '42501', 'permission denied for table wedding_vendors',
  'a vendor cannot move its connection to another wedding');
select tests.act_as('PARTICIPANT');
select throws_ok(
  format($$ update public.notification_settings set email_bounced_at = null where user_id = %L $$, tests.id('PARTICIPANT')),
  '42501', 'permission denied for table notification_settings',
  'a user cannot clear their own bounce suppression');

-- What each kind of user sees of the two weddings, end to end.
select tests.act_as('VENDOR');
select results_eq(
  format($$ select id from public.weddings where id in (%L, %L) $$, tests.id('W1'), tests.id('W2')),
  format($$ values (%L::uuid) $$, tests.id('W1')),
  'a vendor member sees only the wedding their vendor is connected to');
select tests.act_as('OUTSIDER');
select results_eq(
  format($$ select count(*) from public.messages where wedding_id = %L $$, tests.id('W1')),
  $$ values (0::bigint) $$,
  'an outsider reads no message of another wedding');
select tests.act_as('anon');
select is_empty(
  format($$ select 1 from public.vendors where id in (%L, %L, %L) $$, tests.id('V1'), tests.id('V3'), tests.id('VOUT')),
  'anon sees no vendor');
select tests.act_as_tester();

select * from finish();
rollback;
