package replication_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/route"
)

// gated holds every hand-off until open is closed and counts the transactions broadcast.
type gated struct {
	*recorder
	open      chan struct{}
	broadcast atomic.Int64
}

func (g *gated) Broadcast(events []route.Routed) {
	g.broadcast.Add(1) // the reader broadcasts one transaction's events at a time
	g.recorder.Broadcast(events)
}

func (g *gated) CommitRouted(ctx context.Context, batch []decode.Transaction, routed []route.Routed, upTo uint64) error {
	if len(batch) > 0 {
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.recorder.CommitRouted(ctx, batch, routed, upTo)
}

// Broadcasts run ahead of a stalled hand-off by what the queue holds, and no further:
// with room, all 40 transactions are broadcast while the first hand-off is held; with
// QueueBytes 1 (one transaction at a time), the reader stops after the held one and the
// next, and reading resumes once the hand-off commits. Every event is handed off once.
func TestQueueBoundsHowFarBroadcastsRunAhead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		queueBytes int
		ahead      int64 // transactions broadcast while the hand-off is held
	}{
		{"room", 0, 40},
		{"one transaction of bytes", 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := pgtest.NewDB(t)
			var g *gated
			p := startPipeline(t, db, pipelineOpts{
				cfg: replication.Config{QueueBytes: tc.queueBytes, HeartbeatInterval: time.Hour},
				wrap: func(r *recorder) replication.Committer {
					g = &gated{recorder: r, open: make(chan struct{})}
					return g
				}})
			p.waitLeader(t)
			ids := emitEvents(ctx, t, db.Pool, 40, 1)
			require.Eventually(t, func() bool { return g.broadcast.Load() >= tc.ahead }, 30*time.Second, time.Millisecond)
			if tc.ahead < 40 {
				// The reader stops: it waits for room in the queue, which only a commit makes.
				require.Eventually(t, func() bool { return p.stream.Status().QueueWaits > 0 }, 30*time.Second, time.Millisecond)
			}
			require.Equal(t, tc.ahead, g.broadcast.Load(), "transactions broadcast while the hand-off is held")
			close(g.open)
			require.Eventually(t, func() bool { return g.broadcast.Load() == 40 }, 30*time.Second, time.Millisecond)
			requireExactlyOnce(ctx, t, db.Pool, ids)
		})
	}
}
