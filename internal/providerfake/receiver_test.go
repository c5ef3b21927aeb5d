package providerfake_test

// The outbound-webhook receiver against the Standard Webhooks specification
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
// webhook-id / webhook-timestamp / webhook-signature headers, HMAC-SHA256 over
// "id.timestamp.body" keyed by the base64 part of "whsec_…", "v1,<base64>" entries separated by
// spaces (several during secret rotation), a 5-minute timestamp tolerance; and against Svix's
// retry semantics (https://docs.svix.com/retries: 2xx is success, 410 disables the endpoint).
// It is signed here by vendorhub's own signer (internal/webhook/signature), which shares no
// code with the receiver's verifier.

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

func TestWebhookReceiverVerifiesStandardWebhooks(t *testing.T) {
	t.Parallel()
	oldKey, newKey := []byte("old-secret-old-secret-old-secr"), []byte("new-secret-new-secret-new-secr")
	r := providerfake.NewWebhookReceiver("whsec_" + base64.StdEncoding.EncodeToString(newKey))
	defer r.Close()
	send := func(id string, ts time.Time, sig, body string) int {
		req, err := http.NewRequest(http.MethodPost, r.URL(), strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	body := `{"type":"booking.updated"}`
	require.Equal(t, 200, send("msg_1", now, signature.Sign(newKey, "msg_1", now, []byte(body)), body))
	// Rotation: one valid entry among several is enough.
	require.Equal(t, 200, send("msg_2", now, signature.SignAll([][]byte{oldKey, newKey}, "msg_2", now, []byte(body)), body))
	require.Equal(t, 401, send("msg_3", now, signature.Sign(oldKey, "msg_3", now, []byte(body)), body), "unknown secret")
	require.Equal(t, 401, send("msg_4", now, signature.Sign(newKey, "msg_4", now, []byte(body)), body+" "), "body changed")
	old := now.Add(-6 * time.Minute)
	require.Equal(t, 401, send("msg_5", old, signature.Sign(newKey, "msg_5", old, []byte(body)), body), "outside 5 minutes")

	got := r.Received()
	require.Len(t, got, 5)
	require.Equal(t, "timestamp outside tolerance", got[4].Problem)
	require.Equal(t, "no valid signature", got[2].Problem)
	require.Equal(t, map[string]int{"msg_1": 1, "msg_2": 1}, r.Accepted())

	// Scripted answers a sender must handle: 410 Gone (disable the endpoint), 5xx (retry).
	r.Push(providerfake.Fault{Status: http.StatusGone}, providerfake.Fault{Status: http.StatusServiceUnavailable})
	require.Equal(t, 410, send("msg_6", now, signature.Sign(newKey, "msg_6", now, []byte(body)), body))
	require.Equal(t, 503, send("msg_6", now, signature.Sign(newKey, "msg_6", now, []byte(body)), body))
	require.Equal(t, map[string]int{"msg_1": 1, "msg_2": 1}, r.Accepted(), "non-2xx answers are not deliveries")
}
