-- Availability: one busy set per vendor, buffers, conflict detection, and the
-- "which connected vendors are free" function for the frontend.
--
-- Busy set of a vendor: its availability_blocks (every calendar and CRM source), its bookings
-- that hold time (held, booked) and the weddings it is booked for (wedding_vendors booked or
-- confirmed: the whole wedding day in the wedding's zone, unless a booking of the vendor for that
-- wedding says more precisely when it works). Each item is widened by the vendor's
-- buffers, [starts_at - buffer_before, ends_at + buffer_after): set-up before, travel and
-- tear-down after. A range is free when it meets no widened item.
--
-- Conflicts: a commitment (a held/booked booking, or a booked wedding day) that meets another
-- item of the busy set, widened, is a conflict. Items of the same wedding never conflict with
-- each other (the booking for a wedding is that wedding's day). Each conflict is one row of
-- public.availability_conflicts, open until the overlap disappears; the insert emits
-- conflict.detected, so an overlap raises exactly one event however often it is re-checked, and
-- a new overlap (after the old one was resolved) raises a new one. Statement-level triggers on
-- the tables that shape the busy set re-check the vendors a statement touched, inside the same
-- transaction (no dual write: the event exists iff the change committed).

create extension if not exists btree_gist with schema extensions;

-- ---------------------------------------------------------------------------------------------
-- Buffers and indexes
-- ---------------------------------------------------------------------------------------------

alter table public.vendors
  add column buffer_before interval not null default '0'
    check (buffer_before >= interval '0' and buffer_before <= interval '7 days'),
  add column buffer_after interval not null default '0'
    check (buffer_after >= interval '0' and buffer_after <= interval '7 days');
comment on column public.vendors.buffer_before is 'Time kept free before each busy item (set-up, travel).';
comment on column public.vendors.buffer_after is 'Time kept free after each busy item (tear-down, travel).';

-- "Busy between a and b for vendor v": (vendor_id, tstzrange(starts_at, ends_at)) && range.
create index availability_blocks_busy_idx on public.availability_blocks
  using gist (vendor_id, tstzrange(starts_at, ends_at));
create index bookings_busy_idx on public.bookings
  using gist (vendor_id, tstzrange(starts_at, ends_at)) where status in ('held', 'booked');

-- The whole wedding day in the wedding's zone (23 or 25 hours across a DST change).
create function vendorhub.wedding_day(day date, tz text) returns tstzrange
  language sql immutable parallel safe set search_path = ''
as $$
  select tstzrange(day::timestamp at time zone tz, (day + 1)::timestamp at time zone tz)
$$;

-- ---------------------------------------------------------------------------------------------
-- Busy set
-- ---------------------------------------------------------------------------------------------

-- Mirrors: a commitment copied into the vendor's own calendar is not a second busy item.
--
-- CRMs (Dubsado, HoneyBook, Light Blue) and vendors themselves copy bookings into the calendar
-- vendorhub syncs, so the same booking comes back as an availability block. Without this
-- rule that block met its own booking and raised a conflict with itself, and it made the
-- vendor look busy for the very wedding the booking is for.
--
-- The rule: a block MIRRORS a commitment of its vendor when its range is exactly the
-- commitment's range — a held/booked booking's [starts_at, ends_at), or the day of a wedding
-- the vendor is booked or confirmed for and has no held/booked booking for (the wedding day in
-- the wedding's zone, which is what an all-day calendar entry in the same zone is). Two sources
-- that agree to the second on both ends describe the same commitment; the commitment already
-- stands for that time, so the mirror is left out of the busy set: it raises no conflict (with
-- its own commitment or anything else: a genuine overlap is raised once, by the commitment)
-- and it does not make the vendor busy for the wedding the commitment belongs to.
--
-- A block that merely overlaps a commitment, or mirrors an inquiry or cancelled booking, is
-- still busy (the vendor's calendar is the truth until the CRM says the time is held). While a
-- booking is moved in the CRM and its mirror not yet synced, the two differ and a conflict is
-- raised, and resolved by the sync that moves the mirror.

-- The raw busy items of vendor v meeting range r (unwidened), except those of wedding
-- except_wedding and blocks that mirror a commitment. kind: block, booking or wedding;
-- id: the row id (wedding_vendors.id for a wedding day).
create function vendorhub.busy_items(v uuid, r tstzrange, except_wedding uuid default null)
  returns table (kind text, id uuid, wedding_id uuid, busy tstzrange)
  language plpgsql stable security definer set search_path = ''
as $$
begin
  -- PL/pgSQL, not SQL: its statements' plans are cached per session (SQL function bodies are
  -- planned on every call, which costs more than the index lookups themselves).
  return query
  select 'block'::text, b.id, null::uuid, tstzrange(b.starts_at, b.ends_at)
  from public.availability_blocks b
  where b.vendor_id = v and tstzrange(b.starts_at, b.ends_at) && r
    and not exists (select 1 from public.bookings m
                    where m.vendor_id = v and m.starts_at = b.starts_at and m.ends_at = b.ends_at
                      and m.status in ('held', 'booked'))
    -- (A wedding day is 23 to 25 hours long: the length rules most blocks out before the lookup.)
    and not (b.ends_at - b.starts_at between interval '23 hours' and interval '25 hours'
             and exists (select 1 from public.wedding_vendors mw join public.weddings w on w.id = mw.wedding_id
                         where mw.vendor_id = v and mw.status in ('booked', 'confirmed')
                           and w.wedding_date between (b.starts_at at time zone 'UTC')::date - 1 and (b.starts_at at time zone 'UTC')::date + 1
                           and vendorhub.wedding_day(w.wedding_date, w.timezone) = tstzrange(b.starts_at, b.ends_at)
                           and not exists (select 1 from public.bookings k3 where k3.vendor_id = v and k3.wedding_id = mw.wedding_id
                                           and k3.status in ('held', 'booked'))))
  union all
  select 'booking'::text, k.id, k.wedding_id, tstzrange(k.starts_at, k.ends_at)
  from public.bookings k
  where k.vendor_id = v and k.status in ('held', 'booked') and tstzrange(k.starts_at, k.ends_at) && r
    and (except_wedding is null or k.wedding_id is distinct from except_wedding)
  union all
  select 'wedding'::text, wv.id, wv.wedding_id, vendorhub.wedding_day(w.wedding_date, w.timezone)
  from public.wedding_vendors wv
  join public.weddings w on w.id = wv.wedding_id
  where wv.vendor_id = v and wv.status in ('booked', 'confirmed')
    and not exists (select 1 from public.bookings k2 where k2.vendor_id = v and k2.wedding_id = wv.wedding_id
                    and k2.status in ('held', 'booked'))
    and w.wedding_date between (lower(r) at time zone 'UTC')::date - 1 and (upper(r) at time zone 'UTC')::date + 1
    and vendorhub.wedding_day(w.wedding_date, w.timezone) && r
    and (except_wedding is null or wv.wedding_id <> except_wedding);
end
$$;

-- The commitments of vendor v: bookings that hold time, and the days of weddings it is booked for.
create function vendorhub.commitments(v uuid)
  returns table (kind text, id uuid, wedding_id uuid, busy tstzrange)
  language sql stable security definer set search_path = ''
as $$
  select 'booking', k.id, k.wedding_id, tstzrange(k.starts_at, k.ends_at)
  from public.bookings k
  where k.vendor_id = v and k.status in ('held', 'booked')
  union all
  select 'wedding', wv.id, wv.wedding_id, vendorhub.wedding_day(w.wedding_date, w.timezone)
  from public.wedding_vendors wv
  join public.weddings w on w.id = wv.wedding_id
  where wv.vendor_id = v and wv.status in ('booked', 'confirmed')
    and not exists (select 1 from public.bookings k2 where k2.vendor_id = v and k2.wedding_id = wv.wedding_id
                    and k2.status in ('held', 'booked'))
$$;

-- The busy periods of vendor v within [from_at, to_at): items widened by the vendor's buffers,
-- merged, clipped to the range; empty when free. Items of wedding for_wedding are left out (a
-- wedding's own bookings don't make its vendor busy for it). Returns NULL when the caller may not
-- see the vendor through that wedding (API roles) — never "free" by mistake.
create function vendorhub.vendor_busy(v uuid, from_at timestamptz, to_at timestamptz, for_wedding uuid default null)
  returns tstzmultirange
  language plpgsql stable security definer set search_path = ''
as $$
declare
  before interval;
  after interval;
  result tstzmultirange;
begin
  if from_at is null or to_at is null or to_at <= from_at then
    raise exception 'vendor_busy: the range must be non-empty (from % to %)', from_at, to_at
      using errcode = '22023';
  end if;
  if coalesce(current_setting('role', true), 'none') in ('anon', 'authenticated') and not (
       vendorhub.is_vendor_member(v)
       or (for_wedding is not null and vendorhub.can_see_wedding(for_wedding)
           and exists (select 1 from public.wedding_vendors wv where wv.wedding_id = for_wedding and wv.vendor_id = v))) then
    return null;
  end if;
  select x.buffer_before, x.buffer_after into before, after from public.vendors x where x.id = v;
  if not found then
    return null;
  end if;
  -- An item [s, e) widened to [s - before, e + after) meets [from, to) iff [s, e) meets
  -- [from - after, to + before).
  select coalesce(range_agg(tstzrange(lower(i.busy) - before, upper(i.busy) + after)), '{}'::tstzmultirange)
         * tstzmultirange(tstzrange(from_at, to_at))
    into result
  from vendorhub.busy_items(v, tstzrange(from_at - after, to_at + before), for_wedding) i;
  return result;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- The frontend's question: which of this wedding's vendors are free in [from_at, to_at)?
-- ---------------------------------------------------------------------------------------------

-- The busy periods within [from_at, to_at) of every vendor connected to a wedding (not declined
-- or cancelled), with the vendor's name, kind, zone and connection status, in one
-- set-based query (GiST probes per vendor), for vendor_availability. Returns no rows when an
-- API caller may not see the wedding. Mirrors are left out as in busy_items.
create function vendorhub.wedding_vendors_busy(wedding uuid, from_at timestamptz, to_at timestamptz)
  returns table (vendor_id uuid, vendor_name text, vendor_kind text, vendor_timezone text, connection_status text,
                 free boolean, busy tstzmultirange)
  language plpgsql stable security definer set search_path = ''
as $$
begin
  if from_at is null or to_at is null or to_at <= from_at then
    raise exception 'vendor_availability: the range must be non-empty (from % to %)', from_at, to_at
      using errcode = '22023';
  end if;
  if coalesce(current_setting('role', true), 'none') in ('anon', 'authenticated')
     and not vendorhub.can_see_wedding(wedding) then
    return;
  end if;
  return query
  select a.vendor_id, a.name, a.kind, a.tz, a.status, a.busy = '{}'::tstzmultirange, a.busy
  from (
  select wv.vendor_id, x.name, x.kind, x.timezone::text as tz, wv.status,
         coalesce(range_agg(tstzrange(lower(i.busy) - x.buffer_before, upper(i.busy) + x.buffer_after))
                    filter (where i.busy is not null), '{}'::tstzmultirange)
           * tstzmultirange(tstzrange(from_at, to_at)) as busy
  from public.wedding_vendors wv
  join public.vendors x on x.id = wv.vendor_id
  left join lateral (
    select tstzrange(b.starts_at, b.ends_at) as busy
    from public.availability_blocks b
    where b.vendor_id = wv.vendor_id
      and tstzrange(b.starts_at, b.ends_at) && tstzrange(from_at - x.buffer_after, to_at + x.buffer_before)
      and not exists (select 1 from public.bookings m
                      where m.vendor_id = wv.vendor_id and m.starts_at = b.starts_at and m.ends_at = b.ends_at
                        and m.status in ('held', 'booked'))
      and not (b.ends_at - b.starts_at between interval '23 hours' and interval '25 hours'
               and exists (select 1 from public.wedding_vendors mw join public.weddings mwd on mwd.id = mw.wedding_id
                           where mw.vendor_id = wv.vendor_id and mw.status in ('booked', 'confirmed')
                             and mwd.wedding_date between (b.starts_at at time zone 'UTC')::date - 1 and (b.starts_at at time zone 'UTC')::date + 1
                             and vendorhub.wedding_day(mwd.wedding_date, mwd.timezone) = tstzrange(b.starts_at, b.ends_at)
                             and not exists (select 1 from public.bookings k3 where k3.vendor_id = mw.vendor_id
                                             and k3.wedding_id = mw.wedding_id and k3.status in ('held', 'booked'))))
    union all
    select tstzrange(k.starts_at, k.ends_at)
    from public.bookings k
    where k.vendor_id = wv.vendor_id and k.status in ('held', 'booked')
      and tstzrange(k.starts_at, k.ends_at) && tstzrange(from_at - x.buffer_after, to_at + x.buffer_before)
      and k.wedding_id is distinct from wedding
    union all
    select vendorhub.wedding_day(w.wedding_date, w.timezone)
    from public.wedding_vendors o
    join public.weddings w on w.id = o.wedding_id
    where o.vendor_id = wv.vendor_id and o.status in ('booked', 'confirmed') and o.wedding_id <> wedding
      and not exists (select 1 from public.bookings k2 where k2.vendor_id = o.vendor_id and k2.wedding_id = o.wedding_id
                      and k2.status in ('held', 'booked'))
      and w.wedding_date between (from_at at time zone 'UTC')::date - 2 and (to_at at time zone 'UTC')::date + 2
      and vendorhub.wedding_day(w.wedding_date, w.timezone) && tstzrange(from_at - x.buffer_after, to_at + x.buffer_before)
  ) i on true
  where wv.wedding_id = wedding and wv.status not in ('declined', 'cancelled')
  group by wv.vendor_id, wv.status, x.id
  ) a
  order by a.kind, a.name, a.vendor_id;
end
$$;

-- SECURITY INVOKER: RLS on public.weddings decides whether the caller sees the wedding (its
-- couple and the members of its vendors; service_role every wedding), exactly as it decides
-- whether they see its wedding_vendors and vendors: a wedding the caller may not see is NULL here
-- and yields no row. One policy check per call, not one per vendor row (running the
-- wedding_vendors and vendors policies on 40 rows took more than the query's whole 20 ms budget).
-- The lookup behind it checks the same predicate again and reveals only merged busy periods
-- inside the range, never what they are. The SQL-standard body is parsed at creation, so callers
-- need no USAGE on schema vendorhub (and the Supabase CLI, which splits files on semicolons,
-- can apply it: no BEGIN ATOMIC).
create function public.vendor_availability(wedding uuid, from_at timestamptz, to_at timestamptz)
  returns table (
    vendor_id uuid, vendor_name text, vendor_kind text, vendor_timezone text, connection_status text,
    free boolean, busy tstzmultirange)
  language sql stable security invoker set search_path = ''
  return vendorhub.wedding_vendors_busy(
    (select w.id from public.weddings w where w.id = vendor_availability.wedding),
    vendor_availability.from_at, vendor_availability.to_at);
comment on function public.vendor_availability(uuid, timestamptz, timestamptz) is
  'Connected vendors of a wedding with whether each is free in [from_at, to_at) (buffers applied) and its busy periods there; free is NULL when unknown.';

-- ---------------------------------------------------------------------------------------------
-- Conflicts
-- ---------------------------------------------------------------------------------------------

create table public.availability_conflicts (
  id uuid primary key default gen_random_uuid(),
  vendor_id uuid not null references public.vendors (id) on delete cascade,
  -- a: the commitment; b: what it meets (for two commitments, a is the smaller key).
  a_kind text not null check (a_kind in ('booking', 'wedding')),
  a_id uuid not null,
  a_wedding_id uuid,
  b_kind text not null check (b_kind in ('block', 'booking', 'wedding')),
  b_id uuid not null,
  b_wedding_id uuid,
  overlap tstzrange not null,
  detected_at timestamptz not null default now(),
  resolved_at timestamptz
);
create unique index availability_conflicts_open_idx on public.availability_conflicts (a_kind, a_id, b_kind, b_id)
  where resolved_at is null;
create index availability_conflicts_vendor_idx on public.availability_conflicts (vendor_id) where resolved_at is null;
create index availability_conflicts_wedding_idx on public.availability_conflicts (a_wedding_id) where a_wedding_id is not null;
comment on table public.availability_conflicts is
  'A vendor commitment overlapping another item of its busy set (buffers applied); open until the overlap is gone.';

alter table public.availability_conflicts enable row level security;
create policy "availability_conflicts: members and the people of the wedding read" on public.availability_conflicts
  for select to authenticated
  using (vendorhub.is_vendor_member(vendor_id)
         or (a_wedding_id is not null and vendorhub.can_see_wedding(a_wedding_id))
         or (b_wedding_id is not null and vendorhub.can_see_wedding(b_wedding_id)));
revoke insert, update, delete, truncate, references, trigger on public.availability_conflicts from anon, authenticated;

-- Re-checks vendor v: opens a row for every overlap not open yet, resolves open rows whose
-- overlap is gone. Returns the number of conflicts opened.
create function vendorhub.refresh_conflicts(v uuid) returns integer
  language plpgsql volatile security definer set search_path = ''
as $$
declare
  before interval;
  after interval;
  opened integer;
begin
  select x.buffer_before, x.buffer_after into before, after from public.vendors x where x.id = v;
  if not found then
    return 0;
  end if;
  -- One statement: the current overlaps (each pair once), resolve open rows no longer among
  -- them, open rows for new ones (the partial unique index absorbs those already open).
  with pairs as (
    select c.kind as ck, c.id as cid, c.wedding_id as cw, c.busy as cr,
           o.kind as ok, o.id as oid, o.wedding_id as ow, o.busy as orr,
           o.kind = 'block' or (c.kind, c.id::text) < (o.kind, o.id::text) as c_first
    from vendorhub.commitments(v) c
    cross join lateral vendorhub.busy_items(v, tstzrange(lower(c.busy) - after, upper(c.busy) + before)) o
    where not (o.kind = c.kind and o.id = c.id)
      and (c.wedding_id is null or o.wedding_id is null or c.wedding_id <> o.wedding_id)
  ),
  found as (
    select distinct on (a_kind, a_id, b_kind, b_id) *
    from (
      select case when c_first then ck else ok end as a_kind, case when c_first then cid else oid end as a_id,
             case when c_first then cw else ow end as a_wedding_id,
             case when c_first then ok else ck end as b_kind, case when c_first then oid else cid end as b_id,
             case when c_first then ow else cw end as b_wedding_id,
             cr * tstzrange(lower(orr) - before, upper(orr) + after) as overlap
      from pairs
    ) x
    order by a_kind, a_id, b_kind, b_id
  ),
  resolved as (
    update public.availability_conflicts ac set resolved_at = now()
    where ac.vendor_id = v and ac.resolved_at is null
      and not exists (select 1 from found n where (n.a_kind, n.a_id, n.b_kind, n.b_id) = (ac.a_kind, ac.a_id, ac.b_kind, ac.b_id))
    returning 1
  ),
  opened_rows as (
    insert into public.availability_conflicts (vendor_id, a_kind, a_id, a_wedding_id, b_kind, b_id, b_wedding_id, overlap)
    select v, n.a_kind, n.a_id, n.a_wedding_id, n.b_kind, n.b_id, n.b_wedding_id, n.overlap
    from found n
    on conflict (a_kind, a_id, b_kind, b_id) where resolved_at is null do nothing
    returning 1
  )
  select count(*) into opened from opened_rows;
  return opened;
end
$$;

-- conflict.detected: one event per opened conflict, for the vendor and the wedding(s).
create function vendorhub.emit_conflict_detected() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  perform vendorhub.emit('conflict.detected', coalesce(new.a_wedding_id, new.b_wedding_id),
    jsonb_build_object('table', 'availability_conflicts', 'id', new.id, 'vendor_id', new.vendor_id),
    jsonb_build_object(
      'conflict_id', new.id, 'vendor_id', new.vendor_id,
      'commitment', jsonb_build_object('kind', new.a_kind, 'id', new.a_id, 'wedding_id', new.a_wedding_id),
      'other', jsonb_build_object('kind', new.b_kind, 'id', new.b_id, 'wedding_id', new.b_wedding_id),
      'overlap_start', lower(new.overlap), 'overlap_end', upper(new.overlap)));
  return null;
end
$$;
create trigger emit_conflict_detected after insert on public.availability_conflicts
  for each row execute function vendorhub.emit_conflict_detected();

-- Statement-level re-checks: each distinct vendor a statement touched, once.
create function vendorhub.refresh_conflicts_rows() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  v uuid;
begin
  if tg_op = 'INSERT' then
    for v in select distinct n.vendor_id from new_rows n loop perform vendorhub.refresh_conflicts(v); end loop;
  elsif tg_op = 'DELETE' then
    for v in select distinct o.vendor_id from old_rows o loop perform vendorhub.refresh_conflicts(v); end loop;
  else
    for v in select n.vendor_id from new_rows n union select o.vendor_id from old_rows o loop
      perform vendorhub.refresh_conflicts(v);
    end loop;
  end if;
  return null;
end
$$;

create trigger refresh_conflicts_insert after insert on public.availability_blocks
  referencing new table as new_rows for each statement execute function vendorhub.refresh_conflicts_rows();
create trigger refresh_conflicts_update after update on public.availability_blocks
  referencing old table as old_rows new table as new_rows for each statement execute function vendorhub.refresh_conflicts_rows();
create trigger refresh_conflicts_delete after delete on public.availability_blocks
  referencing old table as old_rows for each statement execute function vendorhub.refresh_conflicts_rows();

create trigger refresh_conflicts_insert after insert on public.bookings
  referencing new table as new_rows for each statement execute function vendorhub.refresh_conflicts_rows();
create trigger refresh_conflicts_update after update on public.bookings
  referencing old table as old_rows new table as new_rows for each statement execute function vendorhub.refresh_conflicts_rows();
create trigger refresh_conflicts_delete after delete on public.bookings
  referencing old table as old_rows for each statement execute function vendorhub.refresh_conflicts_rows();

create trigger refresh_conflicts_insert after insert on public.wedding_vendors
  referencing new table as new_rows for each statement execute function vendorhub.refresh_conflicts_rows();
create trigger refresh_conflicts_update after update on public.wedding_vendors
  referencing old table as old_rows new table as new_rows for each statement execute function vendorhub.refresh_conflicts_rows();
create trigger refresh_conflicts_delete after delete on public.wedding_vendors
  referencing old table as old_rows for each statement execute function vendorhub.refresh_conflicts_rows();

-- A wedding moved (date or zone): re-check its vendors.
create function vendorhub.refresh_conflicts_wedding() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  v uuid;
begin
  for v in select distinct wv.vendor_id from public.wedding_vendors wv where wv.wedding_id = new.id loop
    perform vendorhub.refresh_conflicts(v);
  end loop;
  return null;
end
$$;
create trigger refresh_conflicts_wedding after update of wedding_date, timezone on public.weddings
  for each row when ((new.wedding_date, new.timezone) is distinct from (old.wedding_date, old.timezone))
  execute function vendorhub.refresh_conflicts_wedding();

-- Buffers changed: re-check the vendor.
create function vendorhub.refresh_conflicts_vendor() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  perform vendorhub.refresh_conflicts(new.id);
  return null;
end
$$;
create trigger refresh_conflicts_vendor after update of buffer_before, buffer_after on public.vendors
  for each row when ((new.buffer_before, new.buffer_after) is distinct from (old.buffer_before, old.buffer_after))
  execute function vendorhub.refresh_conflicts_vendor();

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

revoke execute on function
  vendorhub.wedding_day(date, text), vendorhub.busy_items(uuid, tstzrange, uuid), vendorhub.commitments(uuid),
  vendorhub.refresh_conflicts(uuid), vendorhub.emit_conflict_detected(),
  vendorhub.refresh_conflicts_rows(), vendorhub.refresh_conflicts_wedding(), vendorhub.refresh_conflicts_vendor()
  from public, anon, authenticated;
-- wedding_vendors_busy is reached through public.vendor_availability (whose pre-parsed body
-- needs no USAGE on schema vendorhub); like vendor_busy, it checks the caller itself.
revoke execute on function vendorhub.vendor_busy(uuid, timestamptz, timestamptz, uuid) from public, anon;
grant execute on function vendorhub.vendor_busy(uuid, timestamptz, timestamptz, uuid) to authenticated, service_role;
revoke execute on function vendorhub.wedding_vendors_busy(uuid, timestamptz, timestamptz) from public, anon;
grant execute on function vendorhub.wedding_vendors_busy(uuid, timestamptz, timestamptz) to authenticated, service_role;
revoke execute on function public.vendor_availability(uuid, timestamptz, timestamptz) from public, anon;
grant execute on function public.vendor_availability(uuid, timestamptz, timestamptz) to authenticated, service_role;
