package integration

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/provider"
)

// LimitDefault is a provider's default request rate (per second) and BurstDefault its burst.
const (
	LimitDefault rate.Limit = 10
	BurstDefault int        = 10
	// MaxWaitDefault is the longest Limits.Wait blocks before giving the job back to be snoozed.
	MaxWaitDefault = 2 * time.Second
)

// Limits holds one token bucket per provider, so a busy provider throttles only itself. It is
// safe for concurrent use.
type Limits struct {
	mu      sync.Mutex
	rates   map[string]rate.Limit
	bursts  map[string]int
	buckets map[string]*rate.Limiter
	// MaxWait is the longest Wait blocks; longer waits return a retryable error with the
	// wait as RetryAfter, so the job is snoozed instead of holding a worker. Defaults to
	// MaxWaitDefault.
	MaxWait time.Duration
}

// NewLimits returns limits with per-provider rates (requests per second); providers not
// listed get LimitDefault.
func NewLimits(rates map[string]rate.Limit) *Limits {
	l := &Limits{rates: map[string]rate.Limit{}, bursts: map[string]int{}, buckets: map[string]*rate.Limiter{}, MaxWait: MaxWaitDefault}
	for p, r := range rates {
		l.rates[p] = r
		l.bursts[p] = max(1, int(r))
	}
	return l
}

func (l *Limits) bucket(provider string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[provider]
	if b == nil {
		r, ok := l.rates[provider]
		burst := l.bursts[provider]
		if !ok {
			r, burst = LimitDefault, BurstDefault
		}
		b = rate.NewLimiter(r, burst)
		l.buckets[provider] = b
	}
	return b
}

// Wait takes one token of provider name's bucket, waiting at most MaxWait (and never past ctx).
// When the bucket is further behind, it takes nothing and returns a retryable
// rate-limited *provider.Error whose RetryAfter is the wait.
func (l *Limits) Wait(ctx context.Context, name string) error {
	if l == nil {
		return nil
	}
	res := l.bucket(name).Reserve()
	d := res.Delay()
	if d == 0 {
		return nil
	}
	maxWait := l.MaxWait
	if maxWait == 0 {
		maxWait = MaxWaitDefault
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < maxWait {
		maxWait = time.Until(dl)
	}
	if d > maxWait {
		res.Cancel()
		return &provider.Error{Provider: name, Op: "rate limit", Retryable: true, RateLimited: true, RetryAfter: d, Message: "local rate limit"}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		res.Cancel()
		return ctx.Err()
	}
}
