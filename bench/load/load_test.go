package load_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/bench/load"
)

func TestArrivalsAreEvenlySpacedAcrossPhases(t *testing.T) {
	got := load.Arrivals(load.Phase{Rate: 4, For: time.Second}, load.Phase{Rate: 2, For: 2 * time.Second})
	want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond,
		time.Second, 1500 * time.Millisecond, 2 * time.Second, 2500 * time.Millisecond}
	require.Equal(t, want, got)
	require.Empty(t, load.Arrivals(load.Phase{Rate: 0, For: time.Second}))
}

func TestRunIssuesEveryArrivalWithoutWaitingForEarlierOnes(t *testing.T) {
	// Each call blocks until all have started: a closed loop (or one that waits for the
	// previous arrival) would deadlock here.
	const n = 20
	offsets := load.Arrivals(load.Phase{Rate: 1000, For: n * time.Millisecond})
	var started atomic.Int32
	all := make(chan struct{})
	seen := make([]time.Time, n)
	start := time.Now()
	load.Run(context.Background(), start, offsets, func(ctx context.Context, a load.Arrival) {
		seen[a.Index] = a.Scheduled
		if started.Add(1) == n {
			close(all)
		}
		<-all
	})
	require.EqualValues(t, n, started.Load())
	for i, at := range seen {
		require.Equal(t, start.Add(offsets[i]), at, "arrival %d is timed from its schedule", i)
	}
}

func TestRunStopsIssuingWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	load.Run(ctx, time.Now(), []time.Duration{0, time.Hour}, func(context.Context, load.Arrival) {
		calls.Add(1)
		cancel()
	})
	require.EqualValues(t, 1, calls.Load())
}

func TestPercentileNearestRank(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.Equal(t, 5.0, load.Percentile(s, 0.5))
	require.Equal(t, 10.0, load.Percentile(s, 0.99))
	require.Equal(t, 1.0, load.Percentile(s, 0))
	require.Equal(t, 0.0, load.Percentile(nil, 0.99))
}

func TestReconcileCountsLostDuplicatedAndUnexpectedSeparately(t *testing.T) {
	var seen load.Tally
	for _, id := range []string{"a", "b", "b", "b", "x"} {
		seen.See(id)
	}
	lost, dup, unexpected := load.Reconcile([]string{"a", "b", "c", "d"}, &seen)
	require.Equal(t, 2, lost)
	require.Equal(t, 2, dup)
	require.Equal(t, 1, unexpected)
	require.Equal(t, 5, seen.Total())
}
