package webhook

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters is a set of token buckets by key (a source address or a connection), with idle
// buckets dropped so made-up keys cannot grow it without bound.
type limiters struct {
	rate  rate.Limit
	burst int
	off   bool

	mu     sync.Mutex
	m      map[string]*bucket
	sweeps int
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	maxBuckets  = 100_000
	bucketIdle  = 2 * time.Minute
	sweepEveryN = 10_000
)

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, off: perSecond < 0, m: map[string]*bucket{}}
}

// allow takes a token for key; when none is left it reports how long until one is.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	if l.off {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = b
	}
	b.seen = now
	if l.sweeps++; l.sweeps >= sweepEveryN {
		l.sweeps = 0
		l.sweep(now)
	}
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiters) sweep(now time.Time) {
	for k, b := range l.m {
		if now.Sub(b.seen) > bucketIdle {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxBuckets { // all busy: start over rather than grow
		clear(l.m)
	}
}

// retryAfter renders a wait as Retry-After seconds (at least 1).
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// windowLimit is the shared per-second counter limit of a rate: at least 1 per second.
func windowLimit(perSecond float64) int {
	if perSecond < 0 {
		return 0 // no limit
	}
	return max(1, int(math.Ceil(perSecond)))
}
