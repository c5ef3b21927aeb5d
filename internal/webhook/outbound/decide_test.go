package outbound

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
)

// TestDecide: the delivery rule without a database — the endpoint's state, the attempt and
// the answer give the next step.
func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	recent, old := now.Add(-time.Hour), now.Add(-6*24*time.Hour)
	cfg := Config{}.WithDefaults()
	for _, tc := range []struct {
		name        string
		a           Attempt
		next        Next
		outcome     string
		status      string
		outage      bool
		class       provider.Class
		at          time.Time
		reasonStart string
	}{
		{"2xx delivers", Attempt{Status: 204, Number: 3, Max: 8}, Delivered, "succeeded", "succeeded", false, 0, time.Time{}, ""},
		{"2xx delivers even on a long-failing endpoint", Attempt{Status: 200, FailingSince: &old, Number: 8, Max: 8}, Delivered, "succeeded", "succeeded", false, 0, time.Time{}, ""},
		{"503 retries on the schedule", Attempt{Status: 503, FailingSince: &recent, Number: 2, Max: 8}, RetryAt, "failed", "pending", true, provider.Transient, now.Add(5 * time.Minute), ""},
		{"first failure retries after 5 s", Attempt{Status: 500, Number: 1, Max: 8}, RetryAt, "failed", "pending", true, provider.Transient, now.Add(5 * time.Second), ""},
		{"transport failure is an outage", Attempt{SendErr: errors.New("connection refused"), Number: 1, Max: 8}, RetryAt, "failed", "pending", true, provider.Transient, now.Add(5 * time.Second), ""},
		{"refused address retries, no outage", Attempt{SendErr: fmt.Errorf("dial: %w", netguard.ErrBlocked), Number: 1, Max: 8}, RetryAt, "failed", "pending", false, provider.Permanent, now.Add(5 * time.Second), ""},
		{"429 retries but is no outage", Attempt{Status: 429, Number: 1, Max: 8}, RetryAt, "failed", "pending", false, provider.RateLimited, now.Add(5 * time.Second), ""},
		{"400 retries, no outage", Attempt{Status: 400, Number: 1, Max: 8}, RetryAt, "failed", "pending", false, provider.Permanent, now.Add(5 * time.Second), ""},
		{"last attempt gives up", Attempt{Status: 503, FailingSince: &recent, Number: 8, Max: 8}, GiveUp, "failed", "failed", true, provider.Transient, time.Time{}, ""},
		{"410 disables", Attempt{Status: 410, Number: 1, Max: 8}, Disable, "gone", "failed", false, provider.Permanent, time.Time{}, "endpoint answered 410 Gone"},
		{"failing for too long disables", Attempt{Status: 502, FailingSince: &old, Number: 2, Max: 8}, Disable, "failed", "failed", true, provider.Transient, time.Time{}, "failing since 2026-12-01T12:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.a.Now = now
			v := Decide(tc.a, cfg.DisableAfter, cfg.NextDelay)
			require.Equal(t, tc.next, v.Next)
			require.Equal(t, tc.outcome, v.Outcome)
			require.Equal(t, tc.status, v.Status())
			require.Equal(t, tc.outage, v.Outage())
			require.Equal(t, tc.at, v.At)
			require.Equal(t, tc.reasonStart, v.Reason)
			if tc.next == Delivered {
				require.Nil(t, v.Err)
				return
			}
			require.Equal(t, tc.class, v.Err.Class())
			if tc.a.SendErr != nil {
				require.ErrorIs(t, v.Err, tc.a.SendErr)
			}
		})
	}
}
