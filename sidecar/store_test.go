package sidecar_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/sidecar"
)

// The realtime stage stores its broadcasts by default: a message becomes one private
// realtime.messages row on its conversation topic, written by the hand-off.
func TestRealtimeStoreIsInTheHandOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	cfg := sidecar.Config{DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0", Stages: []string{"realtime"},
		Replication: replication.Config{Slot: "sc_store_" + db.Name[len(db.Name)-8:], StatusInterval: time.Second, ReceiveTimeout: 5 * time.Second, HeartbeatInterval: time.Second}}
	s, err := sidecar.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-s.Stream().Leading():
	case err := <-done:
		t.Fatalf("sidecar stopped: %v", err)
	}
	sender := nt.NewUser(t, db.Pool, nt.User{})
	other := nt.NewUser(t, db.Pool, nt.User{})
	conv := nt.Conversation(t, db.Pool, nt.Wedding(t, db.Pool), sender.ID, other.ID)
	_, err = db.Pool.Exec(ctx, `insert into public.messages (conversation_id, sender_id, body) values ($1, $2, 'stored for replay')`, conv, sender.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return nt.Count(t, db.Pool, `select count(*) from realtime.messages where topic = $1 and private
			and extension = 'broadcast' and event = 'message.created' and payload ? 'key'`, "conversation:"+conv) == 1
	}, 30*time.Second, 20*time.Millisecond, "the message's broadcast is stored on its conversation topic")
}
