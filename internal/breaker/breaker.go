// Package breaker holds the circuit breakers of providers and integration connections
// (sony/gobreaker), one per name, created on first use, with the call statistics the
// dashboard shows. It knows nothing of what it protects: callers say which errors are
// outages (DoIf), and channel.WithBreaker adapts a notification sender.
package breaker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults of Config.
const (
	ConsecutiveFailuresDefault = 5
	FailureRatioDefault        = 0.5
	MinRequestsDefault         = 20
	IntervalDefault            = time.Minute
	OpenTimeoutDefault         = 30 * time.Second
	HalfOpenProbesDefault      = 1
)

// Breaker states, as gobreaker names them.
const (
	StateClosed   = "closed"
	StateHalfOpen = "half-open"
	StateOpen     = "open"
)

// CodeCircuitOpen is the provider.Error code of a call refused by an open breaker
// (provider.BreakerOpen).
const CodeCircuitOpen = "circuit_open"

// ErrOpen is wrapped by every error of a call refused by an open (or saturated half-open)
// breaker.
var ErrOpen = errors.New("circuit breaker open")

// OpenError is a call refused by breaker Breaker.
type OpenError struct {
	Breaker string
	// RetryAfter is how long until the breaker lets a probe through: the rest of its open
	// period, or a short wait while a half-open breaker's probes are out. Callers snooze
	// their job for it rather than call again.
	RetryAfter time.Duration
}

func (e *OpenError) Error() string { return "breaker: " + e.Breaker + ": circuit breaker open" }

// Unwrap returns ErrOpen.
func (e *OpenError) Unwrap() error { return ErrOpen }

// Provider names the breaker of a provider ("fcm", "resend", "twilio", …).
func Provider(provider string) string { return "provider:" + provider }

// Connection names the breaker of an integration connection.
func Connection(connectionID string) string { return "connection:" + connectionID }

// Endpoint names the breaker of a vendor's outbound webhook endpoint that belongs to
// no integration connection (the endpoint of a connection uses Connection).
func Endpoint(endpointID string) string { return "endpoint:" + endpointID }

// HalfOpenRetryDefault is OpenError.RetryAfter for a call refused because a half-open
// breaker's probes are already out.
const HalfOpenRetryDefault = time.Second

// Config configures every breaker of a Breakers.
type Config struct {
	// ConsecutiveFailures opens a closed breaker after this many failures in a row.
	// Defaults to ConsecutiveFailuresDefault (5).
	ConsecutiveFailures uint32
	// FailureRatio also opens it when at least MinRequests calls of the current Interval
	// failed at this ratio or more. Defaults to FailureRatioDefault (0.5).
	FailureRatio float64
	// MinRequests is the number of calls FailureRatio needs. Defaults to MinRequestsDefault (20).
	MinRequests uint32
	// Interval is the period after which a closed breaker forgets its counts. Defaults to
	// IntervalDefault (1 minute).
	Interval time.Duration
	// OpenTimeout is how long a breaker stays open before letting a probe through
	// (half-open). Defaults to OpenTimeoutDefault (30 s).
	OpenTimeout time.Duration
	// HalfOpenProbes is the number of calls a half-open breaker lets through; it closes when
	// they all succeed and opens again at the first failure. Defaults to HalfOpenProbesDefault (1).
	HalfOpenProbes uint32
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.ConsecutiveFailures = cmp.Or(c.ConsecutiveFailures, ConsecutiveFailuresDefault)
	c.FailureRatio = cmp.Or(c.FailureRatio, FailureRatioDefault)
	c.MinRequests = cmp.Or(c.MinRequests, MinRequestsDefault)
	c.Interval = cmp.Or(c.Interval, IntervalDefault)
	c.OpenTimeout = cmp.Or(c.OpenTimeout, OpenTimeoutDefault)
	c.HalfOpenProbes = cmp.Or(c.HalfOpenProbes, HalfOpenProbesDefault)
	return c
}

// Validate reports the first invalid field of a defaulted config.
func (c Config) Validate() error {
	switch {
	case c.FailureRatio <= 0 || c.FailureRatio > 1:
		return fmt.Errorf("breaker: Config.FailureRatio %v: want (0, 1]", c.FailureRatio)
	case c.OpenTimeout < 0 || c.Interval < 0:
		return errors.New("breaker: Config.OpenTimeout and Interval must be positive")
	}
	return nil
}

// Transition is one state change of a breaker.
type Transition struct {
	// Breaker names it: "provider:<name>" or "connection:<uuid>".
	Breaker string
	// From and To are StateClosed, StateHalfOpen or StateOpen.
	From, To string
	// At is when it changed.
	At time.Time
	// ConsecutiveFailures is the run of failures that led to it.
	ConsecutiveFailures int
	// LastError is the integration's last error (never a secret: provider error texts).
	LastError string
}

// Status is a breaker's state for the dashboard.
type Status struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

type breaker struct {
	cb    *gobreaker.CircuitBreaker[any]
	since atomic.Int64 // unix nanoseconds of the last state change
}

// Breakers holds one circuit breaker per provider and connection, created on first use.
// It is safe for concurrent use.
type Breakers struct {
	cfg   Config
	stats *Stats

	mu       sync.Mutex
	m        map[string]*breaker
	onChange []func(Transition)
}

// New returns breakers configured by cfg, counting calls in stats (a new Stats when nil).
func New(cfg Config, stats *Stats) (*Breakers, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if stats == nil {
		stats = NewStats(0)
	}
	return &Breakers{cfg: cfg, stats: stats, m: map[string]*breaker{}}, nil
}

// Stats returns the call statistics the breakers count into.
func (b *Breakers) Stats() *Stats { return b.stats }

// OnChange adds fn, called on every state change. fn runs under the breaker's lock: it must
// not block or call the breaker (health.Recorder.Notify only queues).
func (b *Breakers) OnChange(fn func(Transition)) {
	b.mu.Lock()
	b.onChange = append(b.onChange, fn)
	b.mu.Unlock()
}

func (b *Breakers) get(name string) *breaker {
	b.mu.Lock()
	defer b.mu.Unlock()
	if br, ok := b.m[name]; ok {
		return br
	}
	br := &breaker{}
	br.since.Store(time.Now().UnixNano())
	cfg := b.cfg
	br.cb = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        name,
		MaxRequests: cfg.HalfOpenProbes,
		Interval:    cfg.Interval,
		Timeout:     cfg.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= cfg.ConsecutiveFailures ||
				(c.Requests >= cfg.MinRequests && float64(c.TotalFailures) >= cfg.FailureRatio*float64(c.Requests))
		},
		// Failures are decided by the caller (see call); a shutdown is not the provider's fault.
		IsSuccessful: func(err error) bool { return !errors.Is(err, errFailed) },
		IsExcluded:   func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			// Runs with the breaker's lock held (but not b.mu unless called from get).
			now := time.Now()
			br.since.Store(now.UnixNano())
			st := b.stats.streak(name)
			t := Transition{Breaker: name, From: from.String(), To: to.String(), At: now,
				ConsecutiveFailures: st.streak, LastError: st.lastErr}
			breakerState.WithLabelValues(name).Set(stateValue(to.String()))
			breakerTransitions.WithLabelValues(name, to.String()).Inc()
			for _, fn := range b.listeners() {
				fn(t)
			}
		},
	})
	breakerState.WithLabelValues(name).Set(0)
	b.m[name] = br
	return br
}

func (b *Breakers) listeners() []func(Transition) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.onChange)
}

// errFailed marks a call the caller judged a failure of the provider.
var errFailed = errors.New("provider failure")

type failed struct{ err error }

func (f failed) Error() string { return f.err.Error() }
func (f failed) Unwrap() []error {
	return []error{errFailed, f.err}
}

// call runs fn through the breaker name, counting it in stats; isFailure decides whether
// fn's error is the provider's failure (it trips the breaker) or not (e.g. a bad recipient).
func (b *Breakers) call(name string, fn func() error, isFailure func(error) bool) error {
	br := b.get(name)
	var callErr error
	_, err := br.cb.Execute(func() (any, error) {
		start := time.Now()
		callErr = fn()
		d := time.Since(start)
		if callErr != nil && isFailure(callErr) && !errors.Is(callErr, context.Canceled) {
			b.stats.Observe(name, d, callErr)
			return nil, failed{callErr}
		}
		b.stats.Observe(name, d, nil)
		return nil, callErr
	})
	switch {
	case errors.Is(err, gobreaker.ErrOpenState):
		wait := time.Until(time.Unix(0, br.since.Load()).Add(b.cfg.OpenTimeout))
		return &OpenError{Breaker: name, RetryAfter: max(wait, 0)}
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return &OpenError{Breaker: name, RetryAfter: min(HalfOpenRetryDefault, b.cfg.OpenTimeout)}
	}
	return callErr
}

// Do runs fn through the breaker name (see Provider, Connection, Endpoint). Every error
// but a cancelled context counts as a failure. While the breaker is open, fn is not called
// and Do returns an *OpenError (errors.Is(err, ErrOpen)).
func (b *Breakers) Do(name string, fn func() error) error {
	return b.call(name, fn, func(error) bool { return true })
}

// DoIf runs fn through the breaker name like Do, but only errors for which isFailure
// returns true count as failures (a rate limit or a bad request is not an outage); the others
// are returned as they are and count as successful calls.
func (b *Breakers) DoIf(name string, fn func() error, isFailure func(error) bool) error {
	return b.call(name, fn, isFailure)
}

// State returns the state of breaker name (StateClosed for one never used).
func (b *Breakers) State(name string) string {
	b.mu.Lock()
	br, ok := b.m[name]
	b.mu.Unlock()
	if !ok {
		return StateClosed
	}
	return br.cb.State().String()
}

// Snapshot returns every breaker's state, sorted by name.
func (b *Breakers) Snapshot() []Status {
	b.mu.Lock()
	names := make([]string, 0, len(b.m))
	brs := make([]*breaker, 0, len(b.m))
	for n, br := range b.m {
		names = append(names, n)
		brs = append(brs, br)
	}
	b.mu.Unlock()
	out := make([]Status, len(names))
	for i, n := range names {
		out[i] = Status{Name: n, State: brs[i].cb.State().String(), Since: time.Unix(0, brs[i].since.Load())}
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Integrations returns the call statistics with each integration's breaker state.
func (b *Breakers) Integrations() []IntegrationStatus {
	st := b.stats.Snapshot()
	for i := range st {
		b.mu.Lock()
		br, ok := b.m[st[i].Name]
		b.mu.Unlock()
		if ok {
			st[i].Breaker = br.cb.State().String()
		}
	}
	return st
}

func stateValue(s string) float64 {
	switch s {
	case StateHalfOpen:
		return 1
	case StateOpen:
		return 2
	}
	return 0
}
