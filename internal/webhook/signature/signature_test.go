package signature_test

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// Published Standard Webhooks test vector (standard-webhooks/standard-webhooks
// libraries/go/webhook_test.go TestWebhookSign; the same vector is in Svix's docs).
const (
	vectorSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS      = 1614265330
	vectorPayload = `{"test": 2432232314}`
	vectorSig     = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	// A well-formed signature that matches nothing, from the same test file.
	unrelatedSig = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
)

func TestStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	secret, err := signature.ParseSecret(vectorSecret)
	require.NoError(t, err)
	require.Equal(t, vectorSig, signature.Sign(secret, vectorMsgID, time.Unix(vectorTS, 0), []byte(vectorPayload)))
	// The prefix is optional when parsing.
	bare, err := signature.ParseSecret(strings.TrimPrefix(vectorSecret, "whsec_"))
	require.NoError(t, err)
	require.Equal(t, secret, bare)
	require.Equal(t, vectorSecret, signature.FormatSecret(secret))

	h := http.Header{}
	h.Set("webhook-id", vectorMsgID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTS))
	h.Set("webhook-signature", vectorSig)
	msg, err := signature.VerifyStandard([][]byte{secret}, signature.StandardHeaders, h, []byte(vectorPayload), time.Unix(vectorTS+10, 0), 0)
	require.NoError(t, err)
	require.Equal(t, vectorMsgID, msg.ID)
	require.Equal(t, int64(vectorTS), msg.Timestamp.Unix())
}

// The verification cases of the Standard Webhooks reference library's TestWebhook.
func TestStandardWebhooksCases(t *testing.T) {
	t.Parallel()
	secret, err := signature.ParseSecret(vectorSecret)
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)
	tol := signature.ToleranceDefault
	sign := func(ts time.Time) http.Header {
		h := http.Header{}
		signature.SetHeaders(h, signature.StandardHeaders, [][]byte{secret}, vectorMsgID, ts, []byte(vectorPayload))
		return h
	}
	cases := []struct {
		name   string
		header http.Header
		want   error
	}{
		{"valid signature is valid", sign(now), nil},
		{"missing id", func() http.Header { h := sign(now); h.Del("webhook-id"); return h }(), signature.ErrMissingHeader},
		{"missing timestamp", func() http.Header { h := sign(now); h.Del("webhook-timestamp"); return h }(), signature.ErrMissingHeader},
		{"missing signature", func() http.Header { h := sign(now); h.Del("webhook-signature"); return h }(), signature.ErrMissingHeader},
		{"invalid signature", func() http.Header { h := sign(now); h.Set("webhook-signature", unrelatedSig); return h }(), signature.ErrSignatureMismatch},
		{"old timestamp fails", sign(now.Add(-tol - time.Second)), signature.ErrTimestampTooOld},
		{"new timestamp fails", sign(now.Add(tol + time.Second)), signature.ErrTimestampTooNew},
		{"edge of tolerance passes (past)", sign(now.Add(-tol)), nil},
		{"edge of tolerance passes (future)", sign(now.Add(tol)), nil},
		{"valid multi sig is valid", func() http.Header {
			h := sign(now)
			h.Set("webhook-signature", strings.Join([]string{unrelatedSig, "v2," + strings.TrimPrefix(unrelatedSig, "v1,"),
				h.Get("webhook-signature"), unrelatedSig}, " "))
			return h
		}(), nil},
		{"v1a or unknown versions alone do not verify", func() http.Header {
			h := sign(now)
			h.Set("webhook-signature", "v1a,"+strings.TrimPrefix(h.Get("webhook-signature"), "v1,"))
			return h
		}(), signature.ErrSignatureMismatch},
		{"garbage timestamp", func() http.Header { h := sign(now); h.Set("webhook-timestamp", "yesterday"); return h }(), signature.ErrInvalidTimestamp},
		{"id with a dot", func() http.Header { h := sign(now); h.Set("webhook-id", "a.b"); return h }(), signature.ErrMalformed},
		{"entry without comma", func() http.Header { h := sign(now); h.Set("webhook-signature", "v1"); return h }(), signature.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := signature.VerifyStandard([][]byte{secret}, signature.StandardHeaders, c.header, []byte(vectorPayload), now, 0)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.want)
			var se *signature.Error
			require.True(t, errors.As(err, &se))
			require.NotContains(t, err.Error(), vectorSecret)
		})
	}
	// A tampered body fails.
	_, err = signature.VerifyStandard([][]byte{secret}, signature.StandardHeaders, sign(now), []byte(`{"test": 2432232315}`), now, 0)
	require.ErrorIs(t, err, signature.ErrSignatureMismatch)
}

func TestSecretRotationOnEitherSide(t *testing.T) {
	t.Parallel()
	oldS, newS := []byte("old-secret-0123456789abcdef"), []byte("new-secret-0123456789abcdef")
	now := time.Now()
	h := http.Header{}
	// Sender signs with both secrets; a receiver holding either verifies.
	signature.SetHeaders(h, signature.SvixHeaders, [][]byte{newS, oldS}, "msg_1", now, []byte("{}"))
	for _, s := range [][]byte{oldS, newS} {
		_, err := signature.VerifyStandard([][]byte{s}, signature.SvixHeaders, h, []byte("{}"), now, 0)
		require.NoError(t, err)
	}
	// Receiver holding both secrets verifies a sender using only the new one.
	h2 := http.Header{}
	signature.SetHeaders(h2, signature.SvixHeaders, [][]byte{newS}, "msg_2", now, []byte("{}"))
	_, err := signature.VerifyStandard([][]byte{oldS, newS}, signature.SvixHeaders, h2, []byte("{}"), now, 0)
	require.NoError(t, err)
	// Svix headers are not Standard headers.
	_, err = signature.VerifyStandard([][]byte{newS}, signature.StandardHeaders, h2, []byte("{}"), now, 0)
	require.ErrorIs(t, err, signature.ErrMissingHeader)
}

func TestParseSecretErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "whsec_", "whsec_!!!!"} {
		_, err := signature.ParseSecret(s)
		require.ErrorIs(t, err, signature.ErrInvalidSecret, s)
	}
}

// Twilio's documented example (twilio.com/docs/usage/webhooks/webhooks-security).
func TestTwilioDocumentedExample(t *testing.T) {
	t.Parallel()
	const (
		token = "12345"
		u     = "https://mycompany.com/myapp.php?foo=1&bar=2"
		want  = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	)
	params := url.Values{}
	params.Set("CallSid", "CA1234567890ABCDE")
	params.Set("Caller", "+12349013030")
	params.Set("Digits", "1234")
	params.Set("From", "+12349013030")
	params.Set("To", "+18005551212")
	require.Equal(t, want, signature.SignTwilio(token, u, params))
	body := []byte(params.Encode())
	require.NoError(t, signature.VerifyTwilio(token, u, body, want))

	// twilio-go's own vector (client/request_validator_test.go).
	p2 := url.Values{}
	for k, v := range map[string]string{"Digits": "1234", "CallSid": "CA1234567890ABCDE", "To": "+18005551212",
		"Caller": "+14158675309", "From": "+14158675309", "ReasonConferenceEnded": "test", "Reason": "Participant"} {
		p2.Set(k, v)
	}
	require.Equal(t, "vOEb5UThFn24KEfnOFLQY2AE5FY=", signature.SignTwilio(token, u, p2))

	require.ErrorIs(t, signature.VerifyTwilio(token, u, body, "vOEb5UThFn24KEfnOFLQY2AE5FY="), signature.ErrSignatureMismatch)
	require.ErrorIs(t, signature.VerifyTwilio("wrong", u, body, want), signature.ErrSignatureMismatch)
	require.ErrorIs(t, signature.VerifyTwilio(token, u+"&x=1", body, want), signature.ErrSignatureMismatch)
	require.ErrorIs(t, signature.VerifyTwilio(token, u, body, ""), signature.ErrMissingHeader)
	require.ErrorIs(t, signature.VerifyTwilio("", u, body, want), signature.ErrInvalidSecret)
	// A tampered parameter fails.
	params.Set("Digits", "9999")
	require.ErrorIs(t, signature.VerifyTwilio(token, u, []byte(params.Encode()), want), signature.ErrSignatureMismatch)
}

func TestVerifyShared(t *testing.T) {
	t.Parallel()
	require.NoError(t, signature.VerifyShared("s3cret-value", "s3cret-value", "X-Webhook-Secret"))
	require.ErrorIs(t, signature.VerifyShared("s3cret-value", "s3cret-valuf", "X-Webhook-Secret"), signature.ErrSignatureMismatch)
	require.ErrorIs(t, signature.VerifyShared("s3cret-value", "s3cret", "X-Webhook-Secret"), signature.ErrSignatureMismatch)
	require.ErrorIs(t, signature.VerifyShared("s3cret-value", "", "X-Webhook-Secret"), signature.ErrMissingHeader)
	require.ErrorIs(t, signature.VerifyShared("", "x", "X-Webhook-Secret"), signature.ErrInvalidSecret)
	err := signature.VerifyShared("s3cret-value", "guess", "X-Webhook-Secret")
	require.NotContains(t, err.Error(), "s3cret")
}
