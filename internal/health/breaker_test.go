package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Seeded (supabase/seed.sql): Ava has two push devices and an email address.
const ava = "10000000-0000-4000-8000-000000000001"

// A push provider that starts failing opens its breaker; while it is open, notifications fall
// back to email; once it recovers, a probe closes the breaker. Each of the three transitions
// writes exactly one breaker.changed event, one audit row and one operator alert.
func TestFailingProviderOpensBreakerNotificationsFallBackAndBreakerCloses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewSeededDB(t)

	// Every message vendorhub.emit writes in this database, from now on.
	slot := fmt.Sprintf("health_it_%d", time.Now().UnixNano())
	_, err := db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'test_decoding')`, slot)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), `select pg_drop_replication_slot($1)`, slot) })

	// An operator receives the in-app alerts.
	var operator string
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into auth.users (id, aud, role, email, raw_app_meta_data)
		values (gen_random_uuid(), 'authenticated', 'authenticated', 'ops@vendorhub.test', '{"role": "operator"}')
		returning id::text`).Scan(&operator))

	fcmFake := providerfake.NewFCM()
	t.Cleanup(fcmFake.Close)
	resendFake := providerfake.NewResend("re_test")
	t.Cleanup(resendFake.Close)
	fcm, err := channel.NewFCM(ctx, channel.FCMConfig{ProjectID: "vendorhub-test", Endpoint: fcmFake.URL()})
	require.NoError(t, err)
	resend, err := channel.NewResend(channel.ResendConfig{APIKey: "re_test", From: "vendorhub <n@vendorhub.test>", BaseURL: resendFake.URL()})
	require.NoError(t, err)

	breakers, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, OpenTimeout: 2 * time.Second}, nil)
	require.NoError(t, err)
	written := make(chan breaker.Transition, 8)
	// The River client first, its workers bundle filled below (as sidecar.New does).
	workers := river.NewWorkers()
	client, err := jobs.NewClient(db.Pool, jobs.Config{ID: "health-test", Workers: workers, Logger: quiet,
		Queues: map[string]river.QueueConfig{notify.Queue: {MaxWorkers: 1}}}) // jobs run in insertion order
	require.NoError(t, err)
	rec, err := health.NewRecorder(db.Pool, health.RecorderConfig{Instance: "test-instance", Logger: quiet, Retry: 10 * time.Millisecond,
		AlertWebhook: true, Jobs: client})
	require.NoError(t, err)
	rec.Written = written
	breakers.OnChange(rec.Notify)
	rctx, stopRec := context.WithCancel(ctx)
	recDone := make(chan error, 1)
	go func() { recDone <- rec.Run(rctx) }()
	t.Cleanup(func() { stopRec(); <-recDone })

	worker, err := deliver.NewWorker(db.Pool, deliver.Config{
		Senders:     map[channel.Kind]channel.Sender{channel.Push: channel.WithBreaker(breakers, fcm), channel.Email: channel.WithBreaker(breakers, resend)},
		MaxAttempts: 1, Logger: quiet}) // a failed attempt gives up and falls back at once
	require.NoError(t, err)
	river.AddWorker(workers, worker)
	alerts, err := health.NewAlertWorker(health.AlertConfig{URL: "http://127.0.0.1:9/alerts"}) // its queue is not worked here
	require.NoError(t, err)
	river.AddWorker(workers, alerts)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	})

	// notification writes an in-app notification for Ava and its push job (email as fallback).
	notification := func(title string) string {
		var id string
		require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.notifications (user_id, category, title, body, event_key)
			values ($1, 'day_of_change', $2, 'The ceremony moved to 15:00', 'test/' || gen_random_uuid()) returning id::text`,
			ava, title).Scan(&id))
		_, err := client.Insert(ctx, notify.DeliverArgs{NotificationID: id, UserID: ava, Channel: channel.Push,
			Rest: []channel.Kind{channel.Email}, Critical: true}, nil)
		require.NoError(t, err)
		return id
	}
	waitTransition := func(from, to string) breaker.Transition {
		t.Helper()
		select {
		case tr := <-written:
			require.Equal(t, breaker.Provider("fcm"), tr.Breaker)
			require.Equal(t, []string{from, to}, []string{tr.From, tr.To})
			return tr
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s → %s transition recorded", from, to)
		}
		return breaker.Transition{}
	}
	type row struct {
		Channel, Provider, Status, Code string
		Attempt                         int
	}
	deliveries := func(id string) []row {
		rows, err := db.Pool.Query(ctx, `select channel::text, provider, status, coalesce(error_code, ''), attempt
			from public.deliveries where notification_id = $1 order by created_at, channel, attempt`, id)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.Channel, &x.Provider, &x.Status, &x.Code, &x.Attempt)
		})
		require.NoError(t, err)
		return out
	}

	// 1. FCM answers 503. Three notifications are queued for the one worker: the first two
	// push attempts fail (their deliveries give up and fall back to email) and open the
	// breaker; the third push is refused by the open breaker without calling FCM and falls
	// back to email at once.
	fcmFake.Always(providerfake.FCMFault(providerfake.FCMUnavailable))
	ids := []string{notification("Ceremony time changed"), notification("Photos at the lake"), notification("Cake arrives at 14:00")}
	opened := waitTransition(breaker.StateClosed, breaker.StateOpen)
	require.Equal(t, 2, opened.ConsecutiveFailures)
	require.Contains(t, opened.LastError, "UNAVAILABLE")
	_, err = resendFake.WaitFor(ctx, 3)
	require.NoError(t, err)
	for i, id := range ids {
		require.Eventually(t, func() bool { return len(deliveries(id)) == 2 }, 30*time.Second, 10*time.Millisecond)
		code := "UNAVAILABLE"
		if i == 2 {
			code = channel.CodeCircuitOpen
		}
		require.Equal(t, []row{{"push", "fcm", "failed", code, 1}, {"email", "resend", "sent", "", 1}}, deliveries(id), "notification %d", i)
	}
	for _, m := range resendFake.Sent() {
		require.Equal(t, []string{"ava@example.com"}, m.To)
	}
	// (The breaker may be half-open by now on a slow machine: OpenTimeout is 2 s. What shows
	// that the open breaker refused the third push is FCM's call count.)
	for _, st := range breakers.Integrations() {
		if st.Name == breaker.Provider("fcm") {
			require.EqualValues(t, 2, st.Calls, "the open breaker did not call FCM for the third notification")
		}
	}

	// 2. FCM recovers; after OpenTimeout the breaker lets a probe through and closes.
	fcmFake.Clear()
	require.Eventually(t, func() bool { return breakers.State(breaker.Provider("fcm")) == breaker.StateHalfOpen },
		10*time.Second, 10*time.Millisecond)
	waitTransition(breaker.StateOpen, breaker.StateHalfOpen)
	third := notification("All vendors confirmed")
	waitTransition(breaker.StateHalfOpen, breaker.StateClosed)
	require.Eventually(t, func() bool { return len(deliveries(third)) == 1 }, 30*time.Second, 10*time.Millisecond)
	require.Equal(t, []row{{"push", "fcm", "sent", "", 1}}, deliveries(third))
	require.Len(t, resendFake.Sent(), 3, "no email once push works again")

	// Each transition: one transitions row, one breaker.changed event (with its row's id),
	// one audit row, one alert for the operator.
	rows, err := db.Pool.Query(ctx, `select id::text, from_state, to_state, event_id::text from vendorhub.breaker_transitions
		where breaker = 'provider:fcm' order by occurred_at`)
	require.NoError(t, err)
	type tr struct{ ID, From, To, Event string }
	trs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tr, error) {
		var x tr
		return x, r.Scan(&x.ID, &x.From, &x.To, &x.Event)
	})
	require.NoError(t, err)
	require.Len(t, trs, 3)
	require.Equal(t, []string{"closed>open", "open>half-open", "half-open>closed"},
		[]string{trs[0].From + ">" + trs[0].To, trs[1].From + ">" + trs[1].To, trs[2].From + ">" + trs[2].To})

	rows, err = db.Pool.Query(ctx, `select data from pg_logical_slot_get_changes($1, null, null) where data like 'message:%'`, slot)
	require.NoError(t, err)
	msgs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	var breakerEvents []string
	for _, m := range msgs {
		if strings.Contains(m, `"breaker.changed"`) {
			breakerEvents = append(breakerEvents, m)
		}
	}
	require.Len(t, breakerEvents, 3)
	for i, x := range trs {
		require.Contains(t, breakerEvents[i], x.Event, "event %d carries its id", i)
		require.Contains(t, breakerEvents[i], x.ID, "event %d names its transition row", i)
		require.Contains(t, breakerEvents[i], `"to": "`+x.To+`"`)

		var audits, alerts int
		require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.audit_log
			where action = 'breaker.changed' and subject = 'breaker:provider:fcm' and details->>'transition_id' = $1`, x.ID).Scan(&audits))
		require.Equal(t, 1, audits, "audit rows of transition %d", i)
		require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.notifications
			where user_id = $1 and event_key = 'breaker/' || $2 and category = 'integration_failure'`, operator, x.ID).Scan(&alerts))
		require.Equal(t, 1, alerts, "operator alerts of transition %d", i)

		var jobsN int
		require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from river.river_job
			where kind = 'health.alert' and args->>'transition_id' = $1 and args->>'to' = $2`, x.ID, x.To).Scan(&jobsN))
		require.Equal(t, 1, jobsN, "alert webhook jobs of transition %d", i)
	}

	// The dashboard's statistics saw the calls.
	for _, st := range breakers.Integrations() {
		if st.Name == breaker.Provider("fcm") {
			require.EqualValues(t, 3, st.Calls, "two failures and the probe")
			require.EqualValues(t, 2, st.Failures)
			require.Equal(t, breaker.StateClosed, st.Breaker)
			require.Zero(t, st.ConsecutiveFailures)
		}
	}
}

// A bad recipient or a rejected payload is not the provider's failure: the breaker stays closed.
func TestBreakerIgnoresRecipientAndPayloadErrors(t *testing.T) {
	t.Parallel()
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1}, nil)
	require.NoError(t, err)
	for _, pe := range []*provider.Error{{Provider: "twilio", Unreachable: true}, {Provider: "twilio"},
		{Provider: "twilio", Retryable: true, RateLimited: true}} {
		s := channel.WithBreaker(b, fakeSender{err: pe})
		_, err := s.Send(context.Background(), channel.Message{})
		require.Equal(t, pe.Class(), channel.ClassOf(err))
	}
	require.Equal(t, breaker.StateClosed, b.State(breaker.Provider("twilio")))

	// A transient failure trips it (ConsecutiveFailures 1); then calls fail fast, unavailable.
	s := channel.WithBreaker(b, fakeSender{err: &provider.Error{Provider: "twilio", Retryable: true}})
	_, err = s.Send(context.Background(), channel.Message{})
	require.Equal(t, channel.Transient, channel.ClassOf(err))
	require.Equal(t, breaker.StateOpen, b.State(breaker.Provider("twilio")))
	calls := 0
	s = channel.WithBreaker(b, fakeSender{calls: &calls})
	_, err = s.Send(context.Background(), channel.Message{})
	require.Equal(t, channel.Unavailable, channel.ClassOf(err))
	require.ErrorIs(t, err, breaker.ErrOpen)
	var ce *provider.Error
	require.True(t, errors.As(err, &ce))
	require.Equal(t, channel.CodeCircuitOpen, ce.Code)
	require.Zero(t, calls)
}

// Do guards connection calls the same way.
func TestDoOpensPerConnection(t *testing.T) {
	t.Parallel()
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 3}, nil)
	require.NoError(t, err)
	var got []breaker.Transition
	b.OnChange(func(tr breaker.Transition) { got = append(got, tr) })
	boom := errors.New("HTTP 502")
	name := breaker.Connection("60000000-0000-4000-8000-000000000002")
	for range 3 {
		require.ErrorIs(t, b.Do(name, func() error { return boom }), boom)
	}
	require.ErrorIs(t, b.Do(name, func() error { t.Fatal("called while open"); return nil }), breaker.ErrOpen)
	require.Len(t, got, 1)
	require.Equal(t, breaker.StateOpen, got[0].To)
	require.Equal(t, 3, got[0].ConsecutiveFailures)
	require.Equal(t, "HTTP 502", got[0].LastError)
	// A cancelled call is not counted: another connection's breaker is unaffected too.
	other := breaker.Connection("60000000-0000-4000-8000-000000000001")
	for range 5 {
		_ = b.Do(other, func() error { return context.Canceled })
	}
	require.Equal(t, breaker.StateClosed, b.State(other))
}

func TestBreakerConfigRefusesBadValues(t *testing.T) {
	t.Parallel()
	_, err := breaker.New(breaker.Config{FailureRatio: 1.5}, nil)
	require.ErrorContains(t, err, "FailureRatio")
	_, err = breaker.New(breaker.Config{OpenTimeout: -time.Second}, nil)
	require.ErrorContains(t, err, "OpenTimeout")
}

type fakeSender struct {
	err   error
	calls *int
}

func (fakeSender) Provider() string { return "twilio" }

func (f fakeSender) Send(context.Context, channel.Message) (channel.Result, error) {
	if f.calls != nil {
		*f.calls++
	}
	return channel.Result{Provider: "twilio"}, f.err
}

// DoIf counts only what the caller calls an outage; a refusal by the open breaker says how long
// until it lets a probe through, so a job can snooze that long.
func TestDoIfCountsOnlyOutagesAndSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, OpenTimeout: time.Minute}, nil)
	require.NoError(t, err)
	name := breaker.Endpoint("70000000-0000-4000-8000-000000000009")
	limited, down := errors.New("HTTP 429"), errors.New("HTTP 503")
	isOutage := func(err error) bool { return errors.Is(err, down) }
	for range 5 {
		require.ErrorIs(t, b.DoIf(name, func() error { return limited }, isOutage), limited)
	}
	require.Equal(t, breaker.StateClosed, b.State(name), "rate limits are no outage")
	for range 2 {
		require.ErrorIs(t, b.DoIf(name, func() error { return down }, isOutage), down)
	}
	require.Equal(t, breaker.StateOpen, b.State(name))
	err = b.DoIf(name, func() error { t.Fatal("called while open"); return nil }, isOutage)
	var open *breaker.OpenError
	require.ErrorAs(t, err, &open)
	require.ErrorIs(t, err, breaker.ErrOpen)
	require.Equal(t, name, open.Breaker)
	require.LessOrEqual(t, open.RetryAfter, time.Minute)
	require.Greater(t, open.RetryAfter, 50*time.Second, "the rest of the open period")
}
