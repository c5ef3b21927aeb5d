package main

// TEMPORARY profiling helper (not to be kept).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/route"
)

func init() { register("notifyprof", benchNotifyProf) }

type profTracer struct {
	mu    sync.Mutex
	tot   map[string]time.Duration
	start time.Time
	sql   string
}

func (t *profTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t.mu.Lock()
	t.start, t.sql = time.Now(), d.SQL
	t.mu.Unlock()
	return ctx
}
func (t *profTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	t.mu.Lock()
	k := strings.Join(strings.Fields(t.sql), " ")
	if len(k) > 70 {
		k = k[:70]
	}
	t.tot[k] += time.Since(t.start)
	t.mu.Unlock()
}
func (t *profTracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromStartData) context.Context {
	t.mu.Lock()
	t.start, t.sql = time.Now(), "COPY "+d.TableName.Sanitize()
	t.mu.Unlock()
	return ctx
}
func (t *profTracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromEndData) {
	t.TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{})
}

func benchNotifyProf(ctx context.Context, env *Env) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	if f := os.Getenv("NB_EXTRA_SQL"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := db.Pool.Exec(ctx, string(b)); err != nil {
			return err
		}
	}
	ws, err := nbFixture(ctx, db.Pool, notifyPlanWeddings, notifyVendors)
	if err != nil {
		return err
	}
	tr := &profTracer{tot: map[string]time.Duration{}}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		return err
	}
	cfg.ConnConfig.Tracer = tr
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := jobs.NewClient(pool, jobs.Config{Logger: quiet})
	if err != nil {
		return err
	}
	worst, err := notify.NewPlanner(notify.Config{Window: time.Nanosecond, Logger: quiet}, client)
	if err != nil {
		return err
	}
	var pid int
	if err := pool.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		return err
	}
	_ = os.WriteFile("/tmp/nbpg/benchpid", []byte(fmt.Sprint(pid)), 0o644)
	if os.Getenv("NB_PERF") != "" {
		time.Sleep(2 * time.Second)
	}
	lsn := uint64(0x1000000)
	cpu := func() time.Duration {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(b))
		var u, s int64
		fmt.Sscan(f[13], &u)
		fmt.Sscan(f[14], &s)
		return time.Duration(u+s) * 10 * time.Millisecond
	}
	var cpus []time.Duration
	for rep := 0; rep < 6; rep++ {
		c0 := cpu()
		for k := range tr.tot {
			delete(tr.tot, k)
		}
		start := time.Now().Add(time.Duration(rep) * time.Hour)
		var events []route.Routed
		for r := range 5 {
			for _, w := range ws {
				sender := w.vendors[r%len(w.vendors)]
				participants := append([]string{w.couple}, w.vendors...)
				data, _ := json.Marshal(map[string]any{"sender_id": sender, "body_preview": "Running 10 minutes late"})
				wid, conv := w.id, w.group
				lsn++
				events = append(events, route.Routed{Event: event.Event{Envelope: event.Envelope{ID: uuid.NewString(),
					Type: event.MessageCreated, WeddingID: &wid, Actor: &sender,
					Subject: event.Subject{Table: "messages", ID: uuid.NewString(), ConversationID: &conv, Participants: participants},
					Data:    data}, Key: event.Key{CommitLSN: lsn}, CommitTime: start.Add(time.Duration(r) * time.Second)},
					Category: notify.CategoryNewMessage})
			}
		}
		began := time.Now()
		for i := 0; i < len(events); i += 50 {
			chunk := events[i:min(i+50, len(events))]
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return worst.HandOff(ctx, tx, chunk) }); err != nil {
				return err
			}
		}
		el := time.Since(began)
		c1 := cpu() - c0
		if rep > 0 {
			cpus = append(cpus, c1)
		}
		env.Logf("rep %d: %.0f decisions/s (%s), backend cpu %s", rep, float64(len(events)*30)/el.Seconds(), el, c1)
		type kv struct {
			k string
			d time.Duration
		}
		var kvs []kv
		var sum time.Duration
		for k, d := range tr.tot {
			kvs = append(kvs, kv{k, d})
			sum += d
		}
		sort.Slice(kvs, func(i, j int) bool { return kvs[i].d > kvs[j].d })
		for _, x := range kvs {
			env.Logf("  %8s  %s", x.d.Round(time.Millisecond), x.k)
		}
		env.Logf("  sql total %s, other (Go) %s", sum.Round(time.Millisecond), (el - sum).Round(time.Millisecond))
	}
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	env.Logf("backend cpu per rep (reps 1-5): %v; median %s => %.0f decisions per backend-cpu-second", cpus, cpus[len(cpus)/2], 30000/cpus[len(cpus)/2].Seconds())
	return nil
}
