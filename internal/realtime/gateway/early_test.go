package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/route"
)

// gateSink holds every hand-off transaction open, inside the sink, until released.
type gateSink struct {
	entered  chan struct{} // closed when the first hand-off with events reaches the sink
	once     sync.Once
	released chan struct{}
}

func (*gateSink) Name() string { return "gate" }

func (g *gateSink) HandOff(ctx context.Context, _ pgx.Tx, _ []route.Routed) error {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.released:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Broadcasts do not wait for the durable hand-off: with the hand-off transaction held open
// by a sink, a committed message still reaches its subscribers, a membership.removed still
// closes the removed participant's channel before the next message is broadcast, and
// nothing is acknowledged until the hand-off commits.
func TestBroadcastPrecedesTheDurableHandOff(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	conv := "conversation:" + b.fx.conversation
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{})
	bob := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.bobTok, rtclient.JoinConfig{})

	log := slog.New(slog.DiscardHandler)
	pub, err := realtime.New(realtime.Config{Transport: b.gw, Logger: log})
	require.NoError(t, err)
	gate := &gateSink{entered: make(chan struct{}), released: make(chan struct{})}
	slot := fmt.Sprintf("early_%d", time.Now().UnixNano())
	ho, err := handoff.New(b.db.Pool, handoff.Config{Slot: slot, Logger: log, Sinks: []handoff.Sink{gate},
		Broadcasters: []handoff.Broadcaster{b.gw, pub}}) // the sidecar's order: re-checks first
	require.NoError(t, err)
	stream, err := replication.New(replication.Config{ConnString: b.db.URL, Slot: slot, HeartbeatInterval: time.Hour,
		StatusInterval: time.Second, AckInterval: 10 * time.Millisecond, Logger: log}, ho, b.db.Pool)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = pub.Run(runCtx); done <- struct{}{} }()
	go func() { _ = stream.Run(runCtx); done <- struct{}{} }()
	t.Cleanup(func() {
		stop()
		<-done
		<-done
	})
	select {
	case <-stream.Leading():
	case <-ctx.Done():
		t.Fatal("the stream never led")
	}

	send := func(sender, body string) {
		t.Helper()
		_, err := b.db.Pool.Exec(ctx, `insert into public.messages (conversation_id, sender_id, body) values ($1, $2, $3)`,
			b.fx.conversation, sender, body)
		require.NoError(t, err)
	}
	body := func(m rtclient.Message) string {
		var p struct {
			Data struct {
				BodyPreview string `json:"body_preview"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(m.UserPayload, &p), "%s", m.UserPayload)
		return p.Data.BodyPreview
	}

	send(b.fx.bob, "first")
	afterFirst := currentLSN(ctx, t, b)
	<-gate.entered // the hand-off of "first" is open, held in the sink
	require.Equal(t, "first", body(nextBroadcast(t, alice)))
	require.Equal(t, "first", body(nextBroadcast(t, bob)))

	// alice leaves the conversation, then bob writes again: both after "first", whose
	// hand-off is still open.
	_, err = b.db.Pool.Exec(ctx, `delete from public.conversation_participants where conversation_id = $1 and user_id = $2`,
		b.fx.conversation, b.fx.alice)
	require.NoError(t, err)
	send(b.fx.bob, "second")
	require.Equal(t, "second", body(nextBroadcast(t, bob)))
	requireClosed(t, alice, conv)
	select {
	case m, ok := <-alice.Messages():
		require.False(t, ok && m.Event == "broadcast", "alice received %s after her removal", m.UserPayload)
	default:
	}
	require.Less(t, stream.Frontier(), afterFirst, "nothing is acknowledged while the hand-off is open")
	cursor, err := handoff.ReadCursor(ctx, b.db.Pool, slot)
	require.NoError(t, err)
	require.Less(t, cursor, afterFirst, "nothing is durable while the hand-off is open")

	end := currentLSN(ctx, t, b)
	close(gate.released)
	require.Eventually(t, func() bool { return stream.Frontier() >= end }, 30*time.Second, 10*time.Millisecond,
		"the hand-off commits and the acknowledgement follows it")
}

func currentLSN(ctx context.Context, t *testing.T, b *testBundle) uint64 {
	t.Helper()
	var s string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&s))
	l, err := pglogrepl.ParseLSN(s)
	require.NoError(t, err)
	return uint64(l)
}
