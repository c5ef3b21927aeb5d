package sidecar_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/preflight"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/sidecar"
)

func TestRunServesHealthReadinessMetricsAndHandsOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	cfg := sidecar.Config{DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0",
		Stages: []string{sidecar.StagesNone}, HandoffProbe: true,
		Replication: replication.Config{Slot: "sc_run_" + db.Name[len(db.Name)-8:], StatusInterval: time.Second, ReceiveTimeout: 5 * time.Second, HeartbeatInterval: time.Second}}
	s, err := sidecar.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done, "an orderly stop returns nil")
	})

	var base string
	require.Eventually(t, func() bool { base = s.Addr(); return base != "" }, 30*time.Second, 10*time.Millisecond)
	base = "http://" + base
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)

	var ready struct {
		Ready bool   `json:"ready"`
		Role  string `json:"role"`
	}
	require.Eventually(t, func() bool {
		code, body = get("/readyz")
		return code == http.StatusOK && json.Unmarshal([]byte(body), &ready) == nil && ready.Role == "leader"
	}, 30*time.Second, 20*time.Millisecond, "not ready as leader: %d %s", code, body)
	require.True(t, ready.Ready)

	// An event committed now gets its probe job through the real pipeline.
	var id string
	require.NoError(t, db.Pool.QueryRow(ctx, `
select id::text from (select gen_random_uuid() as id) g,
  lateral (select pg_logical_emit_message(true, 'vendorhub', json_build_object('id', id, 'type', 'task.updated',
    'occurred_at', now(), 'wedding_id', id, 'subject', json_build_object('table', 'tasks', 'id', id))::text)) e`).Scan(&id))
	require.Eventually(t, func() bool {
		var n int
		return db.Pool.QueryRow(ctx, `select count(*) from river.river_job where kind = 'handoff.event' and args->>'event_id' = $1`, id).Scan(&n) == nil && n == 1
	}, 30*time.Second, 20*time.Millisecond)

	code, body = get("/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, m := range []string{"vendorhub_replication_events_total{type=\"task.updated\"}", "vendorhub_replication_acknowledged_lsn",
		"vendorhub_replication_lag_bytes", "vendorhub_replication_lag_seconds", "vendorhub_handoff_duration_seconds_bucket",
		// The role gauge is process-wide and other tests of this package run sidecars in
		// parallel, so only its presence is checked here; /readyz proved the role above.
		"vendorhub_replication_reconnects_total", "vendorhub_replication_role{role=\"leader\"}"} {
		require.Contains(t, body, m)
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[string]struct {
		cfg  sidecar.Config
		want string
	}{
		"missing url": {sidecar.Config{}, "DATABASE_URL is required"},
		"pooler port": {sidecar.Config{DatabaseURL: "postgres://u:p@db.x.supabase.co:6543/postgres"}, "use the direct connection on port 5432"},
		"pooler host": {sidecar.Config{DatabaseURL: "postgres://u:p@aws-0-eu-west-1.pooler.supabase.com:5432/postgres"}, "use the direct connection on port 5432"},
		"bad slot": {sidecar.Config{DatabaseURL: "postgres://u@127.0.0.1:1/x",
			Replication: replication.Config{Slot: "Bad-Slot"}}, `Slot "Bad-Slot"`},
		"timeouts": {sidecar.Config{DatabaseURL: "postgres://u@127.0.0.1:1/x",
			Replication: replication.Config{StatusInterval: 10 * time.Second, ReceiveTimeout: 15 * time.Second}}, "must exceed 2×StatusInterval"},
		"unknown stage": {sidecar.Config{DatabaseURL: "postgres://u@127.0.0.1:1/x", Stages: []string{"nope"}}, `unknown stage "nope"`},
	}
	for name, c := range cases {
		_, err := sidecar.New(ctx, c.cfg, nil)
		require.ErrorContains(t, err, c.want, name)
	}
	_, err := sidecar.New(ctx, sidecar.Config{DatabaseURL: "postgres://u:p@x.pooler.supabase.com:5432/postgres"}, nil)
	var f *preflight.Failure
	require.ErrorAs(t, err, &f)
	require.Equal(t, preflight.CheckPooler, f.Check)
}

func TestFromEnvNamesEveryMalformedVariable(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":                 "postgres://u@127.0.0.1:5432/db",
		"VENDORHUB_STATUS_INTERVAL":    "10",
		"VENDORHUB_QUEUE_SIZE":         "many",
		"VENDORHUB_HANDOFF_PROBE":      "yes please",
		"VENDORHUB_RECEIVE_TIMEOUT":    "-5s",
		"VENDORHUB_STAGES":             " none ",
		"VENDORHUB_HEARTBEAT_INTERVAL": "3s",
	}
	cfg, err := sidecar.FromEnv(func(k string) string { return env[k] })
	require.Error(t, err)
	for _, name := range []string{"VENDORHUB_STATUS_INTERVAL", "VENDORHUB_QUEUE_SIZE", "VENDORHUB_HANDOFF_PROBE", "VENDORHUB_RECEIVE_TIMEOUT"} {
		require.Contains(t, err.Error(), name)
	}
	require.Equal(t, 3*time.Second, cfg.Replication.HeartbeatInterval, "well-formed variables are still read")
	require.Equal(t, []string{"none"}, cfg.Stages)

	cfg, err = sidecar.FromEnv(func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://x", "VENDORHUB_HANDOFF_PROBE": "true", "VENDORHUB_SLOT": "s1"}[k]
	})
	require.NoError(t, err)
	cfg = cfg.WithDefaults()
	require.True(t, cfg.HandoffProbe)
	require.Equal(t, "s1", cfg.Replication.Slot)
	require.Equal(t, "vendorhub", cfg.Replication.Publication)
	require.Equal(t, sidecar.HTTPAddrDefault, cfg.HTTPAddr)
	require.True(t, strings.HasPrefix(cfg.InstanceID, "vendorhub-"))
}
