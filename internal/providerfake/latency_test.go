package providerfake_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func TestLatencyHoldsAnswersBackAndInjectsErrors(t *testing.T) {
	r := providerfake.NewWebhookReceiver()
	defer r.Close()
	r.SetLatency(providerfake.Latency{Min: 30 * time.Millisecond, Max: 40 * time.Millisecond})
	began := time.Now()
	resp, err := http.Post(r.URL()+"/hook", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.GreaterOrEqual(t, time.Since(began), 30*time.Millisecond)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "after the delay the fake answers as itself (unsigned: 401)")

	r.SetLatency(providerfake.Latency{Err5xx: 1})
	resp, err = http.Post(r.URL()+"/hook", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	r.SetLatency(providerfake.Latency{Err429: 1})
	resp, err = http.Post(r.URL()+"/hook", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Equal(t, 3, r.Len(), "every request is recorded on arrival")
}
