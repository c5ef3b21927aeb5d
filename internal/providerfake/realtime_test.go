package providerfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func realtimePost(t *testing.T, f *providerfake.Realtime, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL()+"/realtime/v1/api/broadcast", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestRealtimeFake(t *testing.T) {
	t.Parallel()
	f := providerfake.NewRealtime(providerfake.RealtimeConfig{APIKey: "k", MaxPayloadBytes: 64, MaxBodyBytes: 1024, MaxEventsPerSecond: 3})
	t.Cleanup(f.Close)
	ok := map[string]string{"apikey": "other", "Authorization": "Bearer k"} // the bearer wins
	msg := func(payload string) string {
		return `{"messages":[{"topic":"wedding:w","event":"e","payload":` + payload + `,"private":true}]}`
	}

	resp, body := realtimePost(t, f, map[string]string{"apikey": "wrong"}, msg(`{}`))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.JSONEq(t, `{"message":"Unauthorized"}`, body)

	resp, _ = realtimePost(t, f, ok, msg(`{"a":1}`))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	msgs, err := f.WaitMessages(context.Background(), 1)
	require.NoError(t, err)
	require.Equal(t, "wedding:w", msgs[0].Topic)
	require.True(t, msgs[0].Private)
	require.JSONEq(t, `{"a":1}`, string(msgs[0].Payload))

	resp, body = realtimePost(t, f, ok, msg(`{"big":"`+strings.Repeat("x", 100)+`"}`))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "Payload size exceeds tenant limit")
	resp, _ = realtimePost(t, f, ok, msg(`[1]`))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = realtimePost(t, f, ok, `{"messages":[`+strings.Repeat(`{"topic":"t","event":"e","payload":{}},`, 40)+`{"topic":"t","event":"e","payload":{}}]}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// The rolling window holds 3 messages per second: 1 used, 3 more is too many at once.
	batch := `{"messages":[{"topic":"t","event":"e","payload":{}},{"topic":"t","event":"e","payload":{}},{"topic":"t","event":"e","payload":{}}]}`
	resp, body = realtimePost(t, f, ok, batch)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, body, "reduce the batch size")
	require.Equal(t, "1", resp.Header.Get("x-rate-rolling"))
	require.Equal(t, "3", resp.Header.Get("x-rate-limit"))
	require.Equal(t, "2", resp.Header.Get("x-rate-limit-remaining"))
	require.Len(t, f.Messages(), 1, "refused requests store nothing")

	// Scripted faults come first.
	f.Push(providerfake.Fault{Status: http.StatusServiceUnavailable, RetryAfter: 2 * time.Second})
	resp, body = realtimePost(t, f, ok, msg(`{}`))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &m))
}
