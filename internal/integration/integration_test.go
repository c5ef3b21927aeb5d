package integration_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/provider"
)

func TestLimitsGiveBackLongWaits(t *testing.T) {
	t.Parallel()
	l := integration.NewLimits(map[string]rate.Limit{"slow": 0.5}) // one request every 2 s, burst 1
	l.MaxWait = 100 * time.Millisecond
	ctx := context.Background()
	require.NoError(t, l.Wait(ctx, "slow"), "the burst token")
	err := l.Wait(ctx, "slow")
	require.True(t, provider.IsRetryable(err), "a long wait is handed back: %v", err)
	require.Greater(t, provider.RetryAfterOf(err), time.Second)
	require.NoError(t, l.Wait(ctx, "other"), "another provider's bucket is untouched")
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, 7*time.Second, provider.RetryAfterHeader(http.Header{"Retry-After": {"7"}}, now))
	require.Equal(t, time.Minute, provider.RetryAfterHeader(http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, now))
	require.Zero(t, provider.RetryAfterHeader(http.Header{"Retry-After": {"soon"}}, now))
	require.Zero(t, provider.RetryAfterHeader(http.Header{}, now))
}

func TestProviderErrorClassification(t *testing.T) {
	t.Parallel()
	for status, retry := range map[int]bool{429: true, 500: true, 503: true, 408: true, 400: false, 401: false, 404: false} {
		require.Equal(t, retry, provider.RetryableStatus(status), "status %d", status)
	}
	wrapped := errors.Join(errors.New("context"), &provider.Error{Provider: "google", Retryable: true, RetryAfter: time.Second})
	require.True(t, provider.IsRetryable(wrapped))
	require.Equal(t, time.Second, provider.RetryAfterOf(wrapped))
	require.False(t, provider.IsRetryable(errors.New("plain")))
}
