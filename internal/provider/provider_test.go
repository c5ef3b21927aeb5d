package provider_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/provider"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"1.5", 2 * time.Second}, // fractional rounds up
		{"0.2", time.Second},
		{"-3", 0},
		{"soon", 0},
		{"NaN", 0},
		{"Inf", provider.RetryAfterMax},
		{"86400", provider.RetryAfterMax}, // capped
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},            // IMF-fixdate
		{now.Add(time.Minute).Format(time.RFC850), time.Minute},                          // obsolete RFC 850
		{now.Add(time.Minute).Format(time.ANSIC), time.Minute},                           // obsolete asctime
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},                               // past
		{now.Add(48 * time.Hour).Format(http.TimeFormat), provider.RetryAfterMax},        // capped
		{"Mon, 07 Dec 2026 12:00:30 +0100", 0},                                           // not GMT: not an HTTP-date
		{strings.Replace(now.Add(time.Minute).Format(http.TimeFormat), "GMT", "", 1), 0}, // garbage
	} {
		require.Equal(t, tc.want, provider.ParseRetryAfter(tc.in, now), "%q", tc.in)
	}
	require.Equal(t, 3*time.Second, provider.RetryAfterHeader(http.Header{"Retry-After": {"3"}}, now))
	require.Zero(t, provider.RetryAfterHeader(nil, now))
}

func TestBackoffAndJitter(t *testing.T) {
	t.Parallel()
	for attempt, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: time.Minute, 1000: time.Minute} {
		for range 50 {
			d := provider.Backoff(time.Second, time.Minute, attempt)
			require.GreaterOrEqual(t, d, want, "attempt %d: jitter never shortens", attempt)
			require.LessOrEqual(t, d, want+want/5, "attempt %d: at most a fifth longer", attempt)
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[provider.Jitter(time.Second)] = true
	}
	require.Greater(t, len(seen), 1, "jitter spreads")
	require.Zero(t, provider.Jitter(0))
	require.Zero(t, provider.Jitter(-time.Second))
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]provider.Class{429: provider.RateLimited, 408: provider.Transient, 500: provider.Transient,
		503: provider.Transient, 400: provider.Permanent, 401: provider.Permanent, 404: provider.Permanent, 410: provider.Permanent} {
		require.Equal(t, want, provider.FromStatus("p", "op", status).Class(), "status %d", status)
		require.Equal(t, want != provider.Permanent, provider.RetryableStatus(status), "status %d", status)
	}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"2"}}, Body: io.NopCloser(strings.NewReader("slow down"))}
	e := provider.FromResponse("google", "events.list", resp)
	require.Equal(t, provider.RateLimited, e.Class())
	require.Equal(t, 2*time.Second, e.RetryAfter)
	require.Equal(t, "slow down", e.Message)
	require.Equal(t, "google events.list: rate_limited (HTTP 429): slow down", e.Error())

	cause := errors.New("connection reset")
	wrapped := fmt.Errorf("sync: %w", provider.Transport("graph", "delta", cause))
	require.ErrorIs(t, wrapped, cause, "errors.Is reaches the cause")
	pe, ok := provider.As(wrapped)
	require.True(t, ok)
	require.Equal(t, "graph", pe.Provider)
	require.True(t, provider.IsRetryable(wrapped))
	require.True(t, provider.IsOutage(wrapped))
	require.False(t, provider.IsOutage(errors.Join(cause, &provider.Error{Retryable: true, RateLimited: true, RetryAfter: time.Second})))
	require.Equal(t, time.Second, provider.RetryAfterOf(errors.Join(cause, &provider.Error{Retryable: true, RateLimited: true, RetryAfter: time.Second})))
	require.Equal(t, provider.Transient, provider.ClassOf(cause), "an unclassified error is transient")
	require.Zero(t, provider.ClassOf(nil))
	require.Equal(t, provider.Unreachable, (&provider.Error{Unreachable: true}).Class())
	require.Equal(t, provider.Unavailable, provider.BreakerOpen("fcm", "circuit_open", time.Second, nil).Class())
}

func TestDecide(t *testing.T) {
	t.Parallel()
	limited := &provider.Error{Retryable: true, RateLimited: true, RetryAfter: 3 * time.Second}
	limitedBare := &provider.Error{Retryable: true, RateLimited: true}
	unavailable503 := &provider.Error{Status: 503, Retryable: true, RetryAfter: 5 * time.Second}
	transient := &provider.Error{Status: 500, Retryable: true}
	permanent := &provider.Error{Status: 400}
	unreachable := &provider.Error{Unreachable: true}
	open := provider.BreakerOpen("fcm", "circuit_open", 2*time.Second, nil)
	plain := errors.New("boom")
	snoozing := provider.Policy{SnoozeMin: time.Second, SnoozeTransient: true, BackoffBase: 2 * time.Second, BackoffMax: time.Minute}
	for _, tc := range []struct {
		name   string
		p      provider.Policy
		err    error
		action provider.Action
		lo, hi time.Duration
	}{
		{"nil completes", provider.Policy{}, nil, provider.Complete, 0, 0},
		{"permanent cancels", provider.Policy{}, permanent, provider.Cancel, 0, 0},
		{"unreachable cancels", snoozing, unreachable, provider.Cancel, 0, 0},
		{"rate limit with Retry-After snoozes", provider.Policy{}, limited, provider.Snooze, 3 * time.Second, 3 * time.Second},
		{"SnoozeMin is a floor", provider.Policy{SnoozeMin: 10 * time.Second}, limited, provider.Snooze, 10 * time.Second, 10 * time.Second},
		{"rate limit without Retry-After retries", provider.Policy{}, limitedBare, provider.Retry, 0, 0},
		{"rate limit without Retry-After snoozes SnoozeMin", provider.Policy{SnoozeMin: time.Second}, limitedBare, provider.Snooze, time.Second, time.Second},
		{"503 with Retry-After snoozes", provider.Policy{}, unavailable503, provider.Snooze, 5 * time.Second, 5 * time.Second},
		{"transient retries", provider.Policy{}, transient, provider.Retry, 0, 0},
		{"plain error retries", provider.Policy{}, plain, provider.Retry, 0, 0},
		{"transient snoozes with back-off", snoozing, transient, provider.Snooze, 8 * time.Second, 8*time.Second + 8*time.Second/5},
		{"breaker open snoozes past the probe", provider.Policy{}, open, provider.Snooze, 2 * time.Second, 2*time.Second + 2*time.Second/5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.p.Decide(tc.err, 3)
			require.Equal(t, tc.action, d.Action, d.Action.String())
			require.GreaterOrEqual(t, d.Wait, tc.lo)
			require.LessOrEqual(t, d.Wait, tc.hi)
			res := tc.p.JobResult(tc.err, 3)
			switch tc.action {
			case provider.Complete:
				require.NoError(t, res)
			case provider.Cancel:
				var c *river.JobCancelError
				require.ErrorAs(t, res, &c)
				require.ErrorIs(t, res, tc.err)
			case provider.Snooze:
				var s *river.JobSnoozeError
				require.ErrorAs(t, res, &s)
				require.GreaterOrEqual(t, s.Duration, tc.lo)
				require.LessOrEqual(t, s.Duration, tc.hi)
			case provider.Retry:
				require.Same(t, tc.err, res)
			}
		})
	}
}
