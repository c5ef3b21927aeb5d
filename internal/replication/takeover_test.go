package replication_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/route"
)

func TestStandbyTakesOverWhenLeaderStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	leader := startPipeline(t, db, pipelineOpts{})
	leader.waitLeader(t)
	standby := startPipeline(t, db, pipelineOpts{slot: leader.slot})
	require.Eventually(t, func() bool { return standby.stream.Role() == replication.RoleStandby },
		30*time.Second, 20*time.Millisecond, "second instance did not become standby: %+v", standby.stream.Status())

	ids := emitEvents(ctx, t, db.Pool, 1000, 10)
	leader.stop()
	stopped := time.Now()
	standby.waitLeader(t)
	require.Less(t, time.Since(stopped), 10*time.Second, "standby took over too late")
	ids = append(ids, emitEvents(ctx, t, db.Pool, 1000, 10)...)
	requireExactlyOnce(ctx, t, db.Pool, ids)
	require.Equal(t, 0, countType(standby.counting.Events(), "never"), "sanity")
}

func countType(rs []route.Routed, typ string) int {
	n := 0
	for _, r := range rs {
		if string(r.Type) == typ {
			n++
		}
	}
	return n
}

// flakySink fails its first calls, as a sink whose database write hits a transient error.
type flakySink struct{ failures atomic.Int64 }

func (*flakySink) Name() string { return "flaky" }

func (f *flakySink) HandOff(context.Context, pgx.Tx, []route.Routed) error {
	if f.failures.Add(-1) >= 0 {
		return errors.New("transient failure")
	}
	return nil
}

func TestFailedHandoffIsNeitherAcknowledgedNorLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	slot := slotName(t)
	flaky := &flakySink{}
	flaky.failures.Store(3)
	counting := &handoff.CountingSink{}
	ho, err := handoff.New(db.Pool, handoff.Config{Slot: slot, Sinks: []handoff.Sink{counting, flaky}})
	require.NoError(t, err)
	stream, err := replication.New(replication.Config{ConnString: db.URL, Slot: slot, StatusInterval: time.Second,
		AckInterval: 50 * time.Millisecond, ReceiveTimeout: 5 * time.Second, HeartbeatInterval: time.Hour,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Logger: testLogger(t)}, ho, db.Pool)
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- stream.Run(sctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-stream.Leading()

	ids := emitEvents(ctx, t, db.Pool, 50, 5)
	// Every event reaches the sinks in a transaction that commits; the failed attempts rolled
	// back, and their events came again from the slot (nothing was acknowledged).
	require.Eventually(t, func() bool { return flaky.failures.Load() < 0 && stream.Frontier() > 0 }, 30*time.Second, 20*time.Millisecond)
	seen := map[string]int{}
	require.Eventually(t, func() bool {
		clear(seen)
		for _, r := range counting.Events() {
			seen[r.ID]++
		}
		for _, id := range ids {
			if seen[id] == 0 {
				return false
			}
		}
		confirmed, cursor := slotState(ctx, t, db.Pool, slot)
		return confirmed > 0 && confirmed <= cursor
	}, 30*time.Second, 20*time.Millisecond)
	retried := 0
	for _, id := range ids {
		if seen[id] > 1 {
			retried++
		}
	}
	require.Positive(t, retried, "the failed hand-offs' events must be delivered again")
}
