// Package calendar turns vendors' external calendars into busy blocks: Google Calendar
// (subpackage google, incremental sync tokens and watch channels), Outlook through Microsoft
// Graph (subpackage outlook, delta queries and change-notification subscriptions) and iCalendar
// feeds of any URL, Light Blue's included (subpackage ical, conditional requests and RRULE
// expansion).
//
// Every source produces a Batch of Changes for one integration connection. Apply writes a batch
// into public.availability_blocks inside one transaction (upsert on vendor, source and external
// id; a full batch deletes what it no longer lists) and returns a Result (created, updated,
// skipped, failed, deleted), which Syncer records per run in public.sync_runs. The provider
// cursor (Google sync token, Graph delta link, feed ETag and Last-Modified) lives in
// vendorhub.calendar_sync, next to watch channel and subscription ids and expiries, and moves in
// the same transaction as the blocks, so a crash between a fetch and its commit re-fetches
// instead of losing changes.
//
// Times are stored in UTC. All-day events are whole days in the vendor's time zone (a day
// across a DST change is 23 or 25 hours long); the zone an event was given in is kept in
// availability_blocks.tz for display.
package calendar
