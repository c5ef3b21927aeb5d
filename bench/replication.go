package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/route"
)

func init() { register("replication", benchReplication) }

// Replication benchmark parameters (docs/replication.md).
const (
	replBacklogEvents = 200_000
	replEventsPerTx   = 100
	replRounds        = 5
	replLatencyRate   = 1000 // events per second for the hand-off latency run
	replLatencyFor    = 10 * time.Second
)

// benchReplication measures, on one database of the shared (durable) cluster:
//   - replication.ratio_vs_pg_recvlogical: decode+route of a 200,000-event backlog by the
//     sidecar's stream (durable routes stubbed) against pg_recvlogical (pgoutput, same
//     publication, messages on) draining the same backlog from its own slot to /dev/null;
//     five interleaved rounds, medians; each client's CPU time per event is recorded too
//     (pg_recvlogical's rusage; this process's for the sidecar), as it depends less on the
//     machine's load than wall time;
//   - replication.durable_events_per_s and replication.peak_rss_mib: the real `vendorhub run`
//     binary (probe sink: one River job per event, unique on the event key) draining the same
//     backlog, wall time from process start to the last event's job, and the process's peak
//     RSS (VmHWM);
//   - replication.handoff_p99_ms: commit → committed hand-off (one job per event) at 1,000
//     single-event transactions per second for 10 s, from each transaction's commit timestamp.
func benchReplication(ctx context.Context, env *Env) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	bin, err := buildVendorhub(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))

	// One pgoutput slot per consumer, created before the backlog (a slot sees only later WAL).
	var recvSlots, stubSlots []string
	for i := range replRounds {
		recvSlots = append(recvSlots, fmt.Sprintf("bench_recv_%d", i))
		stubSlots = append(stubSlots, fmt.Sprintf("bench_stub_%d", i))
	}
	durableSlot := "bench_durable"
	for _, s := range slices.Concat(recvSlots, stubSlots, []string{durableSlot}) {
		if _, err := db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'pgoutput')`, s); err != nil {
			return fmt.Errorf("create slot %s: %w", s, err)
		}
	}
	defer func() {
		for _, s := range slices.Concat(recvSlots, stubSlots, []string{durableSlot}) {
			_, _ = db.Pool.Exec(context.WithoutCancel(ctx), `select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1 and not active`, s)
		}
	}()

	began := time.Now()
	marker, end, err := replBacklog(ctx, db.Pool, replBacklogEvents)
	if err != nil {
		return err
	}
	env.Logf("backlog of %d events (+1 marker) generated in %.1fs, WAL end %s", replBacklogEvents, time.Since(began).Seconds(), end)
	if _, err := db.Pool.Exec(ctx, `checkpoint`); err != nil {
		return err
	}

	var recvRates, stubRates, recvCPU, stubCPU []float64
	for i := range replRounds {
		d, cpu, err := replRecvlogical(ctx, db.URL, recvSlots[i], end)
		if err != nil {
			return err
		}
		recvRates = append(recvRates, replBacklogEvents/d.Seconds())
		recvCPU = append(recvCPU, cpu.Seconds()*1e6/replBacklogEvents)
		before := selfCPU()
		d, err = replStub(ctx, db.URL, db.Pool, stubSlots[i])
		if err != nil {
			return err
		}
		stubCPU = append(stubCPU, (selfCPU()-before).Seconds()*1e6/replBacklogEvents)
		stubRates = append(stubRates, replBacklogEvents/d.Seconds())
		env.Logf("round %d: pg_recvlogical %.0f events/s (%.2f µs CPU/event), sidecar decode+route %.0f events/s (%.2f µs CPU/event)",
			i+1, recvRates[i], recvCPU[i], stubRates[i], stubCPU[i])
	}
	recv, stub := median(recvRates), median(stubRates)
	env.Record("replication.pg_recvlogical_events_per_s", recv)
	env.Record("replication.decode_route_events_per_s", stub)
	env.Record("replication.ratio_vs_pg_recvlogical", stub/recv)
	env.Record("replication.pg_recvlogical_cpu_us_per_event", median(recvCPU))
	env.Record("replication.decode_route_cpu_us_per_event", median(stubCPU))

	d, rss, err := replDurable(ctx, bin, db.URL, db.Pool, durableSlot, marker)
	if err != nil {
		return err
	}
	env.Record("replication.durable_events_per_s", replBacklogEvents/d.Seconds())
	env.Record("replication.peak_rss_mib", rss)

	p50, p99, n, err := replLatency(ctx, db)
	if err != nil {
		return err
	}
	env.Logf("hand-off latency over %d transactions at %d events/s: p50 %.1f ms, p99 %.1f ms", n, replLatencyRate, p50, p99)
	env.Record("replication.handoff_p50_ms", p50)
	env.Record("replication.handoff_p99_ms", p99)
	return nil
}

// replEmitSQL commits $1 task.updated events (envelopes like vendorhub.emit writes).
const replEmitSQL = `
select count(pg_logical_emit_message(true, 'vendorhub', json_build_object(
  'id', id, 'type', 'task.updated', 'occurred_at', now(), 'wedding_id', id,
  'subject', json_build_object('table', 'tasks', 'id', id), 'data', json_build_object('status', 'done', 'title', 'Set up the arch'))::text))
from (select gen_random_uuid() as id from generate_series(1, $1)) g`

// replBacklog commits events events (replEventsPerTx per transaction), then a marker event alone; it returns the marker's id
// and the WAL end after it.
func replBacklog(ctx context.Context, pool *pgxpool.Pool, events int) (marker, end string, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return "", "", err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `set synchronous_commit = off`); err != nil {
		return "", "", err
	}
	for done := 0; done < events; done += replEventsPerTx {
		if _, err := conn.Exec(ctx, replEmitSQL, replEventsPerTx); err != nil {
			return "", "", err
		}
	}
	err = conn.QueryRow(ctx, `
select id::text from (select gen_random_uuid() as id) g,
  lateral (select pg_logical_emit_message(true, 'vendorhub', json_build_object(
    'id', id, 'type', 'task.updated', 'occurred_at', now(), 'wedding_id', id,
    'subject', json_build_object('table', 'tasks', 'id', id))::text)) e`).Scan(&marker)
	if err != nil {
		return "", "", err
	}
	if _, err := conn.Exec(ctx, `set synchronous_commit = on`); err != nil {
		return "", "", err
	}
	err = conn.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&end)
	return marker, end, err
}

// selfCPU is the CPU time (user + system) this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// replRecvlogical drains slot to end with pg_recvlogical, output to /dev/null; it returns
// the wall time and pg_recvlogical's CPU time.
func replRecvlogical(ctx context.Context, dbURL, slot, end string) (time.Duration, time.Duration, error) {
	bin := "pg_recvlogical"
	if p, err := exec.LookPath(bin); err == nil {
		bin = p
	} else if _, err := os.Stat("/usr/lib/postgresql/15/bin/pg_recvlogical"); err == nil {
		bin = "/usr/lib/postgresql/15/bin/pg_recvlogical"
	}
	cmd := exec.CommandContext(ctx, bin, "-d", dbURL, "--slot="+slot, "--start", "--no-loop", "--endpos="+end,
		"-o", "proto_version=1", "-o", "publication_names=vendorhub", "-o", "messages=true", "-f", "/dev/null")
	began := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("pg_recvlogical: %w: %s", err, out)
	}
	return time.Since(began), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// stubCommitter routes every transaction (the pure half of the hand-off, called by the
// stream's reader) and makes nothing durable.
type stubCommitter struct {
	router *route.Router
	events atomic.Int64
	done   chan struct{}
	once   sync.Once
	want   int64
}

func (*stubCommitter) Cursor(context.Context) (uint64, error) { return 0, nil }

func (s *stubCommitter) Route(txs []decode.Transaction) []route.Routed {
	return handoff.Route(s.router, txs, nil)
}

func (s *stubCommitter) CommitRouted(_ context.Context, _ []decode.Transaction, routed []route.Routed, _ uint64) error {
	var n int64
	for i := range routed {
		if routed[i].Type == event.TaskUpdated {
			n++
		}
	}
	if s.events.Add(n) >= s.want {
		s.once.Do(func() { close(s.done) })
	}
	return nil
}

func (*stubCommitter) Broadcast([]route.Routed) {}

// replStub drains slot with the sidecar's stream and a stub committer: decode + route.
func replStub(ctx context.Context, dbURL string, pool *pgxpool.Pool, slot string) (time.Duration, error) {
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := &stubCommitter{router: route.NewRouter(route.DefaultRules, route.Options{Logger: quiet}),
		done: make(chan struct{}), want: replBacklogEvents + 1}
	stream, err := replication.New(replication.Config{ConnString: dbURL, Slot: slot, HeartbeatInterval: time.Hour,
		Logger: quiet}, c, pool)
	if err != nil {
		return 0, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	began := time.Now()
	runErr := make(chan error, 1)
	go func() { runErr <- stream.Run(sctx) }()
	select {
	case <-c.done:
	case err := <-runErr:
		return 0, fmt.Errorf("stream ended: %v", err)
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("stub drain of %s timed out at %d events", slot, c.events.Load())
	}
	d := time.Since(began)
	cancel()
	<-runErr
	return d, nil
}

// replDurable runs `vendorhub run` with the probe sink on slot until the marker's job exists,
// and returns the wall time and the process's peak RSS in MiB.
func replDurable(ctx context.Context, bin, dbURL string, pool *pgxpool.Pool, slot, marker string) (time.Duration, float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	cmd := exec.CommandContext(ctx, bin, "run")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "VENDORHUB_SLOT="+slot, "VENDORHUB_STAGES=none",
		"VENDORHUB_HANDOFF_PROBE=true", "VENDORHUB_HTTP_ADDR="+addr)
	var logBuf strings.Builder
	var logMu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logBuf.Write(p) })
	cmd.Stderr = cmd.Stdout
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	probe := `{"event_id":"` + marker + `"}`
	// The marker is the last event committed: its job is among the newest (a heartbeat may
	// follow it). A look at the newest rows by primary key keeps the poll off the measured work.
	for {
		select {
		case err := <-exited:
			exited <- err
			logMu.Lock()
			defer logMu.Unlock()
			return 0, 0, fmt.Errorf("vendorhub run exited: %v\n%s", err, logBuf.String())
		case <-tick.C:
		case <-time.After(10 * time.Minute):
			return 0, 0, errors.New("durable drain timed out")
		}
		var done bool
		if err := pool.QueryRow(ctx, `
select exists (select 1 from (select args from river.river_job where kind = 'handoff.event' order by id desc limit 100) j
               where j.args @> $1::jsonb)`, probe).Scan(&done); err != nil {
			return 0, 0, err
		}
		if done {
			break
		}
	}
	d := time.Since(began)
	rss, err := peakRSSMiB(cmd.Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	var n int
	if err := pool.QueryRow(ctx, `select count(*) from river.river_job where kind = 'handoff.event' and args->>'type' = 'task.updated'`).Scan(&n); err != nil {
		return 0, 0, err
	}
	if n != replBacklogEvents+1 {
		return 0, 0, fmt.Errorf("durable drain: %d probe jobs, want %d", n, replBacklogEvents+1)
	}
	return d, rss, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// peakRSSMiB reads VmHWM (peak resident set) of pid.
func peakRSSMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("VmHWM not found")
}

// latencyCommitter records, for every handed-off transaction, commit → hand-off committed.
type latencyCommitter struct {
	*handoff.Handoff
	mu      sync.Mutex
	samples []time.Duration
}

func (l *latencyCommitter) CommitRouted(ctx context.Context, batch []decode.Transaction, routed []route.Routed, upTo uint64) error {
	if err := l.Handoff.CommitRouted(ctx, batch, routed, upTo); err != nil {
		return err
	}
	now := time.Now()
	l.mu.Lock()
	for i := range batch {
		if len(batch[i].Messages) > 0 && !batch[i].CommitTime.IsZero() {
			l.samples = append(l.samples, now.Sub(batch[i].CommitTime))
		}
	}
	l.mu.Unlock()
	return nil
}

func (l *latencyCommitter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.samples)
}

// replLatency runs the stream with the real hand-off (one job per event) while single-event
// transactions commit at replLatencyRate per second, and returns p50 and p99 in ms.
func replLatency(ctx context.Context, db *pgtest.DB) (p50, p99 float64, n int, err error) {
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slot := "bench_latency"
	workers := river.NewWorkers()
	river.AddWorker(workers, handoff.EventJobWorker{})
	client, err := jobs.NewClient(db.Pool, jobs.Config{Workers: workers, Logger: quiet})
	if err != nil {
		return 0, 0, 0, err
	}
	ho, err := handoff.New(db.Pool, handoff.Config{Slot: slot, Logger: quiet,
		Router: route.NewRouter(route.DefaultRules, route.Options{Logger: quiet}),
		Sinks:  []handoff.Sink{&handoff.JobSink{Jobs: client}}})
	if err != nil {
		return 0, 0, 0, err
	}
	lc := &latencyCommitter{Handoff: ho}
	stream, err := replication.New(replication.Config{ConnString: db.URL, Slot: slot, HeartbeatInterval: time.Hour,
		Logger: quiet}, lc, db.Pool)
	if err != nil {
		return 0, 0, 0, err
	}
	sctx, cancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- stream.Run(sctx) }()
	defer func() {
		cancel()
		<-runErr
		_, _ = db.Pool.Exec(context.WithoutCancel(ctx), `select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1 and not active`, slot)
	}()
	select {
	case <-stream.Leading():
	case err := <-runErr:
		runErr <- err
		return 0, 0, 0, fmt.Errorf("stream ended: %v", err)
	}

	// Writers each commit single-event transactions on their own ticker.
	const writers = 4
	total := int(replLatencyRate * replLatencyFor / time.Second)
	var committed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second * writers / replLatencyRate)
			defer t.Stop()
			for range total / writers {
				<-t.C
				if _, err := db.Pool.Exec(ctx, replEmitSQL, 1); err != nil {
					errs <- err
					return
				}
				committed.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, 0, err
	}
	deadline := time.Now().Add(time.Minute)
	for lc.count() < total {
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("only %d of %d transactions handed off", lc.count(), total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lc.mu.Lock()
	samples := slices.Clone(lc.samples)
	lc.mu.Unlock()
	slices.Sort(samples)
	ms := func(q float64) float64 {
		return float64(samples[min(len(samples)-1, int(q*float64(len(samples))))].Microseconds()) / 1000
	}
	return ms(0.50), ms(0.99), len(samples), nil
}

// buildVendorhub builds cmd/vendorhub into a temporary directory.
func buildVendorhub(ctx context.Context) (string, error) {
	dir, err := os.MkdirTemp("", "vendorhub-bench-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "vendorhub")
	out, err := exec.CommandContext(ctx, filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "./cmd/vendorhub").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build vendorhub: %w: %s", err, out)
	}
	return bin, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
