-- Availability: public.vendor_availability under RLS, the busy lookup behind it,
-- conflicts and sync runs visible to the right people only.
--
-- World (fixtures/world.psql): W1 on 2027-06-12 (Europe/London) with V1 (booked; block A1
-- 08:00-20:00Z that day; booking B1 for W1) and V3 (confirmed, nothing else); W2 with VOUT.
begin;
\ir fixtures/world.psql
select plan(29);

-- The frontend's question, per caller -------------------------------------------------------------
create function tests.avail(wedding text, f timestamptz, t timestamptz)
  returns table (vendor text, free boolean, busy text)
  language sql
as $$
  select i.name, a.free, a.busy::text
  from public.vendor_availability(tests.id(wedding), f, t) a
  join tests.ids i on i.id = a.vendor_id
  order by i.name
$$;
grant execute on function tests.avail(text, timestamptz, timestamptz) to anon, authenticated, service_role;

select tests.act_as('COUPLE');
select results_eq(
  $$ select vendor, free from tests.avail('W1', '2027-06-12 12:00Z', '2027-06-12 13:00Z') $$,
  $$ values ('V1', false), ('V3', true) $$,
  'the couple sees both vendors of their wedding: V1 busy (block A1), V3 free');
select is(
  (select busy from tests.avail('W1', '2027-06-12 12:00Z', '2027-06-12 13:00Z') where vendor = 'V1'),
  '{["2027-06-12 12:00:00+00","2027-06-12 13:00:00+00")}',
  'busy periods are clipped to the range; no titles or sources');
select results_eq(
  $$ select vendor, free from tests.avail('W1', '2027-06-12 21:00Z', '2027-06-12 23:00Z') $$,
  $$ values ('V1', true), ('V3', true) $$,
  'V1''s own booking for this wedding (B1, until 22:00) does not make it busy for W1');
select is_empty(
  $$ select * from tests.avail('W2', '2027-09-18 00:00Z', '2027-09-19 00:00Z') $$,
  'the couple of W1 sees nothing of W2');

select tests.act_as('VENDOR');
select results_eq(
  $$ select vendor from tests.avail('W1', '2027-06-12 12:00Z', '2027-06-12 13:00Z') $$,
  $$ values ('V1'), ('V3') $$,
  'a member of a connected vendor sees the wedding''s vendors');

select tests.act_as('OUTSIDER');
select is_empty(
  $$ select * from tests.avail('W1', '2027-06-12 12:00Z', '2027-06-12 13:00Z') $$,
  'an outsider sees no vendor of W1');
select throws_ok(
  format($$ select vendorhub.vendor_busy(%L, '2027-06-12 12:00Z', '2027-06-12 13:00Z') $$, tests.id('V1')),
  '42501', null, 'the busy lookup is not callable directly (no USAGE on vendorhub)');

select tests.act_as('anon');
select throws_ok(
  format($$ select * from public.vendor_availability(%L, '2027-06-12 12:00Z', '2027-06-12 13:00Z') $$, tests.id('W1')),
  '42501', null, 'anon may not call vendor_availability');

select tests.act_as('service');
select results_eq(
  $$ select vendor, free from tests.avail('W1', '2027-06-12 12:00Z', '2027-06-12 13:00Z') $$,
  $$ values ('V1', false), ('V3', true) $$,
  'service_role sees the same answer');
select tests.act_as('COUPLE');
select throws_ok(
  format($$ select * from public.vendor_availability(%L, '2027-06-12 13:00Z', '2027-06-12 12:00Z') $$, tests.id('W1')),
  '22023', null, 'an empty or reversed range is a clear error');
select tests.act_as_tester();

-- Buffers widen the busy set -----------------------------------------------------------------------
update public.vendors set buffer_before = '1 hour', buffer_after = '30 minutes' where id = tests.id('V1');
select tests.act_as('COUPLE');
select is(
  (select free from tests.avail('W1', '2027-06-12 20:15Z', '2027-06-12 21:00Z') where vendor = 'V1'),
  false, '20:15 is inside A1''s 30-minute after-buffer');
select is(
  (select free from tests.avail('W1', '2027-06-12 20:30Z', '2027-06-12 21:00Z') where vendor = 'V1'),
  true, 'free from the end of the after-buffer');
select is(
  (select free from tests.avail('W1', '2027-06-12 06:00Z', '2027-06-12 07:30Z') where vendor = 'V1'),
  false, '07:30 is inside A1''s 1-hour before-buffer');
select tests.act_as_tester();

-- Conflicts ----------------------------------------------------------------------------------------
-- The world's A1 already meets V1's booking B1 for W1.
select is(
  (select count(*)::integer from public.availability_conflicts where vendor_id = tests.id('V1') and resolved_at is null),
  1, 'V1: block A1 meeting its booking for W1 is one open conflict (the booking stands for the wedding day)');
select is(
  (select a_kind || '/' || b_kind from public.availability_conflicts where vendor_id = tests.id('V1') and resolved_at is null),
  'booking/block', 'the conflict pairs the commitment (booking B1) with the block');
select is(vendorhub.refresh_conflicts(tests.id('V1')), 0, 're-checking opens nothing new');

select tests.act_as('VENDOR');
select is((select count(*)::integer from public.availability_conflicts where resolved_at is null), 1, 'the vendor''s member sees its conflict');
select tests.act_as('COUPLE');
select is((select count(*)::integer from public.availability_conflicts where a_wedding_id = tests.id('W1') and resolved_at is null), 1,
  'the couple sees the conflict on their wedding');
select tests.act_as('OUTSIDER');
select is((select count(*)::integer from public.availability_conflicts where vendor_id = tests.id('V1')), 0,
  'an outsider sees no conflict of V1');
select is(tests.probe('OUTSIDER', 'delete', 'delete from public.availability_conflicts'), 'N', 'nobody deletes conflicts through the API');
select is(tests.probe('VENDOR', 'insert', $$ insert into public.availability_conflicts (vendor_id, a_kind, a_id, b_kind, b_id, overlap)
  values ({V1}, 'booking', {B1}, 'block', {A1}, tstzrange(now(), now() + interval '1 hour')) $$), 'N',
  'nobody inserts conflicts through the API');
select tests.act_as('anon');
select is(tests.probe('anon', 'select', 'select * from public.availability_conflicts'), 'N', 'anon sees no conflict');
select tests.act_as_tester();

delete from public.availability_blocks where id = tests.id('A1');
select is(
  (select count(*)::integer from public.availability_conflicts where vendor_id = tests.id('V1') and resolved_at is null),
  0, 'removing the block resolves the conflict');

-- A block with exactly B1's range (the CRM's copy of the booking in V1's calendar) mirrors it.
insert into public.availability_blocks (vendor_id, starts_at, ends_at, source, external_id)
values (tests.id('V1'), '2027-06-12 10:00Z', '2027-06-12 22:00Z', 'google', 'mirror-of-b1');
select is(
  (select count(*)::integer from public.availability_conflicts where vendor_id = tests.id('V1') and resolved_at is null),
  0, 'a mirror of booking B1 is no conflict with it');
select tests.act_as('COUPLE');
select is(
  (select free from tests.avail('W1', '2027-06-12 12:00Z', '2027-06-12 13:00Z') where vendor = 'V1'),
  true, 'nor does the mirror make V1 busy for W1, the wedding of the booking it mirrors');
select tests.act_as_tester();
update public.availability_blocks set ends_at = '2027-06-12 21:00Z' where external_id = 'mirror-of-b1';
select is(
  (select count(*)::integer from public.availability_conflicts where vendor_id = tests.id('V1') and resolved_at is null),
  1, 'a block that only overlaps the booking is a conflict');

-- Sync runs ----------------------------------------------------------------------------------------
insert into public.sync_runs (connection_id, vendor_id, kind, started_at, status, created)
values (tests.id('IC1'), tests.id('V1'), 'honeybook', now(), 'ok', 3);
select is(tests.probe('VENDOR', 'select', 'select * from public.sync_runs'), 'Y', 'the vendor''s member reads its sync runs');
select is(tests.probe('OUTSIDER', 'select', 'select * from public.sync_runs'), 'N', 'an outsider reads no sync run');
select is(tests.probe('VENDOR', 'insert', $$ insert into public.sync_runs (connection_id, vendor_id, kind, started_at, status)
  values ({IC1}, {V1}, 'honeybook', now(), 'ok') $$), 'N', 'sync runs are written by the sidecar only');

select * from finish();
rollback;
