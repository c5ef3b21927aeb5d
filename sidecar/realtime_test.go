package sidecar_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/sidecar"
)

// A Realtime outage never delays the acknowledged LSN: with the REST broadcast API hanging,
// the replication position still reaches the end of the WAL after a burst of messages.
func TestRealtimeOutageNeverDelaysTheAcknowledgedLSN(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := pgtest.NewDBOn(t, pgtest.NewCluster(t), true)
	fake := providerfake.NewRealtime(providerfake.RealtimeConfig{APIKey: "service-key"})
	t.Cleanup(fake.Close)
	fake.Always(providerfake.Fault{Status: 503, Delay: time.Hour})

	s, err := sidecar.New(ctx, sidecar.Config{
		DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0", SupabaseURL: fake.URL(), ServiceRoleKey: "service-key",
		Stages: []string{"realtime"}, Realtime: sidecar.RealtimeConfig{QueueSize: 50, Store: "off"}, // the REST publisher
		Replication: replication.Config{Slot: fmt.Sprintf("rt_outage_%d", time.Now().UnixNano()), StatusInterval: time.Second},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-ran })
	require.Eventually(t, func() bool { return s.Stream().Role() == replication.RoleLeader }, time.Minute, 10*time.Millisecond)

	// 300 messages, each its own transaction, posted by a participant of a seeded conversation.
	const conv, ava = "40000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000001"
	for i := range 300 {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, pgtest.AsUser(ctx, tx, ava))
		_, err = tx.Exec(ctx, `select public.send_message($1::uuid, $2)`, conv, fmt.Sprintf("message %d", i))
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}
	var end string
	require.NoError(t, db.Pool.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&end))
	endLSN, err := pglogrepl.ParseLSN(end)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return s.Stream().Frontier() >= uint64(endLSN) }, time.Minute, 10*time.Millisecond,
		"the acknowledged LSN reaches the end of the WAL while Realtime hangs")
	_, err = fake.WaitFor(ctx, 1)
	require.NoError(t, err, "the publisher did try to broadcast")
	// Every request hangs until the publisher's 10 s send timeout: on a slow machine a second
	// may have started by now. None delivered anything.
	require.Empty(t, fake.Messages(), "no broadcast got through the hanging API")
}

func TestRealtimeConfigErrors(t *testing.T) {
	t.Parallel()
	base := sidecar.Config{DatabaseURL: "postgres://postgres@127.0.0.1:1/none?sslmode=disable", Stages: []string{"realtime"}}
	for _, tc := range []struct {
		name string
		mod  func(*sidecar.Config)
		want string
	}{
		{"bad gateway switch", func(c *sidecar.Config) { c.Realtime.Gateway = "maybe" }, "VENDORHUB_GATEWAY"},
		{"bad target", func(c *sidecar.Config) { c.Realtime.Target = "kafka" }, "VENDORHUB_REALTIME_TARGET"},
		{"gateway target without gateway", func(c *sidecar.Config) { c.Realtime.Target = "gateway" }, "VENDORHUB_GATEWAY=on"},
		{"REST to supabase without URL", func(c *sidecar.Config) { c.Realtime.Target = "supabase"; c.Realtime.Store = "off" }, "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY"},
		{"bad store value", func(c *sidecar.Config) { c.Realtime.Store = "maybe" }, "VENDORHUB_REALTIME_STORE"},
		{"gateway without secret", func(c *sidecar.Config) { c.Realtime.Gateway = "on" }, "SUPABASE_JWT_SECRET or SUPABASE_JWKS"},
		{"short secret", func(c *sidecar.Config) { c.Realtime.Gateway = "on"; c.JWTSecret = "short" }, "SUPABASE_JWT_SECRET"},
		{"bad JWKS", func(c *sidecar.Config) { c.Realtime.Gateway = "on"; c.Realtime.JWKS = "{" }, "SUPABASE_JWKS"},
		{"tiny payload limit", func(c *sidecar.Config) { c.Realtime.MaxPayloadBytes = 1000 }, "VENDORHUB_REALTIME_MAX_PAYLOAD_BYTES=1000"},
		{"negative queue", func(c *sidecar.Config) { c.Realtime.SendQueue = -1 }, "VENDORHUB_GATEWAY_SEND_QUEUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			_, err := sidecar.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.ErrorContains(t, err, tc.want)
		})
	}
	env := map[string]string{"VENDORHUB_GATEWAY_MAX_CONNS_PER_IP": "lots"}
	_, err := sidecar.FromEnv(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "VENDORHUB_GATEWAY_MAX_CONNS_PER_IP")
	env = map[string]string{"VENDORHUB_GATEWAY": "on", "VENDORHUB_REALTIME_MAX_PAYLOAD_BYTES": "1000", "SUPABASE_JWKS": `{"keys":[]}`}
	cfg, err := sidecar.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, "on", cfg.Realtime.Gateway)
	require.Equal(t, 1000, cfg.Realtime.MaxPayloadBytes)
	require.Equal(t, `{"keys":[]}`, cfg.Realtime.JWKS)
}
