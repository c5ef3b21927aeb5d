package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/calendar/ical"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
)

const canary = "SIDECAR-INTERNAL-CANARY"

// stored is what a vendor's members read about a connection's last run.
func (b *bundle) stored(t *testing.T, conn string) (runErr, lastErr string) {
	t.Helper()
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select coalesce(r.error, ''), coalesce(c.last_error, '')
from public.sync_runs r join public.integration_connections c on c.id = r.connection_id
where r.connection_id = $1 order by r.id desc limit 1`, conn).Scan(&runErr, &lastErr))
	return runErr, lastErr
}

// A feed URL pointing at the sidecar's own HTTP port (here the test's ingress and a stand-in
// for an internal endpoint on loopback) is refused at dial time with the production guard:
// nothing reaches it, the run is recorded with the fixed message only, the job is cancelled.
func TestFeedAtSidecarPortRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *connector.Config) {
		creds := c.Syncer.Sources[integration.ICal].(*ical.Source).Credentials
		// The production default: private and internal addresses refused.
		c.Syncer.Sources[integration.ICal] = &ical.Source{Credentials: creds, Timeout: 2 * time.Second}
	})
	ctx := context.Background()
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = fmt.Fprintf(w, "# HELP %s\n", canary)
	}))
	t.Cleanup(internal.Close)
	_, port, _ := strings.Cut(internal.Listener.Addr().String(), ":")

	want := "ical feed: refused: the address resolves to a private or internal address"
	for _, feed := range []string{
		internal.URL + "/metrics?token=s3cret",
		"http://localhost:" + port + "/metrics",
		b.ingress.URL + "/webhooks/dubsado/x",
	} {
		conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.ICal, nil, integration.Credential{})
		require.NoError(t, integration.SetFeedURL(ctx, b.keyring, b.db.Pool, conn, feed))
		due, err := b.conns.Due(ctx, b.db.Pool)
		require.NoError(t, err)
		require.True(t, dueSync(due, conn), "a connection with a sealed feed URL is polled")

		b.insert(t, connector.SyncArgs{ConnectionID: conn, ConnKind: integration.ICal})
		b.eventually(t, func() bool { return len(b.runStatus(t, conn)) == 1 }, "the refused run is recorded")
		require.Equal(t, []string{"failed"}, b.runStatus(t, conn))
		runErr, lastErr := b.stored(t, conn)
		require.Equal(t, want, runErr, feed)
		require.Equal(t, want, lastErr)
		b.eventually(t, func() bool { return b.job(t, "calendar.sync", conn).State == "cancelled" }, "not retried")
	}
	require.Zero(t, hits.Load(), "nothing reached the internal server")
	var leaked int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from public.sync_runs where error like '%'||$1||'%' or error like '%s3cret%' or error like '%127.0.0.1%'`,
		canary).Scan(&leaked))
	require.Zero(t, leaked)
}

func dueSync(due []river.InsertManyParams, conn string) bool {
	for _, p := range due {
		if s, ok := p.Args.(connector.SyncArgs); ok && s.ConnectionID == conn {
			return true
		}
	}
	return false
}

// One run with a hostile feed (year-1 SECONDLY), a feed whose server answers 500 with a body,
// and a healthy feed whose URL is still in plain config: the hostile one fails with the fixed
// limit message, the 500 one with its status only, and the healthy one syncs — its URL moved
// into the sealed credential on the way.
func TestHostileFeedFailsAloneAndNothingOfAnAnswerIsStored(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	hostile := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.ICal, nil, integration.Credential{})
	require.NoError(t, integration.SetFeedURL(ctx, b.keyring, b.db.Pool, hostile, b.lb.SetFeed("storm", "", "", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"+
		"BEGIN:VEVENT\r\nUID:storm\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:00010102T000000Z\r\nDTEND:00010102T000001Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")))
	loud := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprint(w, canary)
	}))
	t.Cleanup(loud.Close)
	failing := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.ICal, nil, integration.Credential{})
	require.NoError(t, integration.SetFeedURL(ctx, b.keyring, b.db.Pool, failing, loud.URL+"/feed.ics"))
	healthyURL := b.lb.SetFeed("fine", "", "", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:h1\r\nDTSTAMP:20260101T000000Z\r\n"+
		"DTSTART:"+time.Now().Add(48*time.Hour).UTC().Format("20060102T150405Z")+"\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	healthy := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.ICal, map[string]any{"feed_url": healthyURL}, integration.Credential{})

	for _, c := range []string{hostile, failing, healthy} {
		b.insert(t, connector.SyncArgs{ConnectionID: c, ConnKind: integration.ICal})
	}
	b.eventually(t, func() bool {
		return len(b.runStatus(t, hostile)) == 1 && len(b.runStatus(t, healthy)) == 1 && len(b.runStatus(t, failing)) >= 1
	}, "every connection ran")
	require.Equal(t, []string{"ok"}, b.runStatus(t, healthy))
	var blocks int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from public.availability_blocks where connection_id = $1`, healthy).Scan(&blocks))
	require.Equal(t, 1, blocks)

	require.Equal(t, []string{"failed"}, b.runStatus(t, hostile))
	runErr, lastErr := b.stored(t, hostile)
	want := fmt.Sprintf("ical feed: the feed exceeds the occurrences per event limit (%d)", ical.MaxOccurrences)
	require.Equal(t, want, runErr)
	require.Equal(t, want, lastErr)
	b.eventually(t, func() bool { return b.job(t, "calendar.sync", hostile).State == "cancelled" }, "a hostile feed is not retried at once")

	runErr, lastErr = b.stored(t, failing)
	require.Equal(t, "ical feed: the provider answered HTTP 500 Internal Server Error", runErr)
	require.Equal(t, runErr, lastErr)

	// The plain config URL was sealed before the sync and removed from config.
	var cfg map[string]any
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select config from public.integration_connections where id = $1`, healthy).Scan(&cfg))
	require.NotContains(t, cfg, "feed_url")
	require.Equal(t, true, cfg[integration.FeedSealedSetting])
	cred, err := integration.ReadCredential(ctx, b.keyring, b.db.Pool, healthy)
	require.NoError(t, err)
	require.Equal(t, healthyURL, cred.FeedURL)
	raw, _ := json.Marshal(cfg)
	require.NotContains(t, string(raw), "/calendar/fine")
}
