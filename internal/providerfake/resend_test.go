package providerfake_test

// The Resend fake against Resend's documents:
//   send email:      https://resend.com/docs/api-reference/emails/send-email
//   errors:          https://resend.com/docs/api-reference/errors
//   idempotency:     https://resend.com/docs/dashboard/emails/idempotency-keys.md
//   rate limit:      https://resend.com/docs/api-reference/rate-limit (429, ratelimit-* headers)
// and against the real github.com/resend/resend-go/v2 client.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/resend/resend-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func resendPost(t *testing.T, f *providerfake.Resend, key, idem, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL()+"/emails", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return resp, m
}

func TestResendSendAndIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := providerfake.NewResend("re_test")
	defer f.Close()
	c := resend.NewClient("re_test")
	u, err := url.Parse(f.URL() + "/")
	require.NoError(t, err)
	c.BaseURL = u
	params := &resend.SendEmailRequest{From: "hub@example.com", To: []string{"ava@example.com"}, Subject: "Hi", Text: "Hello"}
	sent, err := c.Emails.SendWithOptions(t.Context(), params, &resend.SendEmailOptions{IdempotencyKey: "notif-1"})
	require.NoError(t, err)
	require.NotEmpty(t, sent.Id, "200 {id}")
	again, err := c.Emails.SendWithOptions(t.Context(), params, &resend.SendEmailOptions{IdempotencyKey: "notif-1"})
	require.NoError(t, err)
	require.Equal(t, sent.Id, again.Id, "same key, same body: the first id again")
	require.Len(t, f.Sent(), 1, "and nothing sent twice")
	require.Equal(t, "notif-1", f.Sent()[0].IdempotencyKey)

	resp, m := resendPost(t, f, "re_test", "notif-1", `{"from":"hub@example.com","to":"ava@example.com","subject":"Other"}`)
	require.Equal(t, 409, resp.StatusCode)
	require.Equal(t, "invalid_idempotent_request", m["name"], "same key, other body")
	resp, m = resendPost(t, f, "re_test", strings.Repeat("k", 257), `{"from":"a@b.co","to":"c@d.co","subject":"s"}`)
	require.Equal(t, 400, resp.StatusCode)
	require.Equal(t, "invalid_idempotency_key", m["name"], "keys are 1..256 characters")

	// A key whose first request is still in flight: 409 concurrent_idempotent_requests.
	accepted, release := f.Hold()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, _ := resendPost(t, f, "re_test", "slow", `{"from":"a@b.co","to":"c@d.co","subject":"s"}`)
		require.Equal(t, 200, r.StatusCode)
	}()
	<-accepted
	resp, m = resendPost(t, f, "re_test", "slow", `{"from":"a@b.co","to":"c@d.co","subject":"s"}`)
	require.Equal(t, 409, resp.StatusCode)
	require.Equal(t, "concurrent_idempotent_requests", m["name"])
	release()
	<-done
}

func TestResendErrorsAsDocumented(t *testing.T) {
	t.Parallel()
	f := providerfake.NewResend("re_test")
	defer f.Close()
	ok := `{"from":"hub@example.com","to":["ava@example.com"],"subject":"Hi","text":"x"}`
	for _, tc := range []struct {
		key, body string
		status    int
		name      string
	}{
		{"", ok, 401, "missing_api_key"},
		{"re_wrong", ok, 403, "invalid_api_key"},
		{"re_test", `{"to":"a@b.co","subject":"s"}`, 422, "validation_error"},
		{"re_test", `{"from":"a@b.co","subject":"s"}`, 422, "validation_error"},
		{"re_test", `{"from":"a@b.co","to":"c@d.co"}`, 422, "validation_error"},
	} {
		resp, m := resendPost(t, f, tc.key, "", tc.body)
		require.Equal(t, tc.status, resp.StatusCode, tc.body)
		// Error body: {statusCode, name, message}.
		require.Equal(t, tc.name, m["name"])
		require.EqualValues(t, tc.status, m["statusCode"])
		require.NotEmpty(t, m["message"])
	}
	require.Empty(t, f.Sent())

	f.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second})
	resp, m := resendPost(t, f, "re_test", "", ok)
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "rate_limit_exceeded", m["name"])
	require.Equal(t, "2", resp.Header.Get("retry-after"))
	require.Equal(t, "2", resp.Header.Get("ratelimit-limit"))
	require.Equal(t, "0", resp.Header.Get("ratelimit-remaining"))
	require.Equal(t, "2", resp.Header.Get("ratelimit-reset"))

	// The SDK surfaces the 429 as its RateLimitError.
	c := resend.NewClient("re_test")
	u, _ := url.Parse(f.URL() + "/")
	c.BaseURL = u
	f.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	_, err := c.Emails.SendWithContext(t.Context(), &resend.SendEmailRequest{From: "a@b.co", To: []string{"c@d.co"}, Subject: "s", Text: "t"})
	var rl *resend.RateLimitError
	require.ErrorAs(t, err, &rl)
}
