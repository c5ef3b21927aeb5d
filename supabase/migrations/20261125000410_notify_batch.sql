-- Set-wise event emission for the rows the notification planner writes in bulk (issue 6).
--
-- The planner inserts one public.notifications row per recipient — about 1,500 per hand-off of
-- 50 group-chat messages — and, under quiet hours, as many 'deferred' public.deliveries rows, each
-- in a single INSERT … SELECT FROM unnest(…). Row triggers calling vendorhub.emit() per row were
-- most of the planner's database time. These triggers run once per statement over its transition
-- table instead and still write one logical message per inserted row, in insertion order, with
-- exactly the envelope vendorhub.emit() writes ({id, type, occurred_at, wedding_id when set,
-- actor when set, subject, data}; docs/events.md), so keys and routing are unchanged. Rows an
-- ON CONFLICT clause skipped (a replay) are not in the transition table and emit nothing, as
-- before. The delivery workers' status updates stay on the row trigger of 20261125000130: they
-- change one row per statement.

-- notification.created: an in-app notification was written for a user.
drop trigger emit_notification_created on public.notifications;
create or replace function vendorhub.emit_notification_created() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  actor uuid := auth.uid();
begin
  perform pg_logical_emit_message(true, 'vendorhub', (
    jsonb_build_object(
      'id', gen_random_uuid(),
      'type', 'notification.created',
      'occurred_at', now(),
      'subject', jsonb_build_object('table', 'notifications', 'id', n.id, 'user_id', n.user_id),
      'data', jsonb_build_object(
        'notification_id', n.id, 'user_id', n.user_id, 'category', n.category,
        'title', n.title, 'body_preview', vendorhub.preview(n.body, 280),
        'event_key', n.event_key, 'created_at', n.created_at))
    || case when n.wedding_id is null then '{}'::jsonb else jsonb_build_object('wedding_id', n.wedding_id) end
    || case when actor is null then '{}'::jsonb else jsonb_build_object('actor', actor) end)::text)
  from inserted n;
  return null;
end
$$;
create trigger emit_notification_created after insert on public.notifications
  referencing new table as inserted
  for each statement execute function vendorhub.emit_notification_created();

-- delivery.updated for inserted attempts (the planner's 'deferred' rows, a worker's first write
-- of an attempt). An insert has no old_status.
create function vendorhub.emit_delivery_inserted() returns trigger
  language plpgsql security definer set search_path = ''
as $$
declare
  actor uuid := auth.uid();
begin
  perform pg_logical_emit_message(true, 'vendorhub', (
    jsonb_build_object(
      'id', gen_random_uuid(),
      'type', 'delivery.updated',
      'occurred_at', now(),
      'subject', jsonb_build_object('table', 'deliveries', 'id', d.id, 'user_id', d.user_id),
      'data', jsonb_build_object(
        'delivery_id', d.id, 'notification_id', d.notification_id, 'user_id', d.user_id,
        'channel', d.channel, 'provider', d.provider, 'status', d.status,
        'old_status', null, 'attempt', d.attempt, 'error_code', d.error_code,
        'provider_id', d.provider_id, 'event_key', d.event_key))
    || case when d.wedding_id is null then '{}'::jsonb else jsonb_build_object('wedding_id', d.wedding_id) end
    || case when actor is null then '{}'::jsonb else jsonb_build_object('actor', actor) end)::text)
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
