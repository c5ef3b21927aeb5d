-- Availability of a vendor the couple has only inquired: until the vendor answers (status still
-- inquiry), a caller who is not the vendor's member sees its busy periods within the wedding's
-- own day only, and "free" is unknown (null) for a range reaching outside that day. Otherwise any
-- couple could inquire any vendor and read its whole calendar, window by window. Once the vendor
-- answers (proposal, booked, confirmed) the full range applies, as before. The function is
-- 20261125000610's vendorhub.wedding_vendors_busy with that rule added.

create or replace function vendorhub.wedding_vendors_busy(wedding uuid, from_at timestamptz, to_at timestamptz)
  returns table (vendor_id uuid, vendor_name text, vendor_kind text, vendor_timezone text, connection_status text,
                 free boolean, busy tstzmultirange)
  language plpgsql stable security definer set search_path = ''
as $$
declare
  api boolean := coalesce(current_setting('role', true), 'none') in ('anon', 'authenticated');
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
  select a.vendor_id, a.name, a.kind, a.tz, a.status,
         case when a.hidden and not tstzrange(from_at, to_at) <@ a.day then null
              else a.busy * a.visible = '{}'::tstzmultirange end,
         a.busy * a.visible
  from (
  select wv.vendor_id, x.name, x.kind, x.timezone::text as tz, wv.status,
         -- An unanswered inquiry shows an outside caller only the wedding's own day.
         (wv.status = 'inquiry' and api and not vendorhub.is_vendor_member(wv.vendor_id)) as hidden,
         vendorhub.wedding_day(wd.wedding_date, wd.timezone) as day,
         case when wv.status = 'inquiry' and api and not vendorhub.is_vendor_member(wv.vendor_id)
              then tstzmultirange(vendorhub.wedding_day(wd.wedding_date, wd.timezone))
              else tstzmultirange(tstzrange(null, null)) end as visible,
         coalesce(range_agg(tstzrange(lower(i.busy) - x.buffer_before, upper(i.busy) + x.buffer_after))
                    filter (where i.busy is not null), '{}'::tstzmultirange)
           * tstzmultirange(tstzrange(from_at, to_at)) as busy
  from public.wedding_vendors wv
  join public.vendors x on x.id = wv.vendor_id
  join public.weddings wd on wd.id = wv.wedding_id
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
  group by wv.vendor_id, wv.status, x.id, wd.id
  ) a
  order by a.kind, a.name, a.vendor_id;
end
$$;
