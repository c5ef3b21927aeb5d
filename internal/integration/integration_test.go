package integration_test

import (
	"context"
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
