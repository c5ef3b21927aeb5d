package channel_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

const (
	tokA = "tokenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	tokB = "tokenBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
)

func newFCM(t *testing.T) (*providerfake.FCM, *channel.FCM) {
	t.Helper()
	fake := providerfake.NewFCM()
	t.Cleanup(fake.Close)
	s, err := channel.NewFCM(context.Background(), channel.FCMConfig{ProjectID: "vendorhub-test", Endpoint: fake.URL()})
	require.NoError(t, err)
	return fake, s
}

func classOf(t *testing.T, err error) *provider.Error {
	t.Helper()
	var ce *provider.Error
	require.True(t, errors.As(err, &ce), "want *provider.Error, got %T %v", err, err)
	return ce
}

func TestFCMMulticast(t *testing.T) {
	t.Parallel()
	fake, s := newFCM(t)
	fake.Unregister(tokB)
	res, err := s.Send(context.Background(), channel.Message{Channel: channel.Push, To: []string{tokA, tokB},
		Title: "New message", Body: "hello", Data: map[string]string{"k": "v"}})
	require.NoError(t, err, "one live token is enough")
	require.Equal(t, 1, res.Accepted)
	require.Equal(t, []string{tokB}, res.DeadTokens)
	require.Equal(t, "projects/vendorhub-test/messages/1", res.ProviderID)
	sent := fake.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, tokA, sent[0].Token)
	require.Equal(t, "New message", sent[0].Title)
	require.Equal(t, "v", sent[0].Data["k"])
	for _, r := range fake.Requests() {
		require.Equal(t, "/projects/vendorhub-test/messages:send", r.Path)
		require.Equal(t, "Bearer fake-fcm-token", r.Header.Get("Authorization"))
	}
}

func TestFCMErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		setup      func(f *providerfake.FCM)
		class      channel.Class
		code       string
		retryAfter time.Duration
		dead       int
	}{
		{"all tokens unregistered", func(f *providerfake.FCM) { f.Unregister(tokA, tokB) }, channel.Unreachable, "UNREGISTERED", 0, 2},
		{"invalid token", func(f *providerfake.FCM) { f.Invalidate(tokA, tokB) }, channel.Unreachable, "INVALID_ARGUMENT", 0, 2},
		{"quota exceeded", func(f *providerfake.FCM) {
			f.Always(providerfake.Fault{Status: 429, RetryAfter: 7 * time.Second})
		}, channel.RateLimited, "QUOTA_EXCEEDED", 7 * time.Second, 0},
		{"internal", func(f *providerfake.FCM) { f.Always(providerfake.FCMFault(providerfake.FCMInternal)) }, channel.Transient, "INTERNAL", 0, 0},
		{"payload invalid", func(f *providerfake.FCM) { f.Always(providerfake.FCMFault(providerfake.FCMInvalidArgument)) }, channel.Permanent, "INVALID_ARGUMENT", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, s := newFCM(t)
			tc.setup(fake)
			res, err := s.Send(context.Background(), channel.Message{Channel: channel.Push, To: []string{tokA, tokB}, Title: "t", Body: "b"})
			ce := classOf(t, err)
			require.Equal(t, tc.class, ce.Class(), ce.Error())
			require.Equal(t, tc.code, ce.Code)
			require.Equal(t, tc.retryAfter, ce.RetryAfter)
			require.Len(t, res.DeadTokens, tc.dead)
			require.Empty(t, fake.Sent())
		})
	}
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		fake, s := newFCM(t)
		_, err := s.Send(context.Background(), channel.Message{Channel: channel.Push, Title: "t"})
		require.Equal(t, channel.CodeNoDevice, classOf(t, err).Code)
		require.Zero(t, fake.Len(), "no request without a token")
	})
}

func newResend(t *testing.T) (*providerfake.Resend, *channel.Resend) {
	t.Helper()
	fake := providerfake.NewResend("re_test_key")
	t.Cleanup(fake.Close)
	s, err := channel.NewResend(channel.ResendConfig{APIKey: "re_test_key", From: "vendorhub <notify@vendorhub.test>", BaseURL: fake.URL()})
	require.NoError(t, err)
	return fake, s
}

func TestResendIdempotency(t *testing.T) {
	t.Parallel()
	fake, s := newResend(t)
	m := channel.Message{Channel: channel.Email, IdempotencyKey: "vendorhub/16B3748/3/u1/email", To: []string{"couple@example.com"}, Title: "New message", Body: "hi"}
	r1, err := s.Send(context.Background(), m)
	require.NoError(t, err)
	r2, err := s.Send(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, r1.ProviderID, r2.ProviderID, "same key, same body: the first id again")
	require.Len(t, fake.Sent(), 1, "sent once")
	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		require.Equal(t, m.IdempotencyKey, r.Header.Get("Idempotency-Key"))
		require.Equal(t, "Bearer re_test_key", r.Header.Get("Authorization"))
	}
	m.Body = "changed"
	_, err = s.Send(context.Background(), m)
	ce := classOf(t, err)
	require.Equal(t, channel.Permanent, ce.Class())
	require.Equal(t, "invalid_idempotent_request", ce.Code)
	require.Equal(t, http.StatusConflict, ce.Status)
}

func TestResendErrors(t *testing.T) {
	t.Parallel()
	t.Run("rate limited", func(t *testing.T) {
		t.Parallel()
		fake, s := newResend(t)
		fake.Push(providerfake.Fault{Status: 429, RetryAfter: 3 * time.Second})
		_, err := s.Send(context.Background(), channel.Message{IdempotencyKey: "k1", To: []string{"a@example.com"}, Title: "t", Body: "b"})
		ce := classOf(t, err)
		require.Equal(t, channel.RateLimited, ce.Class())
		require.Equal(t, 3*time.Second, ce.RetryAfter)
		require.True(t, errors.Is(err, resendErrRateLimit()), "the SDK's sentinel stays reachable")
	})
	t.Run("server error", func(t *testing.T) {
		t.Parallel()
		fake, s := newResend(t)
		fake.Push(providerfake.Fault{Status: 500})
		_, err := s.Send(context.Background(), channel.Message{IdempotencyKey: "k2", To: []string{"a@example.com"}, Title: "t", Body: "b"})
		require.Equal(t, channel.Transient, classOf(t, err).Class())
	})
	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		_, s := newResend(t)
		_, err := s.Send(context.Background(), channel.Message{IdempotencyKey: "k3", To: []string{"a@example.com"}, Body: "no subject"})
		ce := classOf(t, err)
		require.Equal(t, channel.Permanent, ce.Class())
		require.Equal(t, http.StatusUnprocessableEntity, ce.Status)
		require.Equal(t, "validation_error", ce.Code)
	})
	t.Run("bad address never sent", func(t *testing.T) {
		t.Parallel()
		fake, s := newResend(t)
		_, err := s.Send(context.Background(), channel.Message{IdempotencyKey: "k4", To: []string{"not an address"}, Title: "t"})
		require.Equal(t, channel.Unreachable, classOf(t, err).Class())
		require.Zero(t, fake.Len())
	})
	t.Run("wrong key", func(t *testing.T) {
		t.Parallel()
		fake := providerfake.NewResend("re_right")
		t.Cleanup(fake.Close)
		s, err := channel.NewResend(channel.ResendConfig{APIKey: "re_wrong", From: "a@example.com", BaseURL: fake.URL()})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), channel.Message{IdempotencyKey: "k5", To: []string{"a@example.com"}, Title: "t"})
		ce := classOf(t, err)
		require.Equal(t, channel.Permanent, ce.Class())
		require.Equal(t, http.StatusForbidden, ce.Status)
	})
	t.Run("too long idempotency key", func(t *testing.T) {
		t.Parallel()
		fake, s := newResend(t)
		_, err := s.Send(context.Background(), channel.Message{IdempotencyKey: strings.Repeat("k", 257), To: []string{"a@example.com"}, Title: "t"})
		require.Equal(t, channel.Permanent, classOf(t, err).Class())
		require.Zero(t, fake.Len())
	})
}

func newTwilio(t *testing.T) (*providerfake.Twilio, *channel.Twilio) {
	t.Helper()
	fake := providerfake.NewTwilio("ACtest", "authtoken")
	t.Cleanup(fake.Close)
	s, err := channel.NewTwilio(channel.TwilioConfig{AccountSID: "ACtest", AuthToken: "authtoken", From: "+15005550006",
		StatusCallback: "https://hub.example.com/webhooks/twilio/default", BaseURL: fake.URL()})
	require.NoError(t, err)
	return fake, s
}

func TestTwilio(t *testing.T) {
	t.Parallel()
	fake, s := newTwilio(t)
	res, err := s.Send(context.Background(), channel.Message{Channel: channel.SMS, To: []string{"+14155550101"}, Title: "Day-of change", Body: "Ceremony moved to 4pm"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.ProviderID, "SM"), res.ProviderID)
	sent := fake.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, "Day-of change: Ceremony moved to 4pm", sent[0].Body)
	require.Equal(t, "+15005550006", sent[0].From)
	require.Equal(t, "https://hub.example.com/webhooks/twilio/default", sent[0].StatusCallback)
	require.Equal(t, res.ProviderID, sent[0].SID)
}

func TestTwilioErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		to         string
		setup      func(f *providerfake.Twilio)
		class      channel.Class
		code       string
		retryAfter time.Duration
	}{
		{"STOP", "+14155550102", func(f *providerfake.Twilio) { f.OptOut("+14155550102") }, channel.Unreachable, "21610", 0},
		{"invalid number", "+1", func(*providerfake.Twilio) {}, channel.Unreachable, "21211", 0},
		{"rate limited", "+14155550103", func(f *providerfake.Twilio) {
			f.Push(providerfake.Fault{Status: 429, RetryAfter: 2 * time.Second})
		}, channel.RateLimited, "20429", 2 * time.Second},
		{"server error", "+14155550104", func(f *providerfake.Twilio) { f.Push(providerfake.Fault{Status: 503}) }, channel.Transient, "20500", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, s := newTwilio(t)
			tc.setup(fake)
			_, err := s.Send(context.Background(), channel.Message{Channel: channel.SMS, To: []string{tc.to}, Body: "b"})
			ce := classOf(t, err)
			require.Equal(t, tc.class, ce.Class(), ce.Error())
			require.Equal(t, tc.code, ce.Code)
			require.Equal(t, tc.retryAfter, ce.RetryAfter)
			require.Empty(t, fake.Sent())
		})
	}
	t.Run("bad credentials", func(t *testing.T) {
		t.Parallel()
		fake := providerfake.NewTwilio("ACtest", "right")
		t.Cleanup(fake.Close)
		s, err := channel.NewTwilio(channel.TwilioConfig{AccountSID: "ACtest", AuthToken: "wrong", From: "+15005550006", BaseURL: fake.URL()})
		require.NoError(t, err)
		_, err = s.Send(context.Background(), channel.Message{Channel: channel.SMS, To: []string{"+14155550101"}, Body: "b"})
		ce := classOf(t, err)
		require.Equal(t, channel.Permanent, ce.Class())
		require.Equal(t, "20003", ce.Code)
	})
	t.Run("cancelled context reaches the request", func(t *testing.T) {
		t.Parallel()
		fake, s := newTwilio(t)
		fake.Push(providerfake.Fault{Status: 200, Delay: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			_, _ = fake.WaitFor(context.Background(), 1)
			cancel()
		}()
		_, err := s.Send(ctx, channel.Message{Channel: channel.SMS, To: []string{"+14155550101"}, Body: "b"})
		require.Equal(t, channel.Transient, channel.ClassOf(err))
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := channel.NewFCM(context.Background(), channel.FCMConfig{})
	require.ErrorContains(t, err, "ProjectID")
	_, err = channel.NewResend(channel.ResendConfig{APIKey: "k"})
	require.ErrorContains(t, err, "From")
	_, err = channel.NewTwilio(channel.TwilioConfig{AccountSID: "AC", AuthToken: "t"})
	require.ErrorContains(t, err, "From")
	_, err = channel.NewTwilio(channel.TwilioConfig{AccountSID: "AC", AuthToken: "t", From: "+1", BaseURL: "::"})
	require.Error(t, err)
}
