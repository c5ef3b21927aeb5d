package replication_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

const chaosEvents = 50_000

func TestNoLossNoDuplicatesWhenTheSidecarIsKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	slot := slotFor(t)
	gen := newGenerator(ctx, t, db.URL)
	sc := startSidecar(t, db.URL, slot)
	sc.waitRole("leader", 30*time.Second)

	gctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	genDone := make(chan error, 1)
	stopWatch := watchAcks(ctx, t, db.Pool, slot)
	go func() { genDone <- gen.run(gctx, chaosEvents, 10_000) }()

	// Three SIGKILLs at random moments while events stream in; a new process each time.
	for range 3 {
		timer := time.NewTimer(jitter(300*time.Millisecond, 900*time.Millisecond))
		select {
		case <-timer.C:
		case err := <-genDone:
			t.Fatalf("generator ended before the kills: %v", err)
		}
		sc.kill()
		sc = startSidecar(t, db.URL, slot)
		sc.waitRole("leader", 30*time.Second)
	}
	require.NoError(t, <-genDone)
	requireExactlyOnce(ctx, t, db.Pool, slot)
	stopWatch()
}

func TestNoLossNoDuplicatesAcrossAPostgresRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := pgtest.NewCluster(t)
	db := pgtest.NewDBOn(t, cluster, false)
	slot := slotFor(t)
	gen := newGenerator(ctx, t, db.URL)
	sc := startSidecar(t, db.URL, slot)
	sc.waitRole("leader", 30*time.Second)

	gctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	genDone := make(chan error, 1)
	stopWatch := watchAcks(ctx, t, db.Pool, slot)
	go func() { genDone <- gen.run(gctx, chaosEvents/2, 8000) }()
	timer := time.NewTimer(jitter(700*time.Millisecond, 1500*time.Millisecond))
	select {
	case <-timer.C:
	case err := <-genDone:
		t.Fatalf("generator ended before the restart: %v", err)
	}
	// Immediate shutdown (a crash: confirmed_flush_lsn may go back), then start again.
	require.NoError(t, cluster.Restart(ctx))
	require.NoError(t, <-genDone)
	requireExactlyOnce(ctx, t, db.Pool, slot)
	stopWatch()
	require.Equal(t, "leader", sc.role(), "the same process survived the restart")
}

func TestStandbyTakesOverWithin10sOfTheLeaderBeingKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	slot := slotFor(t)
	gen := newGenerator(ctx, t, db.URL)
	leader := startSidecar(t, db.URL, slot)
	leader.waitRole("leader", 30*time.Second)
	standby := startSidecar(t, db.URL, slot)
	standby.waitRole("standby", 30*time.Second)

	gctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	genDone := make(chan error, 1)
	stopWatch := watchAcks(ctx, t, db.Pool, slot)
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
	requireExactlyOnce(ctx, t, db.Pool, slot)
	stopWatch()
}
