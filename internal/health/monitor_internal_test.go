package health

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/breaker"
)

func newTestMonitor() *Monitor {
	return &Monitor{cfg: MonitorConfig{Slot: "s", Instance: "i"}.WithDefaults(), lastRisk: RiskOK, knownQueue: map[string]bool{}}
}

// Lag is measured against earlier polls' marks: a consumer that confirms what was written
// before the previous poll reads zero; one that confirms nothing reads growing numbers.
func TestLagMarks(t *testing.T) {
	t.Parallel()
	m := newTestMonitor()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	b, s := m.lag(1000, 1000, at(0))
	require.Equal(t, [2]float64{0, 0}, [2]float64{float64(b), s}, "first poll: nothing to compare with")
	b, s = m.lag(1500, 1000, at(5)) // 500 bytes written since; not yet confirmed but written after the last mark
	require.Zero(t, b)
	require.Zero(t, s)
	b, s = m.lag(2000, 1000, at(10)) // the mark at 1500 (taken at 5 s) is unconfirmed
	require.EqualValues(t, 500, b)
	require.Equal(t, 5.0, s)
	b, s = m.lag(2600, 1000, at(15))
	require.EqualValues(t, 1000, b)
	require.Equal(t, 10.0, s)
	b, s = m.lag(2600, 2600, at(20)) // caught up
	require.Zero(t, b)
	require.Zero(t, s)
	b, s = m.lag(2700, 2650, at(25)) // confirmed past every earlier mark
	require.Zero(t, b)
	require.Zero(t, s)
}

func TestSlotRisk(t *testing.T) {
	t.Parallel()
	m := newTestMonitor()
	gib := int64(1 << 30)
	for _, tc := range []struct {
		name string
		s    Sample
		want string
	}{
		{"missing", Sample{}, RiskCritical},
		{"lost", Sample{SlotExists: true, WALStatus: "lost"}, RiskCritical},
		{"unreserved", Sample{SlotExists: true, WALStatus: "unreserved", MaxSlotWALKeepSize: 4 * gib, SafeWALSize: 0}, RiskCritical},
		{"half the budget used", Sample{SlotExists: true, WALStatus: "reserved", MaxSlotWALKeepSize: 4 * gib, SafeWALSize: 2 * gib,
			RetainedBytes: 2 * gib}, RiskWarning},
		{"a quarter used", Sample{SlotExists: true, WALStatus: "reserved", MaxSlotWALKeepSize: 4 * gib, SafeWALSize: 3 * gib,
			RetainedBytes: gib}, RiskOK},
		{"unlimited and big", Sample{SlotExists: true, WALStatus: "reserved", MaxSlotWALKeepSize: -1, SafeWALSize: -1,
			RetainedBytes: 2 * gib}, RiskWarning},
		{"unlimited and small", Sample{SlotExists: true, WALStatus: "reserved", MaxSlotWALKeepSize: -1, SafeWALSize: -1,
			RetainedBytes: 1 << 20}, RiskOK},
		{"extended", Sample{SlotExists: true, WALStatus: "extended", MaxSlotWALKeepSize: -1, SafeWALSize: -1}, RiskWarning},
	} {
		got, why := m.risk(tc.s)
		require.Equal(t, tc.want, got, tc.name)
		if got != RiskOK {
			require.NotEmpty(t, why, tc.name)
		}
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	require.Zero(t, breaker.Percentile(nil, 0.5))
	require.Equal(t, 2.5, breaker.Percentile([]float64{1, 2, 3, 4}, 0.5))
	require.Equal(t, 4.0, breaker.Percentile([]float64{1, 2, 3, 4}, 1))
	counts := make([]int64, len(LatencyBoundsMillis)+1)
	require.Zero(t, HistogramPercentile(counts, 0.5))
	counts[len(counts)-1] = 3 // all above the last bound
	require.Equal(t, LatencyBoundsMillis[len(LatencyBoundsMillis)-1], HistogramPercentile(counts, 0.99))
}

func TestStatsWindow(t *testing.T) {
	t.Parallel()
	s := breaker.NewStats(4)
	for i := range 6 {
		var err error
		if i%2 == 1 {
			err = errBoom
		}
		s.Observe("provider:x", time.Duration(i+1)*time.Millisecond, err)
	}
	st := s.Snapshot()[0]
	require.EqualValues(t, 6, st.Calls)
	require.EqualValues(t, 3, st.Failures)
	require.Equal(t, 4, st.WindowCalls, "the window keeps the last 4 calls")
	require.Equal(t, 0.5, st.SuccessRate)
	require.Equal(t, 1, st.ConsecutiveFailures)
	require.Equal(t, "boom", st.LastError)
	require.Equal(t, 4.5, st.P50, "median of 3, 4, 5, 6 ms")
}

type boom struct{}

func (boom) Error() string { return "boom" }

var errBoom error = boom{}
