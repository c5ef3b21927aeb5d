package providerfake_test

// The FCM fake against the FCM HTTP v1 documents:
//   send:   https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
//   errors: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
//           (google.rpc.Status with a google.firebase.fcm.v1.FcmError detail;
//           QUOTA_EXCEEDED is HTTP 429 and may carry Retry-After)
// and against the real firebase.google.com/go/v4 messaging client, which must classify each
// error body the way it classifies Google's.

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func fcmClient(t *testing.T, f *providerfake.FCM) *messaging.Client {
	t.Helper()
	app, err := firebase.NewApp(t.Context(), &firebase.Config{ProjectID: "test-project"},
		option.WithEndpoint(f.URL()), option.WithoutAuthentication())
	require.NoError(t, err)
	c, err := app.Messaging(t.Context())
	require.NoError(t, err)
	return c
}

func TestFCMSendShape(t *testing.T) {
	t.Parallel()
	f := providerfake.NewFCM()
	defer f.Close()
	c := fcmClient(t, f)
	name, err := c.Send(t.Context(), &messaging.Message{Token: "tok-1",
		Notification: &messaging.Notification{Title: "New message", Body: "Hi"}, Data: map[string]string{"k": "v"}})
	require.NoError(t, err)
	require.Equal(t, "projects/test-project/messages/1", name, "200 {name: projects/<pid>/messages/<id>}")
	reqs := f.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "POST", reqs[0].Method)
	require.Equal(t, "/projects/test-project/messages:send", reqs[0].Path)
	var body struct {
		Message struct {
			Token        string            `json:"token"`
			Data         map[string]string `json:"data"`
			Notification map[string]string `json:"notification"`
		} `json:"message"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	require.Equal(t, "tok-1", body.Message.Token)
	require.Equal(t, "Hi", body.Message.Notification["body"])
	require.Equal(t, []providerfake.FCMMessage{{ID: name, Token: "tok-1", Title: "New message", Body: "Hi", Data: map[string]string{"k": "v"}}}, f.Sent())

	// validate_only: accepted, nothing stored.
	_, err = c.SendDryRun(t.Context(), &messaging.Message{Token: "tok-2"})
	require.NoError(t, err)
	require.Len(t, f.Sent(), 1)
}

func TestFCMErrorsAsDocumented(t *testing.T) {
	t.Parallel()
	f := providerfake.NewFCM()
	defer f.Close()
	c := fcmClient(t, f)
	f.Unregister("gone")
	f.Invalidate("garbled")
	send := func(tok string) error {
		_, err := c.Send(t.Context(), &messaging.Message{Token: tok})
		return err
	}
	require.True(t, messaging.IsUnregistered(send("gone")), "404 NOT_FOUND + FcmError UNREGISTERED")
	require.True(t, messaging.IsInvalidArgument(send("garbled")), "400 INVALID_ARGUMENT")

	f.Push(providerfake.FCMFault(providerfake.FCMInternal))
	require.True(t, messaging.IsInternal(send("ok")))
	f.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second})
	require.True(t, messaging.IsQuotaExceeded(send("ok")), "429 RESOURCE_EXHAUSTED + QUOTA_EXCEEDED")
	require.Empty(t, f.Sent())

	// The raw bodies: google.rpc.Status {code, message, status, details[FcmError]}; 429 has Retry-After.
	for _, tc := range []struct {
		fault            providerfake.Fault
		status           int
		grpc, fcm, retry string
	}{
		{providerfake.Fault{Status: 429, RetryAfter: 30 * time.Second}, 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "30"},
		{providerfake.FCMFault(providerfake.FCMUnavailable), 503, "UNAVAILABLE", "UNAVAILABLE", ""},
		{providerfake.FCMFault(providerfake.FCMInvalidArgument), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", ""},
	} {
		f.Push(tc.fault)
		resp, err := http.Post(f.URL()+"/projects/p/messages:send", "application/json", strings.NewReader(`{"message":{"token":"t"}}`))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode)
		require.Equal(t, tc.retry, resp.Header.Get("Retry-After"))
		var e struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Status  string `json:"status"`
				Details []struct {
					Type      string `json:"@type"`
					ErrorCode string `json:"errorCode"`
				} `json:"details"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(b, &e), string(b))
		require.Equal(t, tc.status, e.Error.Code)
		require.Equal(t, tc.grpc, e.Error.Status)
		require.NotEmpty(t, e.Error.Message)
		require.Equal(t, "type.googleapis.com/google.firebase.fcm.v1.FcmError", e.Error.Details[0].Type)
		require.Equal(t, tc.fcm, e.Error.Details[0].ErrorCode)
	}

	// A request without a token is a 400 with a google.rpc.BadRequest detail.
	resp, err := http.Post(f.URL()+"/projects/p/messages:send", "application/json", strings.NewReader(`{"message":{}}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode)
	require.Contains(t, string(b), "type.googleapis.com/google.rpc.BadRequest")
}
