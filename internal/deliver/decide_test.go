package deliver

import (
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/provider"
)

// TestDecide: the delivery rule, without a database — every class of provider answer at a
// middle and at the last attempt.
func TestDecide(t *testing.T) {
	t.Parallel()
	transient := &provider.Error{Provider: "fcm", Retryable: true, Status: 503}
	limited := &provider.Error{Provider: "resend", Retryable: true, RateLimited: true, RetryAfter: 3 * time.Second}
	limitedBare := &provider.Error{Provider: "resend", Retryable: true, RateLimited: true}
	gone := &provider.Error{Provider: "fcm", Unreachable: true, Code: "UNREGISTERED"}
	open := provider.BreakerOpen("twilio", "circuit_open", time.Minute, nil)
	refused := &provider.Error{Provider: "resend", Status: 422}
	for _, tc := range []struct {
		name     string
		err      error
		attempt  int
		want     outcome
		wantWait time.Duration
	}{
		{"sent", nil, 1, outcome{status: "sent", metric: "sent", complete: true}, 0},
		{"unreachable falls back", gone, 1, outcome{status: "failed", metric: "unreachable", fallback: true, unreachable: true, complete: true}, 0},
		{"breaker open falls back", open, 1, outcome{status: "failed", metric: "unavailable", fallback: true, complete: true}, 0},
		{"rate limited snoozes for Retry-After", limited, 1, outcome{status: "deferred", metric: "rate_limited",
			decision: provider.Decision{Action: provider.Snooze, Wait: 3 * time.Second}}, 3 * time.Second},
		{"rate limited without Retry-After snoozes SnoozeMin", limitedBare, 8, outcome{status: "deferred", metric: "rate_limited",
			decision: provider.Decision{Action: provider.Snooze, Wait: time.Second}}, time.Second},
		{"transient retries", transient, 2, outcome{status: "failed", metric: "transient",
			decision: provider.Decision{Action: provider.Retry}}, 0},
		{"transient on the last attempt gives up", transient, 3, outcome{status: "failed", metric: "transient", fallback: true, gaveUp: true,
			decision: provider.Decision{Action: provider.Cancel}}, 0},
		{"unclassified error is transient", errors.New("reset"), 1, outcome{status: "failed", metric: "transient",
			decision: provider.Decision{Action: provider.Retry}}, 0},
		{"permanent gives up at once", refused, 1, outcome{status: "failed", metric: "permanent", fallback: true, gaveUp: true,
			decision: provider.Decision{Action: provider.Cancel}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.err, tc.attempt, 3, time.Second)
			require.Equal(t, tc.want, got)
			res := got.jobResult(tc.err, tc.attempt)
			switch {
			case got.complete:
				require.NoError(t, res)
			case got.decision.Action == provider.Snooze:
				var snooze *river.JobSnoozeError
				require.ErrorAs(t, res, &snooze)
				require.Equal(t, tc.wantWait, snooze.Duration)
			case got.decision.Action == provider.Cancel:
				var cancel *river.JobCancelError
				require.ErrorAs(t, res, &cancel)
				require.ErrorIs(t, res, tc.err)
			default:
				require.Same(t, tc.err, res)
			}
		})
	}
}
