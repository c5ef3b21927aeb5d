package availability_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/availability"
	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/ical"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

// staticTokens hands every connection the same access token (the fakes here don't check it;
// token refresh is tested in package oauth).
type staticTokens struct{}

func (staticTokens) Token(context.Context, string) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: "at-static", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

type bundle struct {
	db     *pgtest.DB
	google *providerfake.GoogleCalendar
	graph  *providerfake.Graph
	lb     *providerfake.LightBlue
	syncer *calendar.Syncer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{db: pgtest.NewDB(t), google: providerfake.NewGoogleCalendar(), graph: providerfake.NewGraph(), lb: providerfake.NewLightBlue()}
	t.Cleanup(b.google.Close)
	t.Cleanup(b.graph.Close)
	t.Cleanup(b.lb.Close)
	now := func() time.Time { return time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) }
	b.syncer = &calendar.Syncer{Pool: b.db.Pool, Sources: map[integration.Kind]calendar.Source{
		integration.GoogleCalendar: &google.Source{Endpoint: b.google.Endpoint(), Tokens: staticTokens{}},
		integration.Outlook:        &outlook.Source{BaseURL: b.graph.BaseURL(), Tokens: staticTokens{}, Now: now},
		integration.ICal:           &ical.Source{Now: now, HTTPClient: ical.NewHTTPClient(true, 0)}, // the fake feed is on loopback
	}}
	return b
}

func (b *bundle) sync(t *testing.T, conn string) calendar.Result {
	t.Helper()
	res, err := b.syncer.Sync(context.Background(), conn)
	require.NoError(t, err)
	return res
}

func ics(events ...string) string {
	s := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
	for _, e := range events {
		s += e
	}
	return s + "END:VCALENDAR\r\n"
}

func TestBusySetMergesThreeSourcesWithBuffersAllDayAndDST(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ny := loc(t, "America/New_York")
	vendor := it.Vendor(t, b.db.Pool, "Lumen & Lace", "America/New_York")
	it.Buffers(t, b.db.Pool, vendor, time.Hour, 30*time.Minute)

	// Google: a timed event given in London time; Outlook: one right after it; the iCal feed: an
	// all-day shoot and an all-day event on the day New York leaves DST (25 hours long).
	b.google.Put("primary", providerfake.GoogleEvent{ID: "g1", TimeZone: "Europe/London",
		Start: time.Date(2026, 6, 6, 15, 0, 0, 0, loc(t, "Europe/London")), End: time.Date(2026, 6, 6, 17, 0, 0, 0, loc(t, "Europe/London"))})
	b.graph.Put(providerfake.GraphEvent{ID: "o1", Start: time.Date(2026, 6, 6, 13, 0, 0, 0, ny), End: time.Date(2026, 6, 6, 14, 0, 0, 0, ny)})
	feed := b.lb.SetFeed("shoots", "", "", ics(
		"BEGIN:VEVENT\r\nUID:allday\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260610\r\nDTEND;VALUE=DATE:20260611\r\nEND:VEVENT\r\n",
		"BEGIN:VEVENT\r\nUID:dst\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261101\r\nEND:VEVENT\r\n"))
	g := it.Connection(t, b.db.Pool, nil, vendor, integration.GoogleCalendar, nil, integration.Credential{})
	o := it.Connection(t, b.db.Pool, nil, vendor, integration.Outlook, nil, integration.Credential{})
	f := it.Connection(t, b.db.Pool, nil, vendor, integration.ICal, map[string]any{"feed_url": feed}, integration.Credential{})
	require.Equal(t, 1, b.sync(t, g).Created)
	require.Equal(t, 1, b.sync(t, o).Created)
	require.Equal(t, 2, b.sync(t, f).Created)

	var tz string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select tz from public.availability_blocks where external_id = 'g1'`).Scan(&tz))
	require.Equal(t, "Europe/London", tz, "the source's zone is kept for display")

	busy, err := availability.Busy(ctx, b.db.Pool, vendor, time.Date(2026, 6, 1, 0, 0, 0, 0, ny), time.Date(2026, 12, 1, 0, 0, 0, 0, ny))
	require.NoError(t, err)
	var got []string
	for _, iv := range busy {
		got = append(got, iv.Start.In(ny).Format("01-02 15:04 MST")+" → "+iv.End.In(ny).Format("01-02 15:04 MST")+" "+iv.End.Sub(iv.Start).String())
	}
	require.Equal(t, []string{
		// Google 10:00-12:00 EDT widened to 09:00-12:30, Outlook 13:00-14:00 widened to 12:00-14:30: one period.
		"06-06 09:00 EDT → 06-06 14:30 EDT 5h30m0s",
		// All-day 10 June in the vendor's zone, widened: 23:00 the day before to 00:30 the day after.
		"06-09 23:00 EDT → 06-11 00:30 EDT 25h30m0s",
		// 1 November: 25 hours (DST ends) plus 1h30 of buffers.
		"10-31 23:00 EDT → 11-02 00:30 EST 26h30m0s",
	}, got)

	// Free inside a gap; busy in a buffer.
	wedding := it.Wedding(t, b.db.Pool, "2026-06-20", "America/New_York")
	it.Connect(t, b.db.Pool, wedding, vendor, "proposal")
	free := func(from, to time.Time) bool {
		vs, err := availability.VendorsFree(ctx, b.db.Pool, wedding, from, to)
		require.NoError(t, err)
		require.Len(t, vs, 1)
		require.NotNil(t, vs[0].Free)
		return *vs[0].Free
	}
	require.True(t, free(time.Date(2026, 6, 6, 15, 0, 0, 0, ny), time.Date(2026, 6, 6, 18, 0, 0, 0, ny)))
	require.False(t, free(time.Date(2026, 6, 6, 14, 15, 0, 0, ny), time.Date(2026, 6, 6, 18, 0, 0, 0, ny)), "14:15 is inside Outlook's 30-minute after-buffer")
	require.False(t, free(time.Date(2026, 6, 6, 8, 0, 0, 0, ny), time.Date(2026, 6, 6, 9, 30, 0, 0, ny)), "09:30 is inside Google's 1-hour before-buffer")
	require.True(t, free(time.Date(2026, 6, 6, 7, 0, 0, 0, ny), time.Date(2026, 6, 6, 9, 0, 0, 0, ny)), "a range ending where the buffer starts is free")
}

func TestVendorsFreeForAWedding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pool := b.db.Pool
	wedding := it.Wedding(t, pool, "2026-09-12", "Europe/London")
	other := it.Wedding(t, pool, "2026-09-12", "Europe/London")
	day := func(h int) time.Time { return time.Date(2026, 9, 12, h, 0, 0, 0, loc(t, "Europe/London")) }

	freeV := it.Vendor(t, pool, "Free florist", "Europe/London")
	it.Connect(t, pool, wedding, freeV, "proposal")
	busyV := it.Vendor(t, pool, "Busy band", "Europe/London")
	it.Connect(t, pool, wedding, busyV, "inquiry")
	it.Connect(t, pool, other, busyV, "booked") // booked for the other wedding the same day
	ownV := it.Vendor(t, pool, "Booked baker", "Europe/London")
	it.Connect(t, pool, wedding, ownV, "booked") // its own booking for this wedding doesn't make it busy
	_, err := pool.Exec(ctx, `insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, status) values ($1, $2, $3, $4, 'booked')`,
		ownV, wedding, day(10), day(18))
	require.NoError(t, err)
	declined := it.Vendor(t, pool, "Declined DJ", "Europe/London")
	it.Connect(t, pool, wedding, declined, "declined")

	// As the couple (through RLS, as PostgREST would run it).
	couple := it.User(t, pool, "couple@example.com")
	it.Couple(t, pool, wedding, couple)
	outsider := it.User(t, pool, "outsider@example.com")
	asUser := func(user string) []availability.VendorAvailability {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck
		require.NoError(t, pgtest.AsUser(ctx, tx, user))
		vs, err := availability.VendorsFree(ctx, tx, wedding, day(12), day(20))
		require.NoError(t, err)
		return vs
	}
	vs := asUser(couple)
	got := map[string]bool{}
	for _, v := range vs {
		require.NotNil(t, v.Free, v.Name)
		got[v.Name] = *v.Free
	}
	require.Equal(t, map[string]bool{"Free florist": true, "Busy band": false, "Booked baker": true}, got)
	require.Empty(t, asUser(outsider), "RLS: an outsider sees no vendor of the wedding")
}

func TestConflictRaisedOncePerNewOverlap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pool := b.db.Pool
	slot := it.Slot(t, pool)
	vendor := it.Vendor(t, pool, "Studio", "America/Chicago")
	it.Buffers(t, pool, vendor, 2*time.Hour, time.Hour)
	chicago := loc(t, "America/Chicago")
	wedding := it.Wedding(t, pool, "2026-07-18", "America/Chicago")
	it.Connect(t, pool, wedding, vendor, "booked") // the whole of 18 July (Chicago) is a commitment

	shoot := func(start, end string) string {
		return ics("BEGIN:VEVENT\r\nUID:shoot-42\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=America/Chicago:" + start + "\r\nDTEND;TZID=America/Chicago:" + end + "\r\nEND:VEVENT\r\n")
	}
	feed := b.lb.SetFeed("studio", "", "", shoot("20260719T010000", "20260719T030000")) // 01:00 on the 19th: inside the after-buffer
	conn := it.Connection(t, pool, nil, vendor, integration.ICal, map[string]any{"feed_url": feed}, integration.Credential{})
	require.Equal(t, 1, b.sync(t, conn).Created)

	conflicts := func() []event.Envelope { return it.Events(t, pool, slot, event.ConflictDetected) }
	evs := conflicts()
	require.Len(t, evs, 1, "one new overlap, one event")
	require.Equal(t, wedding, *evs[0].WeddingID)
	require.Equal(t, vendor, *evs[0].Subject.VendorID)
	open, err := availability.Conflicts(ctx, pool, vendor)
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.Equal(t, "wedding", open[0].AKind)
	require.Equal(t, "block", open[0].BKind)
	// The overlap is the wedding day's last hour (the shoot widened by 2 h before starts at 23:00).
	require.Equal(t, time.Date(2026, 7, 18, 23, 0, 0, 0, chicago).UTC(), open[0].Overlap.Start)
	require.Equal(t, time.Date(2026, 7, 19, 0, 0, 0, 0, chicago).UTC(), open[0].Overlap.End)

	// Same feed again (no change) and the block moved but still overlapping: no new event.
	b.lb.SetFeed("studio", "", "", shoot("20260719T010000", "20260719T030000"))
	b.sync(t, conn)
	b.lb.SetFeed("studio", "", "", shoot("20260719T003000", "20260719T030000"))
	require.Equal(t, 1, b.sync(t, conn).Updated)
	_, err = availability.Refresh(ctx, pool, vendor)
	require.NoError(t, err)
	require.Empty(t, conflicts(), "an overlap already raised is not raised again")

	// Moved clear of the buffers: resolved, nothing raised.
	b.lb.SetFeed("studio", "", "", shoot("20260719T090000", "20260719T100000"))
	b.sync(t, conn)
	open, err = availability.Conflicts(ctx, pool, vendor)
	require.NoError(t, err)
	require.Empty(t, open)
	require.Empty(t, conflicts())

	// Back into the day: a new overlap, a new event.
	b.lb.SetFeed("studio", "", "", shoot("20260718T150000", "20260718T160000"))
	b.sync(t, conn)
	require.Len(t, conflicts(), 1)

	// Two commitments overlapping (a hold for another wedding the same day): one event, not one per side.
	other := it.Wedding(t, pool, "2026-07-18", "America/Chicago")
	it.Connect(t, pool, other, vendor, "inquiry")
	_, err = pool.Exec(ctx, `insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, status) values ($1, $2, $3, $4, 'held')`,
		vendor, other, time.Date(2026, 7, 18, 9, 0, 0, 0, chicago), time.Date(2026, 7, 18, 11, 0, 0, 0, chicago))
	require.NoError(t, err)
	evs = conflicts()
	require.Len(t, evs, 1, "the hold meets the booked wedding day: one conflict for the pair")
	open, err = availability.Conflicts(ctx, pool, vendor)
	require.NoError(t, err)
	require.Len(t, open, 2)
}

func TestConflictDetectionInOneTransactionWithTheChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pool := b.db.Pool
	slot := it.Slot(t, pool)
	vendor := it.Vendor(t, pool, "Rolled back", "UTC")
	wedding := it.Wedding(t, pool, "2026-08-01", "UTC")
	it.Connect(t, pool, wedding, vendor, "confirmed")
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ($1, '2026-08-01 10:00Z', '2026-08-01 11:00Z')`, vendor)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	require.Empty(t, it.Events(t, pool, slot, event.ConflictDetected), "no event without the commit that caused it")
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ($1, '2026-08-01 10:00Z', '2026-08-01 11:00Z')`, vendor)
		return err
	}))
	require.Len(t, it.Events(t, pool, slot, event.ConflictDetected), 1)
}

// A CRM booking mirrored into the vendor's own calendar (a block of the same vendor with exactly
// the booking's range) is the same commitment: it raises no conflict with itself and does not
// make the vendor busy for the booking's own wedding. The same holds for an all-day calendar
// entry mirroring the day of a wedding the vendor is booked for. A genuine overlap is still
// raised exactly once (by the commitments, not once more by the mirror), and a calendar entry
// that is not a mirror still conflicts.
func TestMirroredBookingRaisesNoConflictWithItself(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pool := b.db.Pool
	slot := it.Slot(t, pool)
	london := loc(t, "Europe/London")
	at := func(day, h int) time.Time { return time.Date(2026, 9, day, h, 0, 0, 0, london) }
	vendor := it.Vendor(t, pool, "Mirror Studio", "Europe/London")
	wedding := it.Wedding(t, pool, "2026-09-12", "Europe/London")
	it.Connect(t, pool, wedding, vendor, "booked")
	g := it.Connection(t, pool, nil, vendor, integration.GoogleCalendar, nil, integration.Credential{})
	conflicts := func() []event.Envelope { return it.Events(t, pool, slot, event.ConflictDetected) }
	open := func() []availability.Conflict {
		cs, err := availability.Conflicts(ctx, pool, vendor)
		require.NoError(t, err)
		return cs
	}

	// The Dubsado job for the wedding, 13:00-22:00, and Dubsado's copy in the Google calendar.
	var booking string
	require.NoError(t, pool.QueryRow(ctx, `insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, status, source, external_id)
		values ($1, $2, $3, $4, 'booked', 'dubsado', 'ds-1') returning id::text`, vendor, wedding, at(12, 13), at(12, 22)).Scan(&booking))
	b.google.Put("primary", providerfake.GoogleEvent{ID: "dubsado-ds-1", Start: at(12, 13), End: at(12, 22)})
	// Another wedding the vendor is booked for (no booking row: the whole day), mirrored as an
	// all-day entry.
	second := it.Wedding(t, pool, "2026-09-19", "Europe/London")
	it.Connect(t, pool, second, vendor, "booked")
	b.google.Put("primary", providerfake.GoogleEvent{ID: "day-19", StartDate: "2026-09-19", EndDate: "2026-09-20"})
	require.Equal(t, 2, b.sync(t, g).Created)
	require.Empty(t, conflicts(), "a mirror is not a conflict with what it mirrors")
	require.Empty(t, open())

	// Not busy for its own wedding; busy (once, the booking's range) for anyone else.
	vs, err := availability.VendorsFree(ctx, pool, wedding, at(12, 12), at(12, 23))
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.True(t, *vs[0].Free, "neither the booking nor its mirror make the vendor busy for its own wedding")
	busy, err := availability.Busy(ctx, pool, vendor, at(12, 0), at(13, 0))
	require.NoError(t, err)
	require.Equal(t, []availability.Interval{{Start: at(12, 13).UTC(), End: at(12, 22).UTC()}}, busy)

	// A genuine overlap: a hold for a third wedding the same evening. One conflict, with the
	// booking — not a second one with its mirror.
	third := it.Wedding(t, pool, "2026-09-12", "Europe/London")
	it.Connect(t, pool, third, vendor, "inquiry")
	var hold string
	require.NoError(t, pool.QueryRow(ctx, `insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, status)
		values ($1, $2, $3, $4, 'held') returning id::text`, vendor, third, at(12, 20), at(12, 23)).Scan(&hold))
	require.Len(t, conflicts(), 1, "one overlap, one event")
	cs := open()
	require.Len(t, cs, 1)
	require.ElementsMatch(t, []string{booking, hold}, []string{cs[0].AID, cs[0].BID})
	require.Equal(t, "booking", cs[0].BKind)

	// A calendar entry that is not a mirror (it overlaps the booking without matching it) is a
	// conflict of its own.
	b.google.Put("primary", providerfake.GoogleEvent{ID: "dentist", Start: at(12, 11), End: at(12, 14)})
	require.Equal(t, 1, b.sync(t, g).Created)
	require.Len(t, conflicts(), 1)
	require.Len(t, open(), 2)
}
