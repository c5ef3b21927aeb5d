package providerfake_test

// The Zapier fakes against Zapier's and the CRMs' documents:
//   Webhooks by Zapier (Catch Hook answer {"status":"success","attempt","id","request_id"}; the
//   POST action sends JSON with the Zap's static headers):
//     https://help.zapier.com/hc/en-us/articles/8496288690317-Trigger-Zaps-from-webhooks
//     https://help.zapier.com/hc/en-us/articles/8496326446989-Send-webhooks-in-Zaps
//   HoneyBook and Dubsado reach vendorhub through Zapier only (no public API):
//     https://help.honeybook.com/en/articles/2209205-automate-tasks-with-zapier
//     https://supergood.ai/docs/dubsado-api
//   signatures checked as Standard Webhooks: https://www.standardwebhooks.com/ (spec)

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

func TestZapierBridgeSendsWhatAZapSends(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"accepted":true}`))
	}))
	defer srv.Close()
	z := &providerfake.ZapierBridge{Target: srv.URL + "/webhooks/dubsado/c1", Header: http.Header{"X-Vendorhub-Secret": {"s3cret"}}}
	status, resp, err := z.Send(t.Context(), map[string]any{"trigger": "new_lead", "lead": map[string]string{"email": "ava@example.com"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	require.JSONEq(t, `{"accepted":true}`, string(resp))
	require.Equal(t, "POST", got.Method)
	require.Equal(t, "/webhooks/dubsado/c1", got.URL.Path)
	require.Equal(t, "application/json", got.Header.Get("Content-Type"), "payload type json")
	require.Equal(t, "Zapier", got.Header.Get("User-Agent"))
	require.Equal(t, "s3cret", got.Header.Get("X-Vendorhub-Secret"), "the Zap's static header")
	require.JSONEq(t, `{"trigger":"new_lead","lead":{"email":"ava@example.com"}}`, string(body))
}

func TestZapierCatchHookAnswersAndVerifies(t *testing.T) {
	t.Parallel()
	z := providerfake.NewZapierCatchHook()
	defer z.Close()
	key := []byte("0123456789abcdef0123456789abcdef")
	z.SetSecrets("whsec_" + base64.StdEncoding.EncodeToString(key))
	post := func(body string, sign bool) (int, map[string]string) {
		req, err := http.NewRequest(http.MethodPost, z.HookURL("123", "abc"), strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if sign {
			now := time.Now()
			req.Header.Set("webhook-id", "msg_1")
			req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
			req.Header.Set("webhook-signature", signature.Sign(key, "msg_1", now, []byte(body)))
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return resp.StatusCode, m
	}
	status, m := post(`{"type":"inquiry.created"}`, true)
	require.Equal(t, 200, status)
	require.Equal(t, "success", m["status"])
	for _, k := range []string{"attempt", "id", "request_id"} {
		require.NotEmpty(t, m[k], k)
	}
	// Zapier accepts unsigned requests too; the Zap's own check records the outcome.
	status, _ = post(`{"type":"inquiry.created"}`, false)
	require.Equal(t, 200, status)
	c := z.Catches()
	require.Len(t, c, 2)
	require.Equal(t, "123", c[0].Account)
	require.Equal(t, "abc", c[0].Hook)
	require.True(t, c[0].Verified, c[0].Problem)
	require.False(t, c[1].Verified)
	require.Equal(t, "missing webhook headers", c[1].Problem)

	z.Push(providerfake.Fault{Status: http.StatusServiceUnavailable})
	status, m = post(`{}`, false)
	require.Equal(t, 503, status)
	require.Equal(t, "error", m["status"])
}
