-- Realtime topics that cannot be forged and do not leak (20261207000400_realtime_topics.sql):
-- server topics take no client broadcast, clients talk on conversation:<id>:chatter, and
-- bookings' couple-side topic couple:<wedding> is the couple's alone. Probes as in
-- 03_realtime.test.sql.
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

create function tests.chatter(name text) returns text
  language sql stable
as $$ select 'conversation:' || tests.id(name) || ':chatter' $$;

select plan(24);

-- conversation:<uuid>:chatter: the participants talk here ------------------------------------------
select ok(tests.can_join('PARTICIPANT', tests.chatter('C1')), 'a participant may join the chatter topic');
select ok(tests.can_join('COUPLE', tests.chatter('C1')), 'the couple, participants, may join it');
select ok(not tests.can_join('VENDOR', tests.chatter('C1')), 'a vendor of the wedding who is not a participant may not');
select ok(not tests.can_join('OUTSIDER', tests.chatter('C1')), 'an outsider may not');
select ok(tests.can_send('PARTICIPANT', tests.chatter('C1'), 'broadcast'), 'a participant may broadcast (typing)');
select ok(tests.can_send('PARTICIPANT', tests.chatter('C1'), 'presence'), 'a participant may track presence');
select ok(not tests.can_send('OUTSIDER', tests.chatter('C1'), 'broadcast'), 'an outsider may not broadcast there');
select ok(not tests.can_send('VENDOR', tests.chatter('C1'), 'broadcast'), 'a non-participant may not broadcast there');
select ok(not tests.can_join('PARTICIPANT', tests.chatter('C1') || 'x'), 'trailing garbage after :chatter denies');
select ok(not tests.can_send('PARTICIPANT', tests.topic('conversation', 'C1') || ':typing', 'broadcast'), 'only :chatter is a client topic');

-- Server topics take no client broadcast, from anyone who may read them ------------------------------
select ok(not tests.can_send('PARTICIPANT', tests.topic('conversation', 'C1'), 'broadcast'), 'no client broadcast on conversation:<id>');
select ok(not tests.can_send('COUPLE', tests.topic('wedding', 'W1'), 'broadcast'), 'no client broadcast on wedding:<id>');
select ok(not tests.can_send('COUPLE', tests.topic('couple', 'W1'), 'broadcast'), 'no client broadcast on couple:<id>');
select ok(not tests.can_send('VENDOR', tests.topic('vendor', 'V1'), 'broadcast'), 'no client broadcast on vendor:<id>');
select ok(not tests.can_send('PARTICIPANT', tests.topic('user', 'PARTICIPANT'), 'broadcast'), 'no client broadcast on user:<id>');
select ok(tests.can_send('PARTICIPANT', tests.topic('conversation', 'C1'), 'presence'), 'presence stays open on the conversation topic');
select ok(tests.can_send('service', tests.topic('conversation', 'C1'), 'broadcast'), 'service_role (the sidecar) still broadcasts there');

-- couple:<wedding uuid>: the couple alone (bookings) -------------------------------------------------
select ok(tests.can_join('COUPLE', tests.topic('couple', 'W1')), 'the couple may join couple:<wedding>');
select ok(not tests.can_join('VENDOR', tests.topic('couple', 'W1')), 'a connected vendor''s member may not');
select ok(not tests.can_join('PARTICIPANT', tests.topic('couple', 'W1')), 'another connected vendor''s member may not');
select ok(not tests.can_join('COUPLE2', tests.topic('couple', 'W1')), 'the couple of another wedding may not');
select ok(tests.can_send('COUPLE', tests.topic('couple', 'W1'), 'presence'), 'the couple may track presence there');

-- Removal takes effect on the next check (the gateway re-checks on membership.removed) -------------
select lives_ok(
  format($$ delete from public.wedding_vendors where wedding_id = %L and vendor_id = %L $$, tests.id('W1'), tests.id('V1')),
  'disconnect V1 from W1');
select ok(not tests.can_join('VENDOR', tests.topic('wedding', 'W1')), 'a disconnected vendor''s member may no longer join the wedding topic');

select * from finish();
rollback;
