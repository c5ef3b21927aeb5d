package breaker

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// WindowDefault is the number of recent calls per integration kept for rates and percentiles.
const WindowDefault = 512

// call is one recorded call.
type call struct {
	at  time.Time
	dur time.Duration
	ok  bool
}

// integration is the running record of one provider or connection.
type integration struct {
	ring      []call
	next      int
	full      bool
	total     int64
	failures  int64
	streak    int // consecutive failures
	lastErr   string
	lastErrAt time.Time
	lastOKAt  time.Time
}

// Stats keeps per-integration call statistics over a window of recent calls. It is safe
// for concurrent use.
type Stats struct {
	window int
	mu     sync.Mutex
	m      map[string]*integration
}

// NewStats returns Stats keeping the last window calls per integration (WindowDefault when
// window ≤ 0).
func NewStats(window int) *Stats {
	if window <= 0 {
		window = WindowDefault
	}
	return &Stats{window: window, m: map[string]*integration{}}
}

// Observe records one call of the integration name: its duration and error (nil = success).
func (s *Stats) Observe(name string, d time.Duration, err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.m[name]
	if in == nil {
		in = &integration{ring: make([]call, s.window)}
		s.m[name] = in
	}
	in.ring[in.next] = call{at: now, dur: d, ok: err == nil}
	in.next = (in.next + 1) % len(in.ring)
	if in.next == 0 {
		in.full = true
	}
	in.total++
	if err != nil {
		in.failures++
		in.streak++
		in.lastErr = err.Error()
		if len(in.lastErr) > 500 {
			in.lastErr = strings.ToValidUTF8(in.lastErr[:500], "")
		}
		in.lastErrAt = now
	} else {
		in.streak = 0
		in.lastOKAt = now
	}
	callsTotal.WithLabelValues(name, outcome(err)).Inc()
	callSeconds.WithLabelValues(name).Observe(d.Seconds())
}

type streakInfo struct {
	streak  int
	lastErr string
}

// streak returns name's current run of failures and last error.
func (s *Stats) streak(name string) streakInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.m[name]; in != nil {
		return streakInfo{streak: in.streak, lastErr: in.lastErr}
	}
	return streakInfo{}
}

func outcome(err error) string {
	if err == nil {
		return "success"
	}
	return "failure"
}

// IntegrationStatus is what the dashboard shows of one integration.
type IntegrationStatus struct {
	Name string `json:"name"`
	// Calls and Failures count every call since start.
	Calls    int64 `json:"calls"`
	Failures int64 `json:"failures"`
	// WindowCalls is the number of recent calls the rates and percentiles cover.
	WindowCalls int `json:"window_calls"`
	// SuccessRate is the share of successful recent calls (1 when there were none).
	SuccessRate float64 `json:"success_rate"`
	// P50, P95 and P99 are recent call latencies in milliseconds.
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	// ConsecutiveFailures is the current run of failures.
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	LastSuccessAt       time.Time `json:"last_success_at,omitzero"`
	// Breaker is the state of the integration's breaker ("" when it has none).
	Breaker string `json:"breaker,omitempty"`
}

// Snapshot returns every integration's status, sorted by name.
func (s *Stats) Snapshot() []IntegrationStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]IntegrationStatus, 0, len(s.m))
	for name, in := range s.m {
		calls := in.ring[:in.next]
		if in.full {
			calls = in.ring
		}
		st := IntegrationStatus{Name: name, Calls: in.total, Failures: in.failures, WindowCalls: len(calls),
			SuccessRate: 1, ConsecutiveFailures: in.streak, LastError: in.lastErr, LastErrorAt: in.lastErrAt,
			LastSuccessAt: in.lastOKAt}
		if len(calls) > 0 {
			ok := 0
			durs := make([]float64, len(calls))
			for i, c := range calls {
				if c.ok {
					ok++
				}
				durs[i] = float64(c.dur) / float64(time.Millisecond)
			}
			st.SuccessRate = float64(ok) / float64(len(calls))
			sort.Float64s(durs)
			st.P50, st.P95, st.P99 = Percentile(durs, 0.50), Percentile(durs, 0.95), Percentile(durs, 0.99)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b IntegrationStatus) int { return cmpString(a.Name, b.Name) })
	return out
}

// Percentile returns the p-quantile (0 ≤ p ≤ 1) of sorted values by linear interpolation
// between closest ranks (PostgreSQL's percentile_cont), 0 for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := p * float64(n-1)
	lo := int(pos)
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
