package replication_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/route"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var slotSeq atomic.Int64

// slotName returns a slot name unique in the test binary's cluster.
func slotName(t *testing.T) string {
	return fmt.Sprintf("vh_it_%d_%d", os.Getpid(), slotSeq.Add(1))
}

// recorder wraps a Handoff and keeps every committed batch, for assertions on what the
// stream delivered (row changes included, which sinks never see).
type recorder struct {
	*handoff.Handoff
	mu      sync.Mutex
	batches [][]decode.Transaction
	commits chan struct{}
}

func (r *recorder) CommitRouted(ctx context.Context, batch []decode.Transaction, routed []route.Routed, upTo uint64) error {
	err := r.Handoff.CommitRouted(ctx, batch, routed, upTo)
	if err == nil {
		r.mu.Lock()
		r.batches = append(r.batches, append([]decode.Transaction(nil), batch...))
		r.mu.Unlock()
		select {
		case r.commits <- struct{}{}:
		default:
		}
	}
	return err
}

func (r *recorder) transactions() []decode.Transaction {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []decode.Transaction
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

// pipeline is an in-process replication stream with a hand-off to a CountingSink and a
// JobSink (one River job per event).
type pipeline struct {
	db       *pgtest.DB
	slot     string
	counting *handoff.CountingSink
	rec      *recorder
	stream   *replication.Stream
	cancel   context.CancelFunc
	done     chan error
}

type pipelineOpts struct {
	connString string // defaults to db.URL
	slot       string // defaults to a fresh name
	cfg        replication.Config
	wrap       func(*recorder) replication.Committer // the committer the stream gets; defaults to the recorder
}

func startPipeline(t *testing.T, db *pgtest.DB, o pipelineOpts) *pipeline {
	t.Helper()
	if o.slot == "" {
		o.slot = slotName(t)
	}
	if o.connString == "" {
		o.connString = db.URL
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, handoff.EventJobWorker{})
	client, err := jobs.NewClient(db.Pool, jobs.Config{Workers: workers})
	require.NoError(t, err)
	counting := &handoff.CountingSink{}
	ho, err := handoff.New(db.Pool, handoff.Config{Slot: o.slot, Instance: t.Name(),
		Sinks: []handoff.Sink{counting, &handoff.JobSink{Jobs: client}}})
	require.NoError(t, err)
	rec := &recorder{Handoff: ho, commits: make(chan struct{}, 1)}

	cfg := o.cfg
	cfg.ConnString = o.connString
	cfg.Slot = o.slot
	if cfg.InstanceID == "" {
		cfg.InstanceID = fmt.Sprintf("test-%s-%d", o.slot, slotSeq.Add(1))
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
	if cfg.StatusInterval == 0 {
		cfg.StatusInterval = time.Second
	}
	if cfg.AckInterval == 0 {
		cfg.AckInterval = 50 * time.Millisecond
	}
	if cfg.ReceiveTimeout == 0 {
		cfg.ReceiveTimeout = 10 * time.Second
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMin, cfg.ReconnectMax = 50*time.Millisecond, time.Second
	}
	if cfg.StandbyRetry == 0 {
		cfg.StandbyRetry = 200 * time.Millisecond
	}
	var committer replication.Committer = rec
	if o.wrap != nil {
		committer = o.wrap(rec)
	}
	stream, err := replication.New(cfg, committer, db.Pool)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{db: db, slot: o.slot, counting: counting, rec: rec, stream: stream, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- stream.Run(ctx) }()
	t.Cleanup(p.stop)
	return p
}

// stop ends the stream and waits for it (idempotent).
func (p *pipeline) stop() {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		panic("replication stream did not stop within 30s")
	}
	p.done <- nil
}

func (p *pipeline) waitLeader(t *testing.T) {
	t.Helper()
	select {
	case <-p.stream.Leading():
	case <-time.After(30 * time.Second):
		t.Fatalf("stream did not become leader: %+v", p.stream.Status())
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// emitEvents commits n events in transactions of perTx, through pg_logical_emit_message with
// the vendorhub prefix (what vendorhub.emit writes), and returns their ids.
func emitEvents(ctx context.Context, t *testing.T, pool *pgxpool.Pool, n, perTx int) []string {
	t.Helper()
	var ids []string
	for done := 0; done < n; done += perTx {
		k := min(perTx, n-done)
		rows, err := pool.Query(ctx, `
select id::text from (
  select gen_random_uuid() as id from generate_series(1, $1)
) g, lateral (select pg_logical_emit_message(true, 'vendorhub', json_build_object(
  'id', g.id, 'type', 'task.updated', 'occurred_at', now(), 'wedding_id', g.id,
  'subject', json_build_object('table', 'tasks', 'id', g.id))::text)) e`, k)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		ids = append(ids, got...)
	}
	return ids
}

// probeJobs returns event id → number of probe jobs.
func probeJobs(ctx context.Context, t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(ctx, `select args->>'event_id', count(*)::int from river.river_job where kind = 'handoff.event' group by 1`)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		out[id] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// requireExactlyOnce waits until every id has a probe job, then checks none has two and
// no other job exists.
func requireExactlyOnce(ctx context.Context, t *testing.T, pool *pgxpool.Pool, ids []string) {
	t.Helper()
	var jobs map[string]int
	require.Eventually(t, func() bool {
		jobs = probeJobs(ctx, t, pool)
		return len(jobs) >= len(ids)
	}, 60*time.Second, 50*time.Millisecond, "probe jobs never covered every event")
	for _, id := range ids {
		require.Equal(t, 1, jobs[id], "event %s: want exactly one job", id)
	}
	require.Len(t, jobs, len(ids), "jobs for events that were never generated")
}

// slotState returns the slot's confirmed_flush_lsn and the cursor row's lsn.
func slotState(ctx context.Context, t *testing.T, pool *pgxpool.Pool, slot string) (confirmed, cursor uint64) {
	t.Helper()
	var s *string
	require.NoError(t, pool.QueryRow(ctx, `select confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1`, slot).Scan(&s))
	if s != nil {
		l, err := pglogrepl.ParseLSN(*s)
		require.NoError(t, err)
		confirmed = uint64(l)
	}
	c, err := handoff.ReadCursor(ctx, pool, slot)
	require.NoError(t, err)
	return confirmed, c
}

func currentWALLSN(ctx context.Context, t *testing.T, pool *pgxpool.Pool) uint64 {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&s))
	l, err := pglogrepl.ParseLSN(s)
	require.NoError(t, err)
	return uint64(l)
}

func pgLSN(v uint64) string { return pglogrepl.LSN(v).String() }

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
}
