package calendar_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/ical"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/secret"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	db      *pgtest.DB
	keyring *secret.Keyring
	vendor  string
	google  *providerfake.GoogleCalendar
	graph   *providerfake.Graph
	lb      *providerfake.LightBlue
	syncer  *calendar.Syncer
}

var may1 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// setup wires the real token refresher against the fakes' token endpoints, with the Calendar
// API and Graph requiring live access tokens.
func setup(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	b := &bundle{db: db, keyring: it.Keyring(t), google: providerfake.NewGoogleCalendar(), graph: providerfake.NewGraph(), lb: providerfake.NewLightBlue()}
	t.Cleanup(b.google.Close)
	t.Cleanup(b.graph.Close)
	t.Cleanup(b.lb.Close)
	b.google.RequireAuth, b.graph.RequireAuth = true, true
	b.vendor = it.Vendor(t, db.Pool, "Vendor", "Europe/London")
	tokens := &oauth.Refresher{Pool: db.Pool, Keyring: b.keyring, Providers: map[integration.Kind]*oauth2.Config{
		integration.GoogleCalendar: {ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: b.google.TokenURL()}},
		integration.Outlook:        {ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: b.graph.TokenURL()}},
	}}
	now := func() time.Time { return may1 }
	b.syncer = &calendar.Syncer{Pool: db.Pool, Sources: map[integration.Kind]calendar.Source{
		integration.GoogleCalendar: &google.Source{Endpoint: b.google.Endpoint(), Tokens: tokens, PageSize: 2},
		integration.Outlook:        &outlook.Source{BaseURL: b.graph.BaseURL(), Tokens: tokens, PageSize: 3, Now: now},
		integration.LightBlue: &ical.Source{Provider: "lightblue", Credentials: integration.CredentialStore{Keyring: b.keyring, DB: db.Pool}, Now: now,
			HTTPClient: ical.NewHTTPClient(true, 0)}, // the fake feed is on loopback
	}}
	return b
}

func (b *bundle) sync(t *testing.T, conn string) calendar.Result {
	t.Helper()
	res, err := b.syncer.Sync(context.Background(), conn)
	require.NoError(t, err)
	return res
}

func (b *bundle) blocks(t *testing.T, conn string) map[string][2]time.Time {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `select external_id, starts_at, ends_at from public.availability_blocks where connection_id = $1`, conn)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string][2]time.Time{}
	for rows.Next() {
		var id string
		var s, e time.Time
		require.NoError(t, rows.Scan(&id, &s, &e))
		out[id] = [2]time.Time{s.UTC(), e.UTC()}
	}
	require.NoError(t, rows.Err())
	return out
}

func (b *bundle) runs(t *testing.T, conn string) []string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `select status || ' full=' || full_sync || ' c=' || created || ' u=' || updated || ' s=' || skipped || ' f=' || failed || ' d=' || deleted
from public.sync_runs where connection_id = $1 order by id`, conn)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	return out
}

func hour(h int) time.Time { return time.Date(2026, 6, 1, h, 0, 0, 0, time.UTC) }

func TestGoogleIncrementalSyncAndFullResyncOn410(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.GoogleCalendar, map[string]any{"calendar_id": "studio@example.com"},
		integration.Credential{RefreshToken: b.google.Tokens.IssueRefreshToken()})
	for i, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		b.google.Put("studio@example.com", providerfake.GoogleEvent{ID: id, Start: hour(8 + i), End: hour(9 + i)})
	}
	b.google.Put("studio@example.com", providerfake.GoogleEvent{ID: "free", Start: hour(1), End: hour(2), Transparent: true})
	b.google.Put("studio@example.com", providerfake.GoogleEvent{ID: "day", StartDate: "2026-03-29", EndDate: "2026-03-30"}) // UK DST day

	res := b.sync(t, conn)
	require.True(t, res.Full)
	require.Equal(t, 6, res.Created)
	require.Equal(t, 4, b.google.ListCalls(), "7 items, 2 per page: 4 pages, nextSyncToken on the last")
	bl := b.blocks(t, conn)
	require.Len(t, bl, 6)
	require.NotContains(t, bl, "free", "transparent events do not block time")
	require.Equal(t, 23*time.Hour, bl["day"][1].Sub(bl["day"][0]), "all-day in the vendor's zone across the DST change")

	// Incremental: one moved, one deleted, one added; the rest is not listed again.
	calls := b.google.ListCalls()
	b.google.Put("studio@example.com", providerfake.GoogleEvent{ID: "e2", Start: hour(14), End: hour(15)})
	b.google.Delete("studio@example.com", "e3")
	b.google.Put("studio@example.com", providerfake.GoogleEvent{ID: "e6", Start: hour(20), End: hour(21), Status: "tentative"})
	res = b.sync(t, conn)
	require.False(t, res.Full)
	require.Equal(t, calendar.Result{Created: 1, Updated: 1, Deleted: 1}, res)
	require.Equal(t, calls+2, b.google.ListCalls(), "3 changes: 2 pages")
	bl = b.blocks(t, conn)
	require.Equal(t, [2]time.Time{hour(14), hour(15)}, bl["e2"])
	require.NotContains(t, bl, "e3")
	var tentative bool
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select tentative from public.availability_blocks where external_id = 'e6'`).Scan(&tentative))
	require.True(t, tentative)

	// Nothing changed: an empty round.
	require.Equal(t, calendar.Result{}, b.sync(t, conn))

	// The token expires (410): a full resync replaces the store; what disappeared meanwhile goes.
	b.google.ExpireSyncTokens()
	b.google.Delete("studio@example.com", "e1")
	res = b.sync(t, conn)
	require.True(t, res.Full)
	require.Equal(t, 1, res.Deleted)
	require.Equal(t, 6, res.Skipped, "unchanged blocks are not rewritten (5, plus the transparent event)")
	require.NotContains(t, b.blocks(t, conn), "e1")
	var fullSyncs int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select full_syncs from vendorhub.calendar_sync where connection_id = $1`, conn).Scan(&fullSyncs))
	require.Equal(t, 2, fullSyncs)
	require.Equal(t, []string{
		"ok full=true c=6 u=0 s=1 f=0 d=0", "ok full=false c=1 u=1 s=0 f=0 d=1", "ok full=false c=0 u=0 s=0 f=0 d=0",
		"ok full=true c=0 u=0 s=6 f=0 d=1"}, b.runs(t, conn))
}

func TestGoogleFailureIsRecordedAndClassified(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.GoogleCalendar, nil,
		integration.Credential{RefreshToken: b.google.Tokens.IssueRefreshToken()})
	b.google.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second})
	_, err := b.syncer.Sync(context.Background(), conn)
	require.True(t, provider.IsRetryable(err), "%v", err)
	require.Equal(t, 7*time.Second, provider.RetryAfterOf(err))
	require.Equal(t, []string{"failed full=false c=0 u=0 s=0 f=0 d=0"}, b.runs(t, conn))
	var lastErr string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select last_error from public.integration_connections where id = $1`, conn).Scan(&lastErr))
	require.Contains(t, lastErr, "429")
}

func TestGraphDeltaPagingAndResync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.Outlook, nil,
		integration.Credential{RefreshToken: b.graph.Tokens.IssueRefreshToken()})
	for i, id := range []string{"o1", "o2", "o3", "o4", "o5", "o6", "o7"} {
		b.graph.Put(providerfake.GraphEvent{ID: id, Start: hour(i), End: hour(i + 1)})
	}
	b.graph.Put(providerfake.GraphEvent{ID: "allday", AllDay: true, TimeZone: "Europe/London",
		Start: time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 3, 0, 0, 0, 0, time.UTC)})
	b.graph.Put(providerfake.GraphEvent{ID: "free", ShowAs: "free", Start: hour(9), End: hour(10)})
	b.graph.Put(providerfake.GraphEvent{ID: "outside", Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)})

	res := b.sync(t, conn)
	require.True(t, res.Full)
	require.Equal(t, 8, res.Created, "7 timed + 1 all-day; free and out-of-window events excluded")
	var deltaReqs int
	for _, r := range b.graph.Requests() {
		if r.Path == "/v1.0/me/calendarView/delta" {
			deltaReqs++
		}
	}
	require.Equal(t, 3, deltaReqs, "9 in-window items, 3 per page (Prefer: odata.maxpagesize=3)")
	bl := b.blocks(t, conn)
	require.Equal(t, time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC), bl["allday"][0], "2 June in London (BST) starts at 23:00 UTC")

	b.graph.Delete("o1")
	b.graph.Put(providerfake.GraphEvent{ID: "o2", Start: hour(12), End: hour(13)})
	res = b.sync(t, conn)
	require.Equal(t, calendar.Result{Updated: 1, Deleted: 1}, res)

	b.graph.ExpireDeltaTokens()
	b.graph.Delete("o3")
	res = b.sync(t, conn)
	require.True(t, res.Full, "410 syncStateNotFound: a new round")
	require.Equal(t, 1, res.Deleted)
	require.NotContains(t, b.blocks(t, conn), "o3")
}

func feed(events ...string) string {
	s := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Light Blue//EN\r\n"
	for _, e := range events {
		s += "BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n" + e + "END:VEVENT\r\n"
	}
	return s + "END:VCALENDAR\r\n"
}

func TestLightBlueFeedPollingWith304AndRecurrence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shoots := feed("UID:weekly-class\r\nDTSTART;TZID=Europe/London:20260502T100000\r\nDTEND;TZID=Europe/London:20260502T120000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n",
		"UID:wedding-1\r\nDTSTART;VALUE=DATE:20260613\r\n")
	url := b.lb.SetFeed("vendor-7", "studio", "feed-password", shoots)
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.LightBlue, map[string]any{"feed_url": url, "username": "studio"},
		integration.Credential{Password: "feed-password", APIKey: "lb-key"})

	res := b.sync(t, conn)
	require.Equal(t, 5, res.Created, "4 occurrences + 1 all-day shoot")
	res = b.sync(t, conn)
	require.True(t, res.NotModified)
	full, notMod := b.lb.FeedStats()
	require.Equal(t, 1, full)
	require.Equal(t, 1, notMod)
	reqs := b.lb.Requests()
	require.NotEmpty(t, reqs[len(reqs)-1].Header.Get("If-None-Match"), "conditional request")

	// The feed changes: one occurrence cancelled (EXDATE), the shoot moved.
	b.lb.SetFeed("vendor-7", "studio", "feed-password", feed(
		"UID:weekly-class\r\nDTSTART;TZID=Europe/London:20260502T100000\r\nDTEND;TZID=Europe/London:20260502T120000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/London:20260509T100000\r\n",
		"UID:wedding-1\r\nDTSTART;VALUE=DATE:20260614\r\n"))
	res = b.sync(t, conn)
	require.Equal(t, 1, res.Updated)
	require.Equal(t, 1, res.Deleted)
	require.Equal(t, 3, res.Skipped)
	require.Equal(t, []string{"ok full=true c=5 u=0 s=0 f=0 d=0", "not_modified full=false c=0 u=0 s=0 f=0 d=0",
		"ok full=true c=0 u=1 s=3 f=0 d=1"}, b.runs(t, conn))

	// A wrong password is a failed run, not a silent empty calendar.
	wrong := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.LightBlue, map[string]any{"feed_url": url, "username": "studio"},
		integration.Credential{Password: "nope"})
	_, err := b.syncer.Sync(context.Background(), wrong)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, http.StatusUnauthorized, pe.Status)
	require.Len(t, b.blocks(t, wrong), 0)
}

// A Graph delta link only reports entries of its round's window; the window is re-based (a new
// full round from now) once it has lost RebaseAfter of its future horizon, so an entry beyond
// the old window's end appears without waiting for Graph to expire the delta state. A cursor
// stored without its window's end is re-based on its next sync.
func TestGraphDeltaWindowIsRebasedNearItsEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var clock atomic.Pointer[time.Time]
	start := may1
	clock.Store(&start)
	advance := func(d time.Duration) { next := clock.Load().Add(d); clock.Store(&next) }
	tokens := &oauth.Refresher{Pool: b.db.Pool, Keyring: b.keyring, Providers: map[integration.Kind]*oauth2.Config{
		integration.Outlook: {ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: b.graph.TokenURL()}}}}
	const future = 90 * 24 * time.Hour
	syncer := &calendar.Syncer{Pool: b.db.Pool, Sources: map[integration.Kind]calendar.Source{
		integration.Outlook: &outlook.Source{BaseURL: b.graph.BaseURL(), Tokens: tokens, WindowFuture: future, RebaseAfter: 7 * 24 * time.Hour,
			Now: func() time.Time { return *clock.Load() }}}}
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.Outlook, nil,
		integration.Credential{RefreshToken: b.graph.Tokens.IssueRefreshToken()})
	run := func() calendar.Result {
		t.Helper()
		res, err := syncer.Sync(ctx, conn)
		require.NoError(t, err)
		return res
	}
	windowEnd := func() *time.Time {
		var end *time.Time
		require.NoError(t, b.db.Pool.QueryRow(ctx, `select window_end from vendorhub.calendar_sync where connection_id = $1`, conn).Scan(&end))
		return end
	}
	// The window of the first round ends 90 days after 1 May: 30 July. "far" is on 2 August.
	far := time.Date(2026, 8, 2, 15, 0, 0, 0, time.UTC)
	b.graph.Put(providerfake.GraphEvent{ID: "near", Start: hour(10), End: hour(11)})
	b.graph.Put(providerfake.GraphEvent{ID: "far", Start: far, End: far.Add(2 * time.Hour)})

	res := run()
	require.True(t, res.Full)
	require.Equal(t, 1, res.Created, "far is beyond the window")
	require.Equal(t, may1.Add(future), windowEnd().UTC())

	// Three days on: the window still reaches far enough; the delta link is followed.
	advance(3 * 24 * time.Hour)
	require.Equal(t, calendar.Result{}, run())
	require.NotContains(t, b.blocks(t, conn), "far")

	// Eight days on, the window has lost more than a week of its horizon: a new round from now,
	// whose window reaches 2 August.
	advance(5 * 24 * time.Hour)
	res = run()
	require.True(t, res.Full, "re-based")
	require.Equal(t, 1, res.Created)
	require.Equal(t, 1, res.Skipped, "near is unchanged")
	require.Equal(t, [2]time.Time{far, far.Add(2 * time.Hour)}, b.blocks(t, conn)["far"])
	require.Equal(t, may1.Add(8*24*time.Hour+future), windowEnd().UTC())

	// The next round follows the new delta link again.
	b.graph.Put(providerfake.GraphEvent{ID: "far", Start: far.Add(time.Hour), End: far.Add(3 * time.Hour)})
	res = run()
	require.False(t, res.Full)
	require.Equal(t, calendar.Result{Updated: 1}, res)

	// A cursor without a recorded window (stored before windows were) is re-based at once.
	_, err := b.db.Pool.Exec(ctx, `update vendorhub.calendar_sync set window_end = null where connection_id = $1`, conn)
	require.NoError(t, err)
	require.True(t, run().Full)
	require.NotNil(t, windowEnd())
}
