package health

import (
	"sort"
	"sync"
	"time"

	"github.com/wedsync/vendorhub/internal/route"
)

// LatencyBoundsMillis are the upper bounds (ms) of the realtime latency histogram stored in
// vendorhub.health_samples.realtime_latency_counts; the last count is above the last bound.
var LatencyBoundsMillis = []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// Latency measures realtime latency: for every routed event with realtime topics, the time
// from its commit to its hand-off to the broadcasters (as the replication reader decodes
// it, before its durable hand-off). It is a handoff.Broadcaster; Publish
// only counts, so it never blocks.
type Latency struct {
	now    func() time.Time
	mu     sync.Mutex
	counts []int64
}

// NewLatency returns an empty histogram.
func NewLatency() *Latency {
	return &Latency{now: time.Now, counts: make([]int64, len(LatencyBoundsMillis)+1)}
}

// Publish implements handoff.Broadcaster.
func (l *Latency) Publish(events []route.Routed) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range events {
		if len(ev.Topics) == 0 || ev.CommitTime.IsZero() {
			continue
		}
		d := max(now.Sub(ev.CommitTime), 0)
		l.counts[bucketOf(float64(d)/float64(time.Millisecond))]++
		realtimeLatency.Observe(d.Seconds())
	}
}

func bucketOf(ms float64) int {
	return sort.SearchFloat64s(LatencyBoundsMillis, ms)
}

// Take returns the counts since the last Take and starts over.
func (l *Latency) Take() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.counts
	l.counts = make([]int64, len(LatencyBoundsMillis)+1)
	return out
}

// HistogramPercentile estimates the p-quantile (ms) of a histogram with LatencyBoundsMillis
// bounds, interpolating linearly inside the bucket (the open last bucket reports the last
// bound). It returns 0 for an empty histogram.
func HistogramPercentile(counts []int64, p float64) float64 {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := p * float64(total)
	var seen int64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if float64(seen+c) >= rank {
			if i >= len(LatencyBoundsMillis) {
				return LatencyBoundsMillis[len(LatencyBoundsMillis)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = LatencyBoundsMillis[i-1]
			}
			hi := LatencyBoundsMillis[i]
			frac := (rank - float64(seen)) / float64(c)
			return lo + frac*(hi-lo)
		}
		seen += c
	}
	return LatencyBoundsMillis[len(LatencyBoundsMillis)-1]
}
