-- Constraints: bad input is refused with a clear error and nothing is written; the composite keys
-- keep rows inside their wedding; the audit log is append-only; bookkeeping triggers.
begin;
\ir fixtures/world.psql
select plan(53);

-- Time zones (IANA names only) --------------------------------------------------------------------
select throws_ok(
  format($$ update public.notification_settings set timezone = 'Mars/Olympus_Mons' where user_id = %L $$, tests.id('PARTICIPANT')),
  '23514', null, 'an unknown time zone is rejected in notification settings');
select throws_ok(
  $$ insert into public.vendors (name, kind, timezone) values ('Bad TZ', 'dj', 'CEST') $$,
  '23514', null, 'an abbreviation is not an IANA time zone (vendors)');
select throws_ok(
  $$ insert into public.weddings (title, wedding_date, timezone) values ('Bad TZ', '2027-01-01', 'posix/Europe/London') $$,
  '23514', null, 'the posix/ duplicate tree is rejected (weddings)');
select throws_ok(
  $$ insert into public.weddings (title, wedding_date, timezone) values ('Bad TZ', '2027-01-01', 'localtime') $$,
  '23514', null, '"localtime" is rejected');
select lives_ok(
  $$ insert into public.weddings (title, wedding_date, timezone) values ('Good TZ', '2027-01-01', 'America/Argentina/Buenos_Aires') $$,
  'a three-part IANA name is accepted');
select ok(vendorhub.is_iana_timezone('Asia/Kolkata') and not vendorhub.is_iana_timezone('Asia/Calcutta ') and not vendorhub.is_iana_timezone(null),
  'is_iana_timezone: exact names only');

-- Notification vocabularies -----------------------------------------------------------------------
select throws_ok(
  format($$ insert into public.notification_preferences (user_id, category, channel) values (%L, 'new_message', 'pigeon') $$, tests.id('PARTICIPANT')),
  '23514', 'value for domain notification_channel violates check constraint "notification_channel_check"',
  'an invalid channel is rejected');
select throws_ok(
  format($$ insert into public.notification_preferences (user_id, category, channel) values (%L, 'gossip', 'push') $$, tests.id('PARTICIPANT')),
  '23514', 'value for domain notification_category violates check constraint "notification_category_check"',
  'an invalid category is rejected');
select throws_ok(
  format($$ insert into public.deliveries (user_id, channel, provider) values (%L, 'fax', 'fcm') $$, tests.id('PARTICIPANT')),
  '23514', null, 'a delivery on an invalid channel is rejected');
select throws_ok(
  format($$ update public.deliveries set status = 'lost' where id = %L $$, tests.id('D1')),
  '23514', null, 'an invalid delivery status is rejected');
select throws_ok(
  format($$ insert into public.notification_settings (user_id, quiet_hours_start) values (%L, '22:00') $$, tests.id('VENDOR')),
  '23514', null, 'quiet hours need both ends');
select throws_ok(
  format($$ update public.notification_settings set email = 'not an address' where user_id = %L $$, tests.id('PARTICIPANT')),
  '23514', null, 'a malformed email address is rejected');
select throws_ok(
  format($$ update public.notification_settings set phone = '07700 900123' where user_id = %L $$, tests.id('PARTICIPANT')),
  '23514', null, 'a phone number not in E.164 is rejected');
select throws_ok(
  format($$ insert into public.notifications (user_id, category, title, event_key) values (%L, 'task', 'Again', 'f00/1') $$, tests.id('PARTICIPANT')),
  '23505', null, 'one notification per user and event key');

-- Messages ----------------------------------------------------------------------------------------
select throws_ok(
  format($$ insert into public.messages (conversation_id, sender_id, body) values (%L, %L, '') $$, tests.id('C1'), tests.id('PARTICIPANT')),
  '23514', null, 'an empty message body is rejected');
select throws_ok(
  format($$ insert into public.messages (conversation_id, sender_id, body) values (%L, %L, E' \n\t ') $$, tests.id('C1'), tests.id('PARTICIPANT')),
  '23514', null, 'a blank message body is rejected');
select throws_ok(
  format($$ insert into public.messages (conversation_id, sender_id, body) values (%L, %L, repeat('x', 10001)) $$, tests.id('C1'), tests.id('PARTICIPANT')),
  '23514', null, 'a body over 10000 characters is rejected');
select lives_ok(
  format($$ insert into public.messages (conversation_id, sender_id, body) values (%L, %L, repeat('é', 10000)) $$, tests.id('C1'), tests.id('PARTICIPANT')),
  'a body of exactly 10000 characters is accepted');
select throws_ok(
  format($$ insert into public.messages (conversation_id, sender_id, body, reply_to) values (%L, %L, 'reply', %L) $$,
         tests.id('C1'), tests.id('PARTICIPANT'), tests.id('M2')),
  '23503', null, 'a reply to a message of another conversation is rejected');
with m as (
  insert into public.messages (conversation_id, wedding_id, sender_id, body)
  values (tests.id('C1'), tests.id('W2'), tests.id('PARTICIPANT'), 'wedding from the conversation')
  returning wedding_id)
select is(m.wedding_id, tests.id('W1'), 'a message takes its wedding from its conversation, whatever the client sent')
from m;
update public.messages set body = 'Edited fixture message' where id = tests.id('M1');
select isnt((select edited_at from public.messages where id = tests.id('M1')), null, 'editing a body sets edited_at');
select throws_ok(
  format($$ insert into public.conversations (wedding_id, parent_id, subject) values (%L, %L, 'cross-wedding thread') $$,
         tests.id('W2'), tests.id('C1')),
  '23503', null, 'a thread lives in its parent''s wedding');
select throws_ok(
  format($$ insert into public.conversation_participants (conversation_id, user_id) values (%L, %L) $$, tests.id('C1'), tests.id('PARTICIPANT')),
  '23505', null, 'a participant joins a conversation once');
select is(
  (select count(*)::integer from public.conversation_participants where conversation_id = tests.id('C1') and user_id = tests.id('COUPLE')),
  1, 'the creator of a conversation is a participant');

-- Rows stay inside the weddings their vendor is connected to --------------------------------------
select throws_ok(
  format($$ insert into public.vendor_status_updates (wedding_id, vendor_id, status) values (%L, %L, 'arrived') $$, tests.id('W2'), tests.id('V1')),
  '23503', null, 'a vendor posts status updates only for weddings it is connected to');
select throws_ok(
  format($$ insert into public.tasks (wedding_id, vendor_id, title) values (%L, %L, 'x') $$, tests.id('W2'), tests.id('V1')),
  '23503', null, 'a task is assigned only to a vendor connected to its wedding');
select throws_ok(
  format($$ insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at) values (%L, %L, '2027-01-01 10:00Z', '2027-01-01 11:00Z') $$,
         tests.id('V1'), tests.id('W2')),
  '23503', null, 'a booking names only a wedding its vendor is connected to');
select throws_ok(
  format($$ insert into public.wedding_vendors (wedding_id, vendor_id) values (%L, %L) $$, tests.id('W1'), tests.id('V1')),
  '23505', null, 'a vendor is connected to a wedding once');
select throws_ok(
  format($$ update public.wedding_vendors set status = 'maybe' where wedding_id = %L and vendor_id = %L $$, tests.id('W1'), tests.id('V1')),
  '23514', null, 'an invalid connection status is rejected');
select throws_ok(
  $$ insert into public.vendors (name, kind) values ('Juggler', 'juggler') $$,
  '23514', null, 'an unknown vendor kind is rejected');
select throws_ok(
  format($$ insert into public.vendor_members (vendor_id, user_id, role) values (%L, %L, 'admin') $$, tests.id('V1'), tests.id('COUPLE')),
  '23514', null, 'an unknown member role is rejected');

-- Calendars ---------------------------------------------------------------------------------------
select throws_ok(
  format($$ insert into public.availability_blocks (vendor_id, starts_at, ends_at) values (%L, '2027-01-01 12:00Z', '2027-01-01 12:00Z') $$, tests.id('V1')),
  '23514', null, 'a busy block must end after it starts');
select throws_ok(
  format($$ insert into public.availability_blocks (vendor_id, starts_at, ends_at, source) values (%L, '2027-01-01 10:00Z', '2027-01-01 12:00Z', 'google') $$, tests.id('V1')),
  '23514', null, 'a synced block needs its external id');
select throws_ok(
  format($$ insert into public.availability_blocks (vendor_id, starts_at, ends_at, source) values (%L, '2027-01-01 10:00Z', '2027-01-01 12:00Z', 'myspace') $$, tests.id('V1')),
  '23514', null, 'an unknown sync source is rejected');
select throws_ok(
  format($$ insert into public.availability_blocks (vendor_id, starts_at, ends_at, source, external_id)
            values (%1$L, '2027-01-01 10:00Z', '2027-01-01 12:00Z', 'google', 'evt-1'),
                   (%1$L, '2027-01-02 10:00Z', '2027-01-02 12:00Z', 'google', 'evt-1') $$, tests.id('V1')),
  '23505', null, 'one block per vendor, source and external id');
select throws_ok(
  format($$ update public.bookings set status = 'pencilled' where id = %L $$, tests.id('B1')),
  '23514', null, 'an invalid booking status is rejected');

-- Devices -----------------------------------------------------------------------------------------
select throws_ok(
  format($$ insert into public.devices (user_id, platform, token) values (%L, 'blackberry', 'fixture-token-000000000000000000000000000') $$, tests.id('COUPLE')),
  '23514', null, 'an unknown platform is rejected');
select throws_ok(
  format($$ insert into public.devices (user_id, platform, token) values (%L, 'ios', 'short') $$, tests.id('COUPLE')),
  '23514', null, 'a token too short to be a push token is rejected');
select throws_ok(
  format($$ insert into public.devices (user_id, platform, token) values (%L, 'ios', 'fixture-participant-token:0123456789abcdef') $$, tests.id('COUPLE')),
  '23505', null, 'a token belongs to one device row');

-- Integrations: no secrets in the open ------------------------------------------------------------
select throws_ok(
  format($$ insert into public.integration_connections (vendor_id, kind, display_name, config) values (%L, 'dubsado', 'x', '{"api_key": "sk_live_123"}') $$, tests.id('V1')),
  '23514', null, 'a secret in connection config is rejected');
select throws_ok(
  format($$ insert into public.integration_connections (vendor_id, kind, display_name) values (%L, 'carrier_pigeon', 'x') $$, tests.id('V1')),
  '23514', null, 'an unknown integration kind is rejected');
select throws_ok(
  format($$ update vendorhub.integration_credentials set ciphertext = 'plaintext-password'::bytea where connection_id = %L $$, tests.id('IC1')),
  '23514', null, 'a value too short to be AES-GCM ciphertext is rejected');
select throws_ok(
  format($$ update vendorhub.integration_credentials set key_id = 'bad key!' where connection_id = %L $$, tests.id('IC1')),
  '23514', null, 'a malformed key id is rejected');

-- Webhook inbox -----------------------------------------------------------------------------------
select throws_ok(
  $$ insert into vendorhub.webhook_inbox (source, provider_event_id, payload) values ('honeybook', 'fixture-evt-1', '{}') $$,
  '23505', null, 'a provider event is stored once per source');
with i as (
  insert into vendorhub.webhook_inbox (source, provider_event_id, payload) values ('honeybook', 'fixture-evt-1', '{}')
  on conflict (source, provider_event_id) do nothing returning 1)
select is((select count(*)::integer from i), 0, 'a duplicate delivery is absorbed by ON CONFLICT DO NOTHING');
select throws_ok(
  $$ insert into vendorhub.webhook_inbox (source, provider_event_id, payload, headers) values ('zapier', 'evt-h', '{}', '{"authorization": "Bearer x"}') $$,
  '23514', null, 'credential headers are never stored');
select throws_ok(
  $$ insert into vendorhub.webhook_inbox (source, provider_event_id, payload) values ('Bad Source', 'evt-s', '{}') $$,
  '23514', null, 'a malformed source name is rejected');

-- Audit log: append-only, even for the owner ------------------------------------------------------
select lives_ok($$ insert into vendorhub.audit_log (action, reason) values ('test.append', 'appending works') $$, 'the audit log accepts new entries');
select throws_ok($$ update vendorhub.audit_log set reason = 'rewritten' $$, '42501', null, 'audit entries cannot be updated');
select throws_ok($$ delete from vendorhub.audit_log $$, '42501', null, 'audit entries cannot be deleted');
select throws_ok($$ truncate vendorhub.audit_log $$, '42501', null, 'the audit log cannot be truncated');

-- Bookkeeping -------------------------------------------------------------------------------------
update public.notification_settings set email = 'p1@example.com', email_bounced_at = now() where user_id = tests.id('PARTICIPANT');
update public.notification_settings set email = 'p2@example.com' where user_id = tests.id('PARTICIPANT');
select is((select email_bounced_at from public.notification_settings where user_id = tests.id('PARTICIPANT')), null,
  'a new email address clears the bounce suppression');
update public.tasks set status = 'done', updated_at = '2000-01-01Z' where id = tests.id('T1');
select is((select updated_at from public.tasks where id = tests.id('T1')), now(),
  'updated_at is set by the database, not the client');

select * from finish();
rollback;
