package replication_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

const chaosEvents = 50_000

// skippedMetric counts received transactions dropped because they are not beyond what is
// durable or queued.
const skippedMetric = "vendorhub_replication_skipped_transactions_total"

// replays is the evidence that restarts hit the replay window: transactions handed off
// (durable, in the cursor row) but not yet acknowledged to the slot. The server would send
// them again from confirmed_flush_lsn; the new process asks to start at the cursor instead
// (START_REPLICATION at the cursor: the walsender skips transactions that end before it),
// and drops any that still arrive (skipped).
type replays struct {
	restarts    int     // processes killed and replaced
	behind      int     // restarts at which the slot's confirmed_flush_lsn was behind the cursor row
	behindBytes uint64  // sum of those gaps, in WAL bytes
	skipped     float64 // transactions re-received and dropped, summed over the processes
}

// killAndRestart reads the replay counter of sc, SIGKILLs it, records how far the slot's
// confirmed position is behind the durable cursor once its walsender is gone, and starts a
// new process that must become leader.
func killAndRestart(ctx context.Context, t *testing.T, sc *sidecar, o sidecarOpts, db *pgtest.DB, r *replays) *sidecar {
	t.Helper()
	if v, err := sc.metric(skippedMetric); err == nil {
		r.skipped += v
	}
	sc.kill()
	// The walsender settles the last status update it got, then ends: read after that.
	require.Eventually(t, func() bool {
		var active bool
		return db.Pool.QueryRow(ctx, `select active_pid is not null from pg_replication_slots where slot_name = $1`, o.slot).
			Scan(&active) == nil && !active
	}, 30*time.Second, 5*time.Millisecond)
	confirmed, cursor, err := slotPositions(ctx, db.Pool, o.slot)
	require.NoError(t, err)
	r.restarts++
	if cursor > confirmed {
		r.behind++
		r.behindBytes += cursor - confirmed
	}
	sc = startSidecarWith(t, o)
	sc.waitRole("leader", 30*time.Second)
	return sc
}

// killChaos configures runKillChaos.
type killChaos struct {
	bin       string
	events    int
	perSecond int
	kills     int
	// killWhenAhead kills at the first moment the slot is seen acknowledged beyond the
	// cursor row (else after a random 0.3–0.9 s): the moment a broken acknowledgement loses
	// data. A correct build is never ahead, so its kills stay random.
	killWhenAhead bool
}

type killChaosResult struct {
	loss    probeLoss
	replays replays
	trace   ackTrace
	took    time.Duration
}

// runKillChaos streams events through the probe sink of o.bin while killing it o.kills
// times, waits until the slot covers the WAL, and counts what was lost or doubled.
func runKillChaos(t *testing.T, o killChaos) killChaosResult {
	t.Helper()
	start := time.Now()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	opts := sidecarOpts{bin: o.bin, dbURL: db.URL, slot: slotFor(t), ackTrace: ackTraceFile(t)}
	gen := newGenerator(ctx, t, db.URL)
	sc := startSidecarWith(t, opts)
	sc.waitRole("leader", 30*time.Second)

	gctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	genDone := make(chan error, 1)
	go func() { genDone <- gen.run(gctx, o.events, o.perSecond) }()
	var res killChaosResult
	for range o.kills {
		// Kill after a random moment, or (killWhenAhead) as soon as a hand-off committed
		// beyond what the slot confirmed; the generator must still be running.
		pollUntil(ctx, jitter(300*time.Millisecond, 900*time.Millisecond), 2*time.Millisecond, func() bool {
			select {
			case err := <-genDone:
				t.Fatalf("generator ended before the kills: %v", err)
			default:
			}
			if !o.killWhenAhead {
				return false
			}
			c, cur, err := slotPositions(ctx, db.Pool, opts.slot)
			return err == nil && c > cur
		})
		sc = killAndRestart(ctx, t, sc, opts, db, &res.replays)
	}
	require.NoError(t, <-genDone)
	res.loss = countProbeLoss(ctx, t, db.Pool, opts.slot)
	if v, err := sc.metric(skippedMetric); err == nil {
		res.replays.skipped += v
	}
	res.trace = readAckTrace(t, opts.ackTrace)
	res.took = time.Since(start)
	t.Logf("%d events, %d kills: %d lost, %d doubled; restarts behind the cursor %d (%d bytes), transactions re-received and skipped %.0f; %d acknowledgements, %d beyond the cursor; %s",
		res.loss.events, res.replays.restarts, res.loss.missing, res.loss.duplicates, res.replays.behind, res.replays.behindBytes,
		res.replays.skipped, res.trace.acks, res.trace.violations, res.took.Round(time.Millisecond))
	return res
}

func TestChaosNoLossNoDuplicatesWhenTheSidecarIsKilled(t *testing.T) {
	t.Parallel()
	r := runKillChaos(t, killChaos{bin: binary, events: chaosEvents, perSecond: 10_000, kills: 3})
	require.Equal(t, chaosEvents, r.loss.events)
	require.Zero(t, r.loss.missing, "events lost")
	require.Zero(t, r.loss.duplicates, "events with more than one job")
	require.Zero(t, r.loss.extraJobs)
	require.Equal(t, 3, r.replays.restarts)
	require.Positive(t, r.replays.behind, "no restart found the slot behind the cursor: the replay window was never hit")
	require.Positive(t, r.trace.acks)
	require.Zero(t, r.trace.violations, "acknowledged beyond the durable cursor: %s", r.trace.first)
}

// The negative controls: the same chaos with a deliberately broken acknowledgement must
// lose events, and the checks must say so. They write 5,000 events a second, so that the four
// kills fall while the generator still runs.

func TestNegativeControlAckOnReceiptIsDetected(t *testing.T) {
	t.Parallel()
	r := runKillChaos(t, killChaos{bin: requireBinary(t, "ackbroken_receipt"), events: chaosEvents / 2, perSecond: 5_000,
		kills: 4, killWhenAhead: true})
	require.Positive(t, r.loss.missing, "acknowledging on receipt lost nothing the checker could see")
	require.Positive(t, r.trace.violations, "the ack trace did not catch acknowledgements beyond the cursor")
}

func TestNegativeControlAckBeforeHandoffCommitIsDetected(t *testing.T) {
	t.Parallel()
	r := runKillChaos(t, killChaos{bin: requireBinary(t, "ackbroken_early"), events: chaosEvents / 2, perSecond: 5_000,
		kills: 4, killWhenAhead: true})
	require.Positive(t, r.loss.missing, "acknowledging before the hand-off commits lost nothing the checker could see")
	require.Positive(t, r.trace.violations, "the ack trace did not catch acknowledgements beyond the cursor")
}

func TestChaosNoLossNoDuplicatesAcrossAPostgresRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := pgtest.NewCluster(t)
	db := pgtest.NewDBOn(t, cluster, false)
	opts := sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t), ackTrace: ackTraceFile(t)}
	gen := newGenerator(ctx, t, db.URL)
	sc := startSidecarWith(t, opts)
	sc.waitRole("leader", 30*time.Second)

	gctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	genDone := make(chan error, 1)
	go func() { genDone <- gen.run(gctx, chaosEvents/2, 8000) }()
	timer := time.NewTimer(jitter(700*time.Millisecond, 1500*time.Millisecond))
	select {
	case <-timer.C:
	case err := <-genDone:
		t.Fatalf("generator ended before the restart: %v", err)
	}
	// Immediate shutdown (a crash: confirmed_flush_lsn goes back to its last checkpointed
	// value), then start again; read the slot before the sidecar reconnects (≥ 125 ms).
	require.NoError(t, cluster.Restart(ctx))
	confirmed, cursor, err := slotPositions(ctx, db.Pool, opts.slot)
	require.NoError(t, err)
	t.Logf("after the crash: confirmed_flush_lsn %d bytes behind the cursor", int64(cursor)-int64(confirmed))
	require.Greater(t, cursor, confirmed, "the crash left nothing to replay: the replay window was never hit")
	require.NoError(t, <-genDone)
	requireExactlyOnce(ctx, t, db.Pool, opts.slot)
	requireAcksDurable(t, opts.ackTrace)
	require.Equal(t, "leader", sc.role(), "the same process survived the restart")
}

func TestStandbyTakesOverWithin10sOfTheLeaderBeingKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	opts := sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t), ackTrace: ackTraceFile(t)}
	gen := newGenerator(ctx, t, db.URL)
	leader := startSidecarWith(t, opts)
	leader.waitRole("leader", 30*time.Second)
	standby := startSidecarWith(t, opts)
	standby.waitRole("standby", 30*time.Second)

	gctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	genDone := make(chan error, 1)
	go func() { genDone <- gen.run(gctx, chaosEvents/2, 8000) }()
	timer := time.NewTimer(jitter(700*time.Millisecond, 1500*time.Millisecond))
	select {
	case <-timer.C:
	case err := <-genDone:
		t.Fatalf("generator ended before the kill: %v", err)
	}
	leader.kill()
	killed := time.Now()
	standby.waitRole("leader", 10*time.Second)
	t.Logf("standby took over %s after the leader was killed", time.Since(killed).Round(time.Millisecond))
	require.NoError(t, <-genDone)
	requireExactlyOnce(ctx, t, db.Pool, opts.slot)
	requireAcksDurable(t, opts.ackTrace)
}

const replayedMetric = "vendorhub_handoff_replayed_transactions_total"

// deposeLeader makes leader and standby race for the same transactions, as a network
// partition does: the leader is frozen (SIGSTOP) while it holds received transactions beyond
// the durable cursor, its walsender is ended, the standby takes the slot and streams from the
// cursor, then the deposed leader resumes and finishes the hand-off of what it had received.
// One of the two hands off transactions the other already committed; both keep running. It
// returns the new leader and standby and the transactions handed off twice (both processes'
// vendorhub_handoff_replayed_transactions_total), 0 when the frozen leader held nothing
// complete beyond the cursor.
func deposeLeader(ctx context.Context, t *testing.T, leader, standby *sidecar, slot string, db *pgtest.DB) (newLeader, newStandby *sidecar, replayed float64) {
	t.Helper()
	base := 0.0
	for _, s := range []*sidecar{leader, standby} {
		v, err := s.metric(replayedMetric)
		require.NoError(t, err)
		base += v
	}
	require.NoError(t, leader.cmd.Process.Signal(syscall.SIGSTOP))
	var ahead int64
	require.NoError(t, db.Pool.QueryRow(ctx, `
select coalesce((select r.sent_lsn - c.lsn from pg_stat_replication r, vendorhub.replication_cursor c
                 where r.application_name = $1 and c.slot_name = $2), 0)::bigint`, leader.instance, slot).Scan(&ahead))
	_, err := db.Pool.Exec(ctx, `select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1`, slot)
	require.NoError(t, err)
	standby.waitRole("leader", 90*time.Second) // at most wal_sender_timeout after the freeze
	require.NoError(t, leader.cmd.Process.Signal(syscall.SIGCONT))
	leader.waitRole("standby", 2*time.Minute) // after handing off what it had queued
	// The later of the two hand-offs counts the replay; it may still wait on the other's
	// locks, so wait for the count (or give up: the frozen leader held nothing to replay).
	pollUntil(ctx, 5*time.Second, 20*time.Millisecond, func() bool {
		sum := 0.0
		for _, s := range []*sidecar{leader, standby} {
			v, err := s.metric(replayedMetric)
			if err != nil {
				return false
			}
			sum += v
		}
		replayed = sum - base
		return replayed > 0
	})
	t.Logf("deposed leader %s (%d WAL bytes sent beyond the cursor when frozen); transactions handed off twice: %.0f", leader.instance, ahead, replayed)
	return standby, leader, replayed
}
