package sidecar_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/sidecar"
)

// running is a sidecar started by a test.
type running struct {
	s    *sidecar.Sidecar
	stop func()
	base string
}

func runSidecar(t *testing.T, cfg sidecar.Config) *running {
	t.Helper()
	ctx := context.Background()
	s, err := sidecar.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	stopped := false
	r := &running{s: s, stop: func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done, "an orderly stop returns nil")
		}
	}}
	t.Cleanup(r.stop)
	require.Eventually(t, func() bool { return s.Addr() != "" }, 30*time.Second, 10*time.Millisecond)
	r.base = "http://" + s.Addr()
	return r
}

type readyBody struct {
	Ready      bool `json:"ready"`
	Components map[string]struct {
		Ready bool   `json:"ready"`
		State string `json:"state"`
		Error string `json:"error"`
	} `json:"components"`
}

func readyz(base string) (int, readyBody) {
	var b readyBody
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return 0, b
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return resp.StatusCode, b
}

// /readyz reports each component; it turns not-ready when the database goes away and ready
// again once it is back.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	cluster := pgtest.NewCluster(t)
	db := pgtest.NewDBOn(t, cluster, false)
	r := runSidecar(t, sidecar.Config{DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0",
		Stages: []string{"health"}, Health: sidecar.HealthConfig{Dashboard: "off"},
		Replication: replication.Config{Slot: "sc_ready", StatusInterval: time.Second, ReceiveTimeout: 3 * time.Second,
			ReconnectMax: 500 * time.Millisecond}})

	var body readyBody
	var code int
	require.Eventually(t, func() bool {
		code, body = readyz(r.base)
		return code == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	require.True(t, body.Ready)
	require.Equal(t, "reachable", body.Components["database"].State)
	require.Equal(t, "streaming", body.Components["replication"].State)
	require.Equal(t, "none", body.Components["workers"].State, "the health stage alone works no queue")

	require.NoError(t, cluster.StopServer())
	require.Eventually(t, func() bool {
		code, body = readyz(r.base)
		return code == http.StatusServiceUnavailable && !body.Components["database"].Ready
	}, 30*time.Second, 20*time.Millisecond, "still ready without a database: %d %+v", code, body)
	require.False(t, body.Ready)
	require.Equal(t, "unreachable", body.Components["database"].State)
	require.NotEmpty(t, body.Components["database"].Error)

	require.NoError(t, cluster.StartServer(context.Background()))
	require.Eventually(t, func() bool {
		code, body = readyz(r.base)
		return code == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "not ready again: %d %+v", code, body)
	require.Equal(t, "reachable", body.Components["database"].State)
	require.Equal(t, "streaming", body.Components["replication"].State)
}

// gauge reads a health gauge from the default registry.
func gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// The monitor's lag grows while no sidecar streams the slot and falls to zero once one has
// caught up. Not parallel: it reads the process-wide gauges.
func TestLagGrowsWhileTheSidecarIsStoppedAndFallsToZeroAfterCatchUp(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	cfg := sidecar.Config{DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0", Stages: []string{sidecar.StagesNone},
		Replication: replication.Config{Slot: "sc_lag", StatusInterval: time.Second, ReceiveTimeout: 3 * time.Second, HeartbeatInterval: time.Second}}
	mon, err := health.NewMonitor(db.Pool, health.MonitorConfig{Slot: cfg.Replication.Slot, Instance: "lag-test", SampleInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	poll := func() health.Sample {
		s, err := mon.Poll(ctx)
		require.NoError(t, err)
		require.Equal(t, float64(s.LagBytes), gauge(t, "vendorhub_health_replication_lag_bytes"))
		require.Equal(t, s.LagSeconds, gauge(t, "vendorhub_health_replication_lag_seconds"))
		return s
	}
	caughtUp := func(what string) {
		var last atomic.Pointer[health.Sample]
		// A generous bound for loaded machines: the wait ends at the first zero sample.
		ok := assert.Eventually(t, func() bool {
			s := poll()
			last.Store(&s)
			return s.SlotExists && s.SlotActive && s.LagBytes == 0 && s.LagSeconds == 0
		}, 3*time.Minute, 50*time.Millisecond)
		require.True(t, ok, "%s: lag never fell to zero; last sample %+v", what, last.Load())
	}
	write := func(n int) {
		for range n {
			_, err := db.Pool.Exec(ctx, `select pg_logical_emit_message(true, 'vendorhub', json_build_object('id', gen_random_uuid(),
				'type', 'heartbeat', 'occurred_at', now(), 'subject', json_build_object('table', 'test', 'id', 'x'))::text)`)
			require.NoError(t, err)
		}
	}

	first := runSidecar(t, cfg)
	caughtUp("first sidecar")
	first.stop()

	// Stopped: every poll after more writes shows more bytes and more seconds behind.
	poll()
	write(20)
	a := poll()
	write(20)
	b := poll()
	write(20)
	c := poll()
	samples := fmt.Sprintf("samples:\n%+v\n%+v\n%+v", a, b, c)
	require.False(t, c.SlotActive, samples)
	require.Greater(t, b.LagBytes, a.LagBytes, samples)
	require.Greater(t, c.LagBytes, b.LagBytes, samples)
	require.Greater(t, b.LagSeconds, a.LagSeconds, samples)
	require.Greater(t, c.LagSeconds, b.LagSeconds, samples)
	require.Equal(t, health.RiskOK, c.Risk, "unlimited max_slot_wal_keep_size and little WAL: no warning")

	// A new sidecar resumes from the cursor and catches up: lag falls back to zero.
	runSidecar(t, cfg)
	caughtUp("second sidecar")
}

func TestHealthConfigFromEnvAndBadValues(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:5432/postgres", "VENDORHUB_HEALTH_POLL_INTERVAL": "2s",
		"VENDORHUB_BREAKER_FAILURES": "7", "VENDORHUB_OPERATOR_TOKEN": "op-secret", "VENDORHUB_DEV_RPC": "on"}
	cfg, err := sidecar.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, cfg.Health.PollInterval)
	require.Equal(t, 7, cfg.Health.BreakerFailures)
	require.Equal(t, "op-secret", cfg.Health.OperatorToken)

	env["VENDORHUB_BREAKER_OPEN_TIMEOUT"] = "soon"
	_, err = sidecar.FromEnv(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "VENDORHUB_BREAKER_OPEN_TIMEOUT")

	db := pgtest.NewDB(t)
	for _, tc := range []struct {
		hc   sidecar.HealthConfig
		want string
	}{
		{sidecar.HealthConfig{DevRPC: "maybe"}, "VENDORHUB_DEV_RPC"},
		{sidecar.HealthConfig{Dashboard: "sometimes"}, "VENDORHUB_DASHBOARD"},
		{sidecar.HealthConfig{SlotWarnPercent: 120}, "VENDORHUB_SLOT_WARN_PERCENT"},
		{sidecar.HealthConfig{AlertWebhookURL: "ftp://alerts"}, "VENDORHUB_ALERT_WEBHOOK_URL"},
		{sidecar.HealthConfig{DevRPC: "on"}, "SUPABASE_JWT_SECRET"}, // run mode: no key to verify JWTs
	} {
		_, err := sidecar.New(context.Background(), sidecar.Config{DatabaseURL: db.URL, Stages: []string{"health"}, Health: tc.hc},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.Error(t, err, "%+v", tc.hc)
		require.True(t, strings.Contains(err.Error(), tc.want), "%v does not name %s", err, tc.want)
	}
}
