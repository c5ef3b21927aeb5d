package connector_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

var quietLog = slog.New(slog.DiscardHandler)

const feedICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:i1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260601T100000Z\r\nDTEND:20260601T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// A connection whose provider keeps failing opens its own circuit breaker: its sync job stops
// calling the provider and snoozes until the breaker lets a probe through, while another
// connection of the same provider keeps syncing. Once the provider recovers, the probe closes
// the breaker. Each transition is one breaker_transitions row, one breaker.changed event and
// one audit row (health.Recorder).
func TestFailingConnectionOpensItsBreakerOthersKeepWorking(t *testing.T) {
	t.Parallel()
	const openTimeout = 2 * time.Second
	breakers, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, OpenTimeout: openTimeout}, nil)
	require.NoError(t, err)
	b := setup(t, func(c *connector.Config) {
		c.Breakers = breakers
		c.BackoffMax = 100 * time.Millisecond // failed syncs come back at once
		c.Logger = quietLog
	})
	ctx := context.Background()
	pool := b.db.Pool
	slot := it.Slot(t, pool)

	written := make(chan breaker.Transition, 8)
	rec, err := health.NewRecorder(pool, health.RecorderConfig{Instance: "connector-test", Retry: 10 * time.Millisecond, Logger: quietLog})
	require.NoError(t, err)
	rec.Written = written
	breakers.OnChange(rec.Notify)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rec.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })

	// Two iCal connections on two hosts: the first answers 503 to everything.
	down := providerfake.NewLightBlue()
	t.Cleanup(down.Close)
	down.Always(providerfake.Fault{Status: http.StatusServiceUnavailable})
	failing := it.Connection(t, pool, b.keyring, b.vendor, integration.ICal, map[string]any{"feed_url": down.SetFeed("a", "", "", feedICS)}, integration.Credential{})
	working := it.Connection(t, pool, b.keyring, b.vendor, integration.ICal, map[string]any{"feed_url": b.lb.SetFeed("b", "", "", feedICS)}, integration.Credential{})
	name := breaker.Connection(failing)
	transition := func(from, to string) breaker.Transition {
		t.Helper()
		select {
		case tr := <-written:
			require.Equal(t, name, tr.Breaker)
			require.Equal(t, []string{from, to}, []string{tr.From, tr.To})
			return tr
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s → %s transition of %s recorded", from, to, name)
		}
		return breaker.Transition{}
	}

	// Two failed syncs open the breaker; the next run is refused by it and snoozed until the
	// open period ends, without a request.
	b.insert(t, connector.SyncArgs{ConnectionID: failing, ConnKind: integration.ICal})
	opened := transition(breaker.StateClosed, breaker.StateOpen)
	require.Equal(t, 2, opened.ConsecutiveFailures)
	require.Contains(t, opened.LastError, "503")
	b.eventually(t, func() bool {
		return b.job(t, "calendar.sync", failing).ScheduledAt.After(opened.At.Add(openTimeout / 2))
	}, "the job is snoozed by the open breaker")
	require.Equal(t, 2, down.Len(), "no request while the breaker is open")
	require.Equal(t, []string{"failed", "failed"}, b.runStatus(t, failing))
	require.Equal(t, breaker.StateOpen, breakers.State(name))

	// The other connection of the same provider is unaffected.
	b.insert(t, connector.SyncArgs{ConnectionID: working, ConnKind: integration.ICal})
	b.eventually(t, func() bool { return len(b.runStatus(t, working)) == 1 }, "the other connection syncs")
	require.Equal(t, []string{"ok"}, b.runStatus(t, working))
	require.Equal(t, breaker.StateClosed, breakers.State(breaker.Connection(working)))
	require.Equal(t, 2, down.Len())

	// The provider recovers: the snoozed job's probe closes the breaker and the sync succeeds.
	down.Clear()
	transition(breaker.StateOpen, breaker.StateHalfOpen)
	transition(breaker.StateHalfOpen, breaker.StateClosed)
	b.eventually(t, func() bool { return len(b.runStatus(t, failing)) == 3 }, "the probe's sync is recorded")
	require.Equal(t, []string{"failed", "failed", "ok"}, b.runStatus(t, failing))
	require.Equal(t, 3, down.Len(), "two failures and the probe")

	// Each transition: one row, one breaker.changed event naming it, one audit row.
	rows, err := pool.Query(ctx, `select id::text, from_state || '>' || to_state, event_id::text from vendorhub.breaker_transitions
		where breaker = $1 order by occurred_at`, name)
	require.NoError(t, err)
	type row struct{ ID, Change, Event string }
	var trs []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.ID, &r.Change, &r.Event))
		trs = append(trs, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"closed>open", "open>half-open", "half-open>closed"}, []string{trs[0].Change, trs[1].Change, trs[2].Change})
	var evs []event.Envelope
	for _, e := range it.Events(t, pool, slot, event.BreakerChanged) {
		var d struct {
			Breaker string `json:"breaker"`
		}
		require.NoError(t, json.Unmarshal(e.Data, &d))
		if d.Breaker == name {
			evs = append(evs, e)
		}
	}
	require.Len(t, evs, 3)
	for i, tr := range trs {
		require.Equal(t, tr.Event, evs[i].ID)
		require.Equal(t, tr.ID, evs[i].Subject.ID)
		var audits int
		require.NoError(t, pool.QueryRow(ctx, `select count(*) from vendorhub.audit_log
			where action = 'breaker.changed' and subject = 'breaker:' || $1 and details->>'transition_id' = $2`, name, tr.ID).Scan(&audits))
		require.Equal(t, 1, audits, "audit rows of transition %d", i)
	}
}
