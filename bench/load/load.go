// Package load holds the benchmark's pure mechanics: the open-loop arrival schedule and its
// runner, latency percentiles, and reconciliation of effects by id.
//
// Open loop: arrival i is due at start + i/rate, whatever happened to earlier arrivals; each is
// issued at its time on its own goroutine (never skipped, never waiting for an earlier one), so
// a slow system builds a queue that shows in the latency instead of slowing the generator down
// (coordinated omission). Latency is timed from the scheduled time.
package load

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Phase is a constant arrival rate held for a duration.
type Phase struct {
	Name string
	Rate float64 // arrivals per second
	For  time.Duration
}

// Arrivals returns the due offsets of phases run back to back: arrival i of a phase at its
// start + i/rate.
func Arrivals(phases ...Phase) []time.Duration {
	var out []time.Duration
	var base time.Duration
	for _, p := range phases {
		n := int(math.Round(p.Rate * p.For.Seconds()))
		for i := range n {
			out = append(out, base+time.Duration(float64(i)/p.Rate*float64(time.Second)))
		}
		base += p.For
	}
	return out
}

// Arrival is one issued arrival.
type Arrival struct {
	Index     int
	Scheduled time.Time
}

// Run issues arrival i of offsets at start+offsets[i], calling do on a goroutine of its own,
// and waits for every call to return. It returns the largest lateness of an issue (how far
// behind schedule the runner itself fell: a check that the generator kept up). do must
// bound its own work with ctx; Run stops issuing when ctx ends.
func Run(ctx context.Context, start time.Time, offsets []time.Duration, do func(ctx context.Context, a Arrival)) time.Duration {
	var wg sync.WaitGroup
	var worst time.Duration
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i, off := range offsets {
		due := start.Add(off)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				wg.Wait()
				return worst
			}
		}
		worst = max(worst, time.Since(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(ctx, Arrival{Index: i, Scheduled: due})
		}()
	}
	wg.Wait()
	return worst
}

// Percentile returns the q-quantile (0..1) of sorted by the nearest-rank method; 0 when empty.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// Samples collects latency samples in milliseconds, safe for concurrent use.
type Samples struct {
	mu sync.Mutex
	ms []float64
}

// Add records d.
func (s *Samples) Add(d time.Duration) {
	s.mu.Lock()
	s.ms = append(s.ms, float64(d.Microseconds())/1000)
	s.mu.Unlock()
}

// Sorted returns a sorted copy of the samples.
func (s *Samples) Sorted() []float64 {
	s.mu.Lock()
	out := slices.Clone(s.ms)
	s.mu.Unlock()
	slices.Sort(out)
	return out
}

// Tally counts how often each id was seen, safe for concurrent use.
type Tally struct {
	mu   sync.Mutex
	seen map[string]int
}

// See counts one sighting of id.
func (t *Tally) See(id string) {
	t.mu.Lock()
	if t.seen == nil {
		t.seen = map[string]int{}
	}
	t.seen[id]++
	t.mu.Unlock()
}

// Count is how many times id was seen.
func (t *Tally) Count(id string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen[id]
}

// Total is the number of sightings.
func (t *Tally) Total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.seen {
		n += c
	}
	return n
}

// Each calls fn for every id seen, with its count.
func (t *Tally) Each(fn func(id string, n int)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, n := range t.seen {
		fn(id, n)
	}
}

// Reconcile compares the expected ids with the sightings: lost = expected ids never seen,
// duplicated = sightings of an expected id beyond its first, unexpected = sightings of ids not
// expected (they count neither as lost nor as duplicates).
func Reconcile(expected []string, seen *Tally) (lost, duplicated, unexpected int) {
	want := make(map[string]bool, len(expected))
	for _, id := range expected {
		want[id] = true
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	for id := range want {
		switch c := seen.seen[id]; {
		case c == 0:
			lost++
		case c > 1:
			duplicated += c - 1
		}
	}
	for id, c := range seen.seen {
		if !want[id] {
			unexpected += c
		}
	}
	return lost, duplicated, unexpected
}
