-- Realtime Authorization on vendorhub's private topics, checked the way Realtime checks a join
-- and a send (docs/realtime.md §7.2): probe rows inserted by the
-- connection's own role, set_config of role/realtime.topic/claims, SELECT of the probe ids under
-- RLS, rollback; a send is an INSERT under a savepoint where 42501 means "may not".
begin;
\ir fixtures/world.psql

-- Whether actor may join topic: one probe row per extension, as Realtime inserts them.
create function tests.can_join(actor text, topic text, row_topic text default null) returns boolean
  language plpgsql
as $$
declare
  seen integer;
  ids uuid[] := array[gen_random_uuid(), gen_random_uuid()];
begin
  begin
    insert into realtime.messages (id, topic, extension, inserted_at, updated_at)
    values (ids[1], coalesce(row_topic, topic), 'broadcast', now(), now()),
           (ids[2], coalesce(row_topic, topic), 'presence', now(), now());
    perform tests.act_as(actor);
    perform set_config('realtime.topic', coalesce(topic, ''), true);
    select count(*) into seen from realtime.messages m where m.id = any (ids);
    raise exception using errcode = 'VHPRB', message = seen::text;
  exception when sqlstate 'VHPRB' then
    return sqlerrm::integer > 0;
  end;
end
$$;

-- Whether actor may send on topic with extension (broadcast or presence).
create function tests.can_send(actor text, topic text, extension text) returns boolean
  language plpgsql
as $$
begin
  begin
    perform tests.act_as(actor);
    perform set_config('realtime.topic', topic, true);
    insert into realtime.messages (topic, extension, payload, event, private)
    values (topic, extension, '{"probe": true}', 'probe', true);
    raise exception using errcode = 'VHPRB', message = 'sent';
  exception
    when sqlstate 'VHPRB' then
      return true;
    when insufficient_privilege then
      return false;
  end;
end
$$;

create function tests.topic(family text, name text) returns text
  language sql stable
as $$ select family || ':' || tests.id(name) $$;

select plan(44);

-- conversation:<uuid>: participants only -----------------------------------------------------------
select ok(tests.can_join('PARTICIPANT', tests.topic('conversation', 'C1')), 'a participant may join conversation:<id>');
select ok(tests.can_join('COUPLE', tests.topic('conversation', 'C1')), 'the couple, participants, may join conversation:<id>');
select ok(not tests.can_join('VENDOR', tests.topic('conversation', 'C1')), 'a vendor of the wedding who is not a participant may not join');
select ok(not tests.can_join('OUTSIDER', tests.topic('conversation', 'C1')), 'an outsider may not join conversation:<id>');
select ok(not tests.can_join('anon', tests.topic('conversation', 'C1')), 'anon may not join conversation:<id>');
select ok(tests.can_join('OUTSIDER', tests.topic('conversation', 'C2')), 'the outsider may join their own conversation');
select ok(not tests.can_send('PARTICIPANT', tests.topic('conversation', 'C1'), 'broadcast'), 'a participant may not broadcast on the server topic (chatter: 80_realtime_topics)');
select ok(tests.can_send('PARTICIPANT', tests.topic('conversation', 'C1'), 'presence'), 'a participant may track presence');
select ok(not tests.can_send('OUTSIDER', tests.topic('conversation', 'C1'), 'broadcast'), 'an outsider may not broadcast to the conversation');
select ok(not tests.can_send('VENDOR', tests.topic('conversation', 'C1'), 'presence'), 'a non-participant may not track presence there');

-- wedding:<uuid>: couple and connected vendors' members receive; they send presence only -----------
select ok(tests.can_join('COUPLE', tests.topic('wedding', 'W1')), 'the couple may join wedding:<id>');
select ok(tests.can_join('VENDOR', tests.topic('wedding', 'W1')), 'a connected vendor''s member may join wedding:<id>');
select ok(tests.can_join('PARTICIPANT', tests.topic('wedding', 'W1')), 'another connected vendor''s member may join wedding:<id>');
select ok(not tests.can_join('OUTSIDER', tests.topic('wedding', 'W1')), 'an outsider may not join wedding:<id>');
select ok(not tests.can_join('COUPLE2', tests.topic('wedding', 'W1')), 'the couple of another wedding may not join');
select ok(not tests.can_join('COUPLE', tests.topic('wedding', 'W2')), 'a couple may not join another wedding');
select ok(tests.can_send('COUPLE', tests.topic('wedding', 'W1'), 'presence'), 'the couple may track presence on their wedding');
select ok(not tests.can_send('COUPLE', tests.topic('wedding', 'W1'), 'broadcast'), 'nobody but the server broadcasts on wedding:<id>');
select ok(not tests.can_send('VENDOR', tests.topic('wedding', 'W1'), 'broadcast'), 'a vendor cannot forge wedding events');
select ok(not tests.can_send('OUTSIDER', tests.topic('wedding', 'W1'), 'presence'), 'an outsider may not track presence on the wedding');

-- vendor:<uuid>: that vendor's members ---------------------------------------------------------------
select ok(tests.can_join('VENDOR', tests.topic('vendor', 'V1')), 'a member may join vendor:<id>');
select ok(not tests.can_join('COUPLE', tests.topic('vendor', 'V1')), 'the couple may not join the vendor topic');
select ok(not tests.can_join('PARTICIPANT', tests.topic('vendor', 'V1')), 'a member of another vendor may not join');
select ok(tests.can_send('VENDOR', tests.topic('vendor', 'V1'), 'presence'), 'a member may track presence on the vendor topic');
select ok(not tests.can_send('VENDOR', tests.topic('vendor', 'V1'), 'broadcast'), 'members cannot forge vendor events');

-- user:<uuid>: that user only ------------------------------------------------------------------------
select ok(tests.can_join('PARTICIPANT', tests.topic('user', 'PARTICIPANT')), 'a user may join user:<own id>');
select ok(not tests.can_join('COUPLE', tests.topic('user', 'PARTICIPANT')), 'a user may not join another user''s topic');
select ok(not tests.can_send('PARTICIPANT', tests.topic('user', 'PARTICIPANT'), 'broadcast'), 'a user may not forge server events on their own topic');
select ok(not tests.can_send('COUPLE', tests.topic('user', 'PARTICIPANT'), 'broadcast'), 'a user may not broadcast to another user');

-- Malformed or foreign topics deny without raising ---------------------------------------------------
select lives_ok($$ select tests.can_join('PARTICIPANT', 'conversation:not-a-uuid') $$, 'a malformed uuid in a topic does not raise');
select ok(not tests.can_join('PARTICIPANT', 'conversation:not-a-uuid'), 'a malformed uuid denies');
select ok(not tests.can_join('PARTICIPANT', 'conversation:'), 'an empty id denies');
select ok(not tests.can_join('PARTICIPANT', tests.topic('conversation', 'C1') || 'x'), 'trailing garbage denies');
select ok(not tests.can_join('PARTICIPANT', upper(tests.topic('conversation', 'C1'))), 'topic families are case-sensitive');
select ok(not tests.can_join('PARTICIPANT', 'room:' || tests.id('C1')), 'an unknown topic family denies');
select ok(not tests.can_join('PARTICIPANT', null, tests.topic('conversation', 'C1')), 'no realtime.topic set denies');
select ok(
  not tests.can_join('PARTICIPANT', tests.topic('conversation', 'C1'), tests.topic('conversation', 'C2')),
  'rows of another topic stay hidden whatever realtime.topic says');
select ok(not tests.can_send('PARTICIPANT', 'conversation:not-a-uuid', 'broadcast'), 'sending to a malformed topic denies');
select ok(not tests.can_send('PARTICIPANT', tests.topic('conversation', 'C1'), 'postgres_changes'), 'only broadcast and presence are authorized');
select ok(tests.can_join('PARTICIPANT', 'conversation:' || upper(tests.id('C1')::text)),
  'upper-case hex digits in the uuid are accepted');

-- Membership changes take effect on the next check ---------------------------------------------------
select lives_ok(
  format($$ delete from public.conversation_participants where conversation_id = %L and user_id = %L $$,
         tests.id('C1'), tests.id('PARTICIPANT')),
  'remove PARTICIPANT from C1');
select ok(not tests.can_join('PARTICIPANT', tests.topic('conversation', 'C1')), 'a participant who left may no longer join');

-- service_role (the sidecar publishing) bypasses RLS ------------------------------------------------
select ok(tests.can_join('service', tests.topic('conversation', 'C1')), 'service_role reads any topic');
select ok(tests.can_send('service', tests.topic('wedding', 'W1'), 'broadcast'), 'service_role sends on any topic');

select * from finish();
rollback;
