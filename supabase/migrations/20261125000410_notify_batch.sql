-- Set-wise event emission for the rows the notification planner writes in bulk.
--
-- The planner inserts one public.notifications row per recipient — about 1,500 per hand-off of
-- 50 group-chat messages — and, under quiet hours, as many 'deferred' public.deliveries rows, each
-- batch in one INSERT … SELECT FROM unnest(…). A row trigger calling vendorhub.emit() per row was
-- most of the planner's database time. The triggers below run once per statement over its
-- transition table and still write one logical message per inserted row, in insertion order.
-- Rows an ON CONFLICT clause skipped (a replay) are not in the transition table and emit nothing,
-- as before. The delivery workers' status updates keep the row trigger of 20261125000130 (one row
-- per statement there).
--
-- The envelope is the one vendorhub.emit() writes ({id, type, occurred_at, wedding_id when set,
-- actor when set, subject, data}; docs/events.md), byte for byte in jsonb's text form: keys
-- ordered as jsonb orders them (by length, then bytes), ", " and ": " separators, strings and
-- timestamps through to_json (jsonb's own escaping and RFC 3339 format). Written with format()
-- instead of jsonb_build_object: building and printing a jsonb per row cost twice as much.
-- body_preview is vendorhub.preview(body, 280) inlined (a function with SET search_path is
-- called, never inlined, and the call cost more than the work) around vendorhub.squish, which
-- has no SET clause and is inlined. internal/notify's tests compare
-- every emitted envelope with the jsonb vendorhub.emit() builds for the same row.

-- notification.created: an in-app notification was written for a user.
drop trigger emit_notification_created on public.notifications;
create or replace function vendorhub.emit_notification_created() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  actor_field text := case when auth.uid() is null then '' else format(', "actor": "%s"', auth.uid()) end;
  occurred_at_json text := to_json(now())::text;
begin
  perform pg_logical_emit_message(true, 'vendorhub', format(
      '{"id": "%s", '
      '"data": {"title": %s, "user_id": "%s", "category": %s, "event_key": %s, "created_at": %s, '
      '"body_preview": %s, "notification_id": "%s"}, '
      '"type": "notification.created"%s, '
      '"subject": {"id": "%s", "table": "notifications", "user_id": "%s"}%s, '
      '"occurred_at": %s}',
      gen_random_uuid(),
      to_json(n.title), n.user_id, to_json(n.category::text), coalesce(to_json(n.event_key)::text, 'null'),
      to_json(n.created_at),
      coalesce(to_json(case when p.b is null then null when char_length(p.b) <= 280 then p.b
                            else left(p.b, 279) || '…' end)::text, 'null'),
      n.id,
      actor_field,
      n.id, n.user_id,
      case when n.wedding_id is null then '' else format(', "wedding_id": "%s"', n.wedding_id) end,
      occurred_at_json))
  from inserted n
  cross join lateral (select vendorhub.squish(n.body) as b) p;
  return null;
end
$$;
create trigger emit_notification_created after insert on public.notifications
  referencing new table as inserted
  for each statement execute function vendorhub.emit_notification_created();

-- delivery.updated for inserted attempts (the planner's 'deferred' rows, a worker's first write
-- of an attempt); an insert has no old_status. wedding_id is the notification's.
create function vendorhub.emit_delivery_inserted() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  actor_field text := case when auth.uid() is null then '' else format(', "actor": "%s"', auth.uid()) end;
  occurred_at_json text := to_json(now())::text;
begin
  perform pg_logical_emit_message(true, 'vendorhub', format(
      '{"id": "%s", '
      '"data": {"status": %s, "attempt": %s, "channel": %s, "user_id": "%s", "provider": %s, '
      '"event_key": %s, "error_code": %s, "old_status": null, "delivery_id": "%s", '
      '"provider_id": %s, "notification_id": %s}, '
      '"type": "delivery.updated"%s, '
      '"subject": {"id": "%s", "table": "deliveries", "user_id": "%s"}%s, '
      '"occurred_at": %s}',
      gen_random_uuid(),
      to_json(d.status), d.attempt, to_json(d.channel::text), d.user_id, to_json(d.provider),
      coalesce(to_json(d.event_key)::text, 'null'), coalesce(to_json(d.error_code)::text, 'null'), d.id,
      coalesce(to_json(d.provider_id)::text, 'null'), coalesce(to_json(d.notification_id)::text, 'null'),
      actor_field,
      d.id, d.user_id,
      case when d.wedding_id is null then '' else format(', "wedding_id": "%s"', d.wedding_id) end,
      occurred_at_json))
  -- A scalar subquery, not a join: the rows stay in insertion order.
  from (select i.*, (select n.wedding_id from public.notifications n where n.id = i.notification_id) as wedding_id
        from inserted i) d;
  return null;
end
$$;
drop trigger emit_delivery_updated on public.deliveries;
create trigger emit_delivery_updated after insert on public.deliveries
  referencing new table as inserted
  for each statement execute function vendorhub.emit_delivery_inserted();

revoke execute on function vendorhub.emit_delivery_inserted() from public, anon, authenticated;

-- Thread state is updated in place for nearly every decision (window start, pending digest):
-- free space in each page lets those updates stay on the page (HOT), without a new index entry.
alter table vendorhub.notify_threads set (fillfactor = 50);
