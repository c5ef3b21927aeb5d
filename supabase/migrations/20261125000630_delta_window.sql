-- Calendar sync: the time window of a windowed delta cursor.
--
-- Graph's calendarView delta is bound to the [startDateTime, endDateTime) window of the round
-- that issued its delta link: entries beyond its end never appear through that link. The
-- sidecar keeps the window's end next to the link and re-bases the window (a new full round
-- from now) once it has lost a configured part of its future horizon (outlook.Source
-- RebaseAfter, 7 days by default); a cursor without a recorded window is re-based at once.
alter table vendorhub.calendar_sync
  add column window_end timestamptz;
comment on column vendorhub.calendar_sync.window_end is
  'End of the time window the delta link covers (Graph calendarView); NULL when the cursor has no window.';
