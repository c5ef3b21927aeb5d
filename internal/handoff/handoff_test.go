package handoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
		Sinks: []handoff.Sink{counting, &handoff.JobSink{Client: func() *river.Client[pgx.Tx] { return client }}}})
	require.NoError(t, err)

	batch := []decode.Transaction{tx(0x100, 0x180, "a", "b"), tx(0x200, 0x280, "c")}
	res, err := h.Commit(ctx, batch, 0x280)
	require.NoError(t, err)
	require.Equal(t, uint64(0x280), res.Cursor)
	require.Len(t, res.Routed, 3)
	require.Equal(t, "100/1", res.Routed[1].Key.String(), "key = commit LSN / index in its transaction")
	require.Equal(t, "200/0", res.Routed[2].Key.String())

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
	res, err := h.Commit(ctx, []decode.Transaction{tx(0x300, 0x380, "late")}, 0x380)
	require.NoError(t, err)
	require.Equal(t, uint64(0x5000), res.Cursor)
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
		Sinks: []handoff.Sink{&handoff.JobSink{Client: func() *river.Client[pgx.Tx] { return client }}, failingSink{}}})
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
	res, err := h.Commit(ctx, []decode.Transaction{bad}, 0x180)
	require.NoError(t, err)
	require.Len(t, res.Routed, 1)
	require.Equal(t, "good", res.Routed[0].ID)
	require.Equal(t, "100/1", res.Routed[0].Key.String(), "the malformed message keeps its index")
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
	res, err := h.Commit(ctx, []decode.Transaction{nontx, tx(0x200, 0x280, "committed")}, 0x280)
	require.NoError(t, err)
	require.Len(t, res.Routed, 1)
	require.Equal(t, "committed", res.Routed[0].ID)
	require.Equal(t, uint64(0x280), res.Cursor, "the cursor still covers the message's position")
}
