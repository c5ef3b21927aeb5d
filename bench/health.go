package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/dashboard"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/postgrest"
	"github.com/wedsync/vendorhub/internal/report"
)

func init() { register("health", benchHealth) }

// benchHealth measures the operator-facing paths on the seeded database: a dev RPC call
// (send_message through the PostgREST-compatible endpoint, as supabase-js calls it), the
// dashboard overview (every query of one refresh), the integration report, one health poll,
// and the overhead of a circuit breaker around a provider call.
func benchHealth(ctx context.Context, env *Env) error {
	db, err := env.NewDB(ctx, true)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := auth.NewVerifier(auth.Config{JWTSecret: auth.DevJWTSecret})
	if err != nil {
		return err
	}
	rpc, err := postgrest.New(db.Pool, postgrest.Config{Verifier: v, Logger: quiet})
	if err != nil {
		return err
	}
	mon, err := health.NewMonitor(db.Pool, health.MonitorConfig{Slot: "bench", Instance: "bench", SampleInterval: -1, Logger: quiet})
	if err != nil {
		return err
	}
	breakers, err := breaker.New(breaker.Config{}, nil)
	if err != nil {
		return err
	}
	dash, err := dashboard.New(db.Pool, dashboard.Config{Dev: true, Monitor: mon, Breakers: breakers, Logger: quiet})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(postgrest.Pattern, rpc)
	dash.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	token, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: "10000000-0000-4000-8000-000000000004", TTL: time.Hour})
	if err != nil {
		return err
	}
	const n = 200
	rpcMs := make([]float64, 0, n)
	for i := range n {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/rest/v1/rpc/send_message",
			strings.NewReader(fmt.Sprintf(`{"conversation_id": "40000000-0000-4000-8000-000000000001", "body": "bench %d"}`, i)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("rpc send_message: HTTP %d", resp.StatusCode)
		}
		rpcMs = append(rpcMs, float64(time.Since(start))/float64(time.Millisecond))
	}
	slices.Sort(rpcMs)
	env.Record("health_rpc_send_message_p50_ms", breaker.Percentile(rpcMs, 0.5))
	env.Record("health_rpc_send_message_p95_ms", breaker.Percentile(rpcMs, 0.95))

	overview, err := timeIt(20, func() error {
		resp, err := http.Get(srv.URL + "/dashboard/api/overview")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("overview: HTTP %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		return err
	}
	env.Record("health_dashboard_overview_ms", overview)

	to := time.Now()
	rep, err := timeIt(20, func() error {
		_, err := report.Build(ctx, db.Pool, to.Add(-30*24*time.Hour), to, report.Options{})
		return err
	})
	if err != nil {
		return err
	}
	env.Record("health_report_build_ms", rep)

	poll, err := timeIt(50, func() error { _, err := mon.Poll(ctx); return err })
	if err != nil {
		return err
	}
	env.Record("health_monitor_poll_ms", poll)

	// Breaker overhead: the same no-op call with and without the breaker around it.
	const calls = 200000
	start := time.Now()
	for range calls {
		_ = noop()
	}
	bare := time.Since(start)
	start = time.Now()
	for range calls {
		_ = breakers.Do("provider:bench", noop)
	}
	env.Record("health_breaker_overhead_ns", float64(time.Since(start)-bare)/calls)
	return nil
}

func noop() error { return nil }

// timeIt runs fn n times and returns its mean duration in milliseconds.
func timeIt(n int, fn func() error) (float64, error) {
	start := time.Now()
	for range n {
		if err := fn(); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start)) / float64(time.Millisecond) / float64(n), nil
}
