-- Availability (issue 8): a commitment mirrored into the vendor's own calendar is not a second
-- busy item.
--
-- CRMs (Dubsado, HoneyBook, Light Blue) and vendors themselves copy bookings into the calendar
-- vendorhub syncs, so the same booking comes back as an availability block. Before this
-- migration that block met its own booking and raised a conflict with itself, and it made the
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
-- except_wedding and blocks that mirror a commitment. kind: block, booking or wedding; id: the
-- row id (wedding_vendors.id for a wedding day).
create or replace function vendorhub.busy_items(v uuid, r tstzrange, except_wedding uuid default null)
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

-- The busy periods within [from_at, to_at) of every vendor connected to a wedding (see
-- 20261125000610_availability.sql), mirrors left out as in busy_items.
create or replace function vendorhub.wedding_vendors_busy(wedding uuid, from_at timestamptz, to_at timestamptz)
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
