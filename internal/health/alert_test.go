package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// The alert webhook receives the transition as JSON, signed with Standard Webhooks headers.
func TestAlertWorkerPostsSignedTransitions(t *testing.T) {
	t.Parallel()
	secret := signature.FormatSecret([]byte("0123456789abcdef0123456789abcdef"))
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	w, err := health.NewAlertWorker(health.AlertConfig{URL: srv.URL, Secret: secret, AllowPrivateNetworks: true})
	require.NoError(t, err)
	args := health.AlertArgs{TransitionID: "7d3c4c2e-0a59-4a55-9d8e-7c0f1f0f7c11", Breaker: "provider:twilio", From: "closed",
		To: "open", At: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Instance: "a", ConsecutiveFailures: 5, LastError: "HTTP 503"}
	job := &river.Job[health.AlertArgs]{JobRow: &rivertype.JobRow{ID: 1}, Args: args}
	require.NoError(t, w.Work(context.Background(), job))
	r, body := <-got, <-bodies
	key, err := signature.ParseSecret(secret)
	require.NoError(t, err)
	_, err = signature.VerifyStandard([][]byte{key}, signature.StandardHeaders, r.Header, body, time.Now(), time.Minute)
	require.NoError(t, err, "the POST verifies with the configured secret")
	var decoded health.AlertBody
	require.NoError(t, json.Unmarshal(body, &decoded))
	require.Equal(t, "breaker.changed", decoded.Type)
	require.Equal(t, args, decoded.Data)

	// 410 will never succeed: the job is cancelled; 503 is retried.
	status.Store(http.StatusGone)
	err = w.Work(context.Background(), job)
	<-got
	<-bodies
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel)
	status.Store(http.StatusServiceUnavailable)
	err = w.Work(context.Background(), job)
	<-got
	<-bodies
	require.Error(t, err)
	require.False(t, errors.As(err, &cancel), "a 503 is retried, not cancelled")

	_, err = health.NewAlertWorker(health.AlertConfig{URL: "mailto:ops@example.com"})
	require.ErrorContains(t, err, "absolute http(s) URL")
}

// The alert webhook goes through the guarded client: by default a loopback (or private) URL is
// refused at dial time, nothing reaches it, and the job is cancelled, not retried.
func TestAlertWorkerRefusesPrivateAddressByDefault(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	w, err := health.NewAlertWorker(health.AlertConfig{URL: srv.URL + "/hook?token=s3cret"})
	require.NoError(t, err)
	job := &river.Job[health.AlertArgs]{JobRow: &rivertype.JobRow{ID: 1}, Args: health.AlertArgs{TransitionID: "t1", Breaker: "b"}}
	err = w.Work(context.Background(), job)
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.ErrorContains(t, err, "private or internal address")
	require.NotContains(t, err.Error(), "s3cret")
	require.Zero(t, hits.Load())
}
