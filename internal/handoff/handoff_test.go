package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/route"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// tx builds a committed transaction carrying one vendorhub event per id.
func tx(commitLSN, endLSN uint64, ids ...string) decode.Transaction {
	t := decode.Transaction{XID: 7, CommitLSN: commitLSN, EndLSN: endLSN, CommitTime: time.Now()}
	for _, id := range ids {
		t.Messages = append(t.Messages, decode.Message{Prefix: "vendorhub", Transactional: true, LSN: commitLSN - 1,
			Content: []byte(`{"id":"` + id + `","type":"task.updated","occurred_at":"2026-11-25T10:00:00Z","subject":{"table":"tasks","id":"` + id + `"}}`)})
	}
	return t
}

func probeClient(t *testing.T, db *pgtest.DB) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, handoff.EventJobWorker{})
	client, err := jobs.NewClient(db.Pool, jobs.Config{Workers: workers})
	require.NoError(t, err)
	return client
}

func TestCommitWritesJobsAndCursorTogetherAndReplaysCreateNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	client := probeClient(t, db)
	counting := &handoff.CountingSink{}
	h, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_test", Instance: "i1",
		Sinks: []handoff.Sink{counting, &handoff.JobSink{Jobs: client}}})
	require.NoError(t, err)

	batch := []decode.Transaction{tx(0x100, 0x180, "a", "b"), tx(0x200, 0x280, "c")}
	routed, err := h.Commit(ctx, batch, 0x280)
	require.NoError(t, err)
	require.Len(t, routed, 3)
	require.Equal(t, "100/1", routed[1].Key.String(), "key = commit LSN / index in its transaction")
	require.Equal(t, "200/0", routed[2].Key.String())

	// A replay of the same transactions (crash between commit and acknowledgement).
	_, err = h.Commit(ctx, batch, 0x280)
	require.NoError(t, err)
	var jobs, keys int
	require.NoError(t, db.Pool.QueryRow(ctx,
		`select count(*), count(distinct args->>'key') from river.river_job where kind = 'handoff.event'`).Scan(&jobs, &keys))
	require.Equal(t, 3, jobs, "a replay inserts no second job")
	require.Equal(t, 3, keys)
	require.Equal(t, 6, counting.Count(), "the counting sink sees both deliveries")

	cursor, err := h.Cursor(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(0x280), cursor)
}

func TestCursorNeverMovesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	h, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_back"})
	require.NoError(t, err)
	cursor, err := h.Cursor(ctx)
	require.NoError(t, err)
	require.Zero(t, cursor, "no row yet")

	_, err = h.Commit(ctx, nil, 0x5000)
	require.NoError(t, err)
	// A deposed leader's late hand-off proposes an older position.
	_, err = h.Commit(ctx, []decode.Transaction{tx(0x300, 0x380, "late")}, 0x380)
	require.NoError(t, err)
	cursor, err = h.Cursor(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(0x5000), cursor)
}

type failingSink struct{}

func (failingSink) Name() string { return "failing" }
func (failingSink) HandOff(ctx context.Context, tx pgx.Tx, _ []route.Routed) error {
	return errors.New("disk full")
}

func TestFailingSinkLeavesNothingDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	client := probeClient(t, db)
	h, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_fail",
		Sinks: []handoff.Sink{&handoff.JobSink{Jobs: client}, failingSink{}}})
	require.NoError(t, err)
	_, err = h.Commit(ctx, []decode.Transaction{tx(0x100, 0x180, "x")}, 0x180)
	var sinkErr *handoff.SinkError
	require.ErrorAs(t, err, &sinkErr)
	require.Equal(t, "failing", sinkErr.Sink)

	var jobs int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from river.river_job`).Scan(&jobs))
	require.Zero(t, jobs, "the job inserted before the failure was rolled back")
	cursor, err := h.Cursor(ctx)
	require.NoError(t, err)
	require.Zero(t, cursor, "the cursor did not move")
}

func TestMalformedEnvelopeIsSkippedNotFatal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	counting := &handoff.CountingSink{}
	h, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_bad", Sinks: []handoff.Sink{counting}})
	require.NoError(t, err)
	bad := tx(0x100, 0x180, "good")
	bad.Messages = append([]decode.Message{{Prefix: "vendorhub", Transactional: true, Content: []byte(`{not json`)}}, bad.Messages...)
	routed, err := h.Commit(ctx, []decode.Transaction{bad}, 0x180)
	require.NoError(t, err)
	require.Len(t, routed, 1)
	require.Equal(t, "good", routed[0].ID)
	require.Equal(t, "100/1", routed[0].Key.String(), "the malformed message keeps its index")
}

func TestNewRejectsNilPoolAndNilSink(t *testing.T) {
	t.Parallel()
	_, err := handoff.New(nil, handoff.Config{})
	require.Error(t, err)
	db := pgtest.NewDB(t)
	_, err = handoff.New(db.Pool, handoff.Config{Sinks: []handoff.Sink{nil}})
	require.ErrorContains(t, err, "Sinks[0] is nil")
}

type recordingBroadcaster struct{ got [][]route.Routed }

func (r *recordingBroadcaster) Publish(evs []route.Routed) { r.got = append(r.got, evs) }

func TestBroadcastReachesEveryBroadcaster(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	a, b := &recordingBroadcaster{}, &recordingBroadcaster{}
	h, err := handoff.New(db.Pool, handoff.Config{Broadcasters: []handoff.Broadcaster{a, b}})
	require.NoError(t, err)
	h.Broadcast(nil)
	require.Empty(t, a.got, "nothing to broadcast, no call")
	h.Broadcast([]route.Routed{{}})
	require.Len(t, a.got, 1)
	require.Len(t, b.got, 1)
}

func TestNonTransactionalMessageIsNotRouted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	counting := &handoff.CountingSink{}
	h, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_nontx", Sinks: []handoff.Sink{counting}})
	require.NoError(t, err)
	nontx := tx(0x100, 0x100, "maybe-rolled-back")
	nontx.XID = 0
	nontx.Messages[0].Transactional = false
	routed, err := h.Commit(ctx, []decode.Transaction{nontx, tx(0x200, 0x280, "committed")}, 0x280)
	require.NoError(t, err)
	require.Len(t, routed, 1)
	require.Equal(t, "committed", routed[0].ID)
	cursor, err := h.Cursor(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(0x280), cursor, "the cursor still covers the message's position")
}

// ids returns n event ids with prefix p.
func ids(p string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", p, i)
	}
	return out
}

// jobCounts returns the number of probe jobs and of distinct keys among them.
func jobCounts(ctx context.Context, t *testing.T, db *pgtest.DB) (jobs, keys int) {
	t.Helper()
	require.NoError(t, db.Pool.QueryRow(ctx,
		`select count(*), count(distinct args->>'key') from river.river_job where kind = 'handoff.event'`).Scan(&jobs, &keys))
	return jobs, keys
}

// Batches of CopyMinJobs or more are copied; a replay, whole or overlapping new events,
// meets the unique index and is inserted again skipping the existing jobs. (Not parallel:
// it counts vendorhub_handoff_job_replays_total, as the next test does.)
func TestLargeBatchesReplayWithoutSecondJob(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	client := probeClient(t, db)
	h, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_copy",
		Sinks: []handoff.Sink{&handoff.JobSink{Jobs: client}}})
	require.NoError(t, err)

	replays := counterValue(t, "vendorhub_handoff_job_replays_total")
	replayed := counterValue(t, "vendorhub_handoff_replayed_transactions_total")
	first := []decode.Transaction{tx(0x100, 0x180, ids("a", handoff.CopyMinJobs)...)}
	_, err = h.Commit(ctx, first, 0x180)
	require.NoError(t, err)
	jobs, keys := jobCounts(ctx, t, db)
	require.Equal(t, handoff.CopyMinJobs, jobs)
	require.Equal(t, handoff.CopyMinJobs, keys)
	require.Equal(t, replays, counterValue(t, "vendorhub_handoff_job_replays_total"), "new jobs are copied at once")

	_, err = h.Commit(ctx, first, 0x180)
	require.NoError(t, err, "a whole replay is not an error")
	require.Equal(t, replayed+1, counterValue(t, "vendorhub_handoff_replayed_transactions_total"), "the replayed transaction is counted")
	// A replay of the first transaction batched with a new one.
	second := append(first, tx(0x200, 0x280, ids("b", handoff.CopyMinJobs)...))
	routed, err := h.Commit(ctx, second, 0x280)
	require.NoError(t, err)
	require.Len(t, routed, 2*handoff.CopyMinJobs)
	jobs, keys = jobCounts(ctx, t, db)
	require.Equal(t, 2*handoff.CopyMinJobs, jobs, "the new events got their jobs, the replayed ones no second one")
	require.Equal(t, 2*handoff.CopyMinJobs, keys)
	require.Equal(t, replays+2, counterValue(t, "vendorhub_handoff_job_replays_total"))
	require.Equal(t, replayed+2, counterValue(t, "vendorhub_handoff_replayed_transactions_total"), "only the replayed transaction of the mixed batch is counted")
}

// gateSink holds its hand-off transaction open until released.
type gateSink struct{ reached, release chan struct{} }

func (*gateSink) Name() string { return "gate" }
func (g *gateSink) HandOff(context.Context, pgx.Tx, []route.Routed) error {
	close(g.reached)
	<-g.release
	return nil
}

// A deposed leader and its successor hand off the same batch at once: the second waits on
// the first's uncommitted jobs, then skips them. Every event has exactly one job. (Not
// parallel: it counts vendorhub_handoff_job_replays_total.)
func TestConcurrentHandOffsOfTheSameBatchCreateOneJobEach(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	client := probeClient(t, db)
	jobSink := &handoff.JobSink{Jobs: client}
	gate := &gateSink{reached: make(chan struct{}), release: make(chan struct{})}
	deposed, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_race", Instance: "deposed", Sinks: []handoff.Sink{jobSink, gate}})
	require.NoError(t, err)
	successor, err := handoff.New(db.Pool, handoff.Config{Slot: "ho_race", Instance: "successor", Sinks: []handoff.Sink{jobSink}})
	require.NoError(t, err)
	batch := []decode.Transaction{tx(0x100, 0x180, ids("r", 2*handoff.CopyMinJobs)...)}

	replays := counterValue(t, "vendorhub_handoff_job_replays_total")
	replayed := counterValue(t, "vendorhub_handoff_replayed_transactions_total")
	errs := make(chan error, 2)
	go func() { _, err := deposed.Commit(ctx, batch, 0x180); errs <- err }()
	<-gate.reached // the deposed leader's jobs are inserted, not committed
	go func() { _, err := successor.Commit(ctx, batch, 0x180); errs <- err }()
	require.Eventually(t, func() bool {
		var waiting int
		err := db.Pool.QueryRow(ctx, `select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, 30*time.Second, 10*time.Millisecond, "the successor waits on the uncommitted jobs")
	close(gate.release)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)

	require.Equal(t, replays+1, counterValue(t, "vendorhub_handoff_job_replays_total"), "the successor's copy met the jobs")
	require.Equal(t, replayed+1, counterValue(t, "vendorhub_handoff_replayed_transactions_total"), "the second commit found the batch under the cursor")

	jobs, keys := jobCounts(ctx, t, db)
	require.Equal(t, 2*handoff.CopyMinJobs, jobs)
	require.Equal(t, 2*handoff.CopyMinJobs, keys)
}

// counterValue reads a counter of the default registry (0 when absent).
func counterValue(t *testing.T, name string) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func TestReplayedCountsTransactionsAtOrBelowTheCursor(t *testing.T) {
	batch := []decode.Transaction{tx(0x100, 0x180, "a"), tx(0x200, 0x280, "b"), tx(0x300, 0x380, "c")}
	require.Equal(t, 0, handoff.Replayed(batch, 0), "no cursor yet")
	require.Equal(t, 0, handoff.Replayed(batch, 0x17f))
	require.Equal(t, 1, handoff.Replayed(batch, 0x180), "a transaction ending at the cursor was handed off")
	require.Equal(t, 2, handoff.Replayed(batch, 0x300))
	require.Equal(t, 3, handoff.Replayed(batch, 0x1000))
}
