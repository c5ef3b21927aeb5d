package deliver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/notify"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

// TestFallbackPushEmailSMS: every token is dead, so push falls back to email; the email
// hard-bounces (Resend webhook), so it falls back to SMS; Twilio then reports delivery.
func TestFallbackPushEmailSMS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	u := nt.NewUser(t, e.db.Pool, nt.User{Devices: 2, Email: "couple@example.com", Phone: "+14155550101",
		Prefs: map[string]bool{"booking/sms": true}})
	e.fcm.Unregister(u.Tokens...)
	n := e.notify(t, u.ID, notify.CategoryBooking)

	ds := e.waitFor(t, n, has("email", "sent"))
	require.Equal(t, "push", ds[0].Channel)
	require.Equal(t, "failed", ds[0].Status)
	require.Equal(t, "UNREGISTERED", ds[0].Code)
	require.Equal(t, "resend", ds[1].Provider)
	sent := e.resend.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, []string{"couple@example.com"}, sent[0].To)
	require.Equal(t, ds[1].ProviderID, sent[0].ID)
	require.Equal(t, deliver.IdempotencyKey(eventKeyOf(t, e, n), u.ID, "email"), sent[0].IdempotencyKey)
	require.Zero(t, nt.Count(t, e.db.Pool, `select count(*) from public.devices where user_id = $1 and enabled`, u.ID),
		"both dead tokens disabled")
	require.Equal(t, 2, nt.Count(t, e.db.Pool, `select count(*) from public.devices where user_id = $1 and disabled_reason = 'UNREGISTERED'`, u.ID))

	// Resend reports a hard bounce.
	e.webhook(t, "resend", sent[0].ID+":bounced", map[string]any{"type": "email.bounced", "created_at": time.Now().UTC().Format(time.RFC3339),
		"data": map[string]any{"email_id": sent[0].ID, "to": []string{"couple@example.com"},
			"bounce": map[string]any{"type": "Permanent", "subType": "General", "message": "mailbox does not exist"}}})
	ds = e.waitFor(t, n, has("sms", "sent"))
	require.Equal(t, "failed", ds[1].Status)
	require.Equal(t, "bounced", ds[1].Code)
	require.Equal(t, 1, nt.Count(t, e.db.Pool, `select count(*) from public.notification_settings where user_id = $1 and email_bounced_at is not null`, u.ID))
	sms := e.twilio.Sent()
	require.Len(t, sms, 1)
	require.Equal(t, "+14155550101", sms[0].To)
	require.Equal(t, "Booking updated: booked", sms[0].Body)

	// Twilio's status callback moves the SMS to delivered.
	e.webhook(t, "twilio", sms[0].SID+":delivered", map[string]any{"MessageSid": sms[0].SID, "MessageStatus": "delivered",
		"AccountSid": twilioSID, "To": sms[0].To})
	e.waitFor(t, n, has("sms", "delivered"))
	require.Zero(t, e.emitted(t, "integration.failed"), "fallbacks are not failures")
}

func eventKeyOf(t *testing.T, e *env, notification string) string {
	t.Helper()
	var k string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `select event_key from public.notifications where id = $1`, notification).Scan(&k))
	return k
}

// TestDeadTokenDisabledOnPartialSuccess: one live token is enough; the dead one is disabled.
func TestDeadTokenDisabledOnPartialSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	u := nt.NewUser(t, e.db.Pool, nt.User{Devices: 2, Email: "x@example.com"})
	e.fcm.Unregister(u.Tokens[1])
	n := e.notify(t, u.ID, notify.CategoryBooking)
	ds := e.waitFor(t, n, has("push", "sent"))
	require.Len(t, ds, 1, "no fallback when a device was reached")
	require.Len(t, e.fcm.Sent(), 1)
	require.Equal(t, u.Tokens[0], e.fcm.Sent()[0].Token)
	var enabled []bool
	rows, err := e.db.Pool.Query(context.Background(), `select enabled from public.devices where user_id = $1 order by token`, u.ID)
	require.NoError(t, err)
	for rows.Next() {
		var b bool
		require.NoError(t, rows.Scan(&b))
		enabled = append(enabled, b)
	}
	require.Equal(t, []bool{true, false}, enabled)
	require.Empty(t, e.resend.Sent())
}

// TestSTOP: Twilio answers 21610; the number is opted out, and later notifications plan
// around it.
func TestSTOP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	u := nt.NewUser(t, e.db.Pool, nt.User{Phone: "+14155550102", Email: "stop@example.com",
		Prefs: map[string]bool{"day_of_change/push": false}})
	e.twilio.OptOut("+14155550102")
	// Critical: push (no device), email, SMS are all in play; email goes first here, so make
	// it fail permanently to reach SMS.
	e.resend.Push(providerfake.Fault{Status: 422, Body: `{"statusCode":422,"name":"validation_error","message":"Invalid from"}`})
	n := e.notify(t, u.ID, notify.CategoryDayOfChange)
	ds := e.waitFor(t, n, has("sms", "failed"))
	require.Equal(t, "21610", ds[len(ds)-1].Code)
	require.Empty(t, e.twilio.Sent())
	require.Equal(t, 1, nt.Count(t, e.db.Pool, `select count(*) from public.notification_settings where user_id = $1 and sms_opted_out_at is not null`, u.ID))

	// The next critical notification no longer tries SMS.
	n2 := e.notify(t, u.ID, notify.CategoryDayOfChange)
	e.waitFor(t, n2, has("email", "sent"))
	require.Zero(t, nt.Count(t, e.db.Pool, `select count(*) from river.river_job where args->>'notification_id' = $1 and args->>'channel' = 'sms'`, n2))
	require.Zero(t, nt.Count(t, e.db.Pool, `select count(*) from river.river_job where args->>'notification_id' = $1 and args @> '{"rest":["sms"]}'`, n2))
}

// TestRetryAfter429: Resend answers 429 with Retry-After: 1; the job snoozes (not an
// attempt) and the same email goes out after at least a second.
func TestRetryAfter429(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	u := nt.NewUser(t, e.db.Pool, nt.User{Email: "rl@example.com"})
	e.resend.Push(providerfake.Fault{Status: 429, RetryAfter: time.Second})
	n := e.notify(t, u.ID, notify.CategoryBooking)
	ds := e.waitFor(t, n, has("email", "sent"))
	require.Len(t, ds, 1, "the snoozed attempt's row became the sent row")
	require.Equal(t, 1, ds[0].Attempt, "a snooze is not an attempt")
	reqs := e.resend.Requests()
	require.Len(t, reqs, 2)
	require.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), time.Second, "Retry-After honoured")
	require.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
	require.Len(t, e.resend.Sent(), 1)
}

// TestRetry5xx: FCM answers INTERNAL twice; River retries with backoff; the third attempt
// succeeds. Every attempt has its row.
func TestRetry5xx(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{MaxAttempts: 5})
	u := nt.NewUser(t, e.db.Pool, nt.User{Devices: 1})
	e.fcm.Push(providerfake.FCMFault(providerfake.FCMInternal), providerfake.FCMFault(providerfake.FCMInternal))
	n := e.notify(t, u.ID, notify.CategoryBooking)
	ds := e.waitFor(t, n, has("push", "sent"))
	require.Equal(t, []delivery{
		{Channel: "push", Provider: "fcm", Status: "failed", Attempt: 1, Code: "INTERNAL"},
		{Channel: "push", Provider: "fcm", Status: "failed", Attempt: 2, Code: "INTERNAL"},
		{Channel: "push", Provider: "fcm", Status: "sent", Attempt: 3, ProviderID: e.fcm.Sent()[0].ID},
	}, ds)
	require.Equal(t, "completed", e.jobState(t, n, "push"))
}

// TestLastAttemptGivesUp: Twilio keeps failing; after MaxAttempts the delivery is failed
// and integration.failed is raised once.
func TestLastAttemptGivesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{MaxAttempts: 3})
	u := nt.NewUser(t, e.db.Pool, nt.User{Phone: "+14155550103", Prefs: map[string]bool{"booking/sms": true}})
	e.twilio.Always(providerfake.Fault{Status: 500})
	n := e.notify(t, u.ID, notify.CategoryBooking)
	require.Eventually(t, func() bool { return e.jobState(t, n, "sms") == "cancelled" }, 20*time.Second, 20*time.Millisecond)
	ds := e.deliveries(t, n)
	require.Len(t, ds, 3)
	for i, d := range ds {
		require.Equal(t, i+1, d.Attempt)
		require.Equal(t, "failed", d.Status)
	}
	require.Equal(t, 3, e.twilio.Len())
	require.Equal(t, 1, e.emitted(t, "integration.failed"))
}

// TestPermanentErrorStops: a payload FCM rejects is not retried: one request, the job is
// cancelled, integration.failed is raised, and email takes over.
func TestPermanentErrorStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{MaxAttempts: 5})
	u := nt.NewUser(t, e.db.Pool, nt.User{Devices: 1, Email: "perm@example.com"})
	e.fcm.Push(providerfake.FCMFault(providerfake.FCMInvalidArgument))
	n := e.notify(t, u.ID, notify.CategoryBooking)
	ds := e.waitFor(t, n, has("email", "sent"))
	require.Equal(t, delivery{Channel: "push", Provider: "fcm", Status: "failed", Attempt: 1, Code: "INVALID_ARGUMENT"}, ds[0])
	require.Equal(t, 1, e.fcm.Len(), "no retry")
	// River records a cancel asynchronously (its completer), after the worker's transaction that
	// already queued the email: wait for it.
	require.Eventually(t, func() bool { return e.jobState(t, n, "push") == "cancelled" }, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, nt.Count(t, e.db.Pool, `select count(*) from public.devices where user_id = $1 and enabled`, u.ID),
		"a payload error keeps the token")
	require.Equal(t, 1, e.emitted(t, "integration.failed"))
}

// TestQuietHoursFallbackDeferred: email fails at night, and the SMS fallback waits for the
// end of the recipient's quiet window instead of waking them.
func TestQuietHoursFallbackDeferred(t *testing.T) {
	t.Parallel()
	night := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC) // 01:30 EST, the night New York springs forward
	e := newEnv(t, deliver.Config{Now: func() time.Time { return night }})
	u := nt.NewUser(t, e.db.Pool, nt.User{TZ: "America/New_York", Quiet: "22:00-07:00", Email: "night@example.com", Phone: "+14155550104",
		Prefs: map[string]bool{"booking/sms": true}})
	e.resend.Push(providerfake.Fault{Status: 422, Body: `{"statusCode":422,"name":"validation_error","message":"Invalid from"}`})
	n := e.notify(t, u.ID, notify.CategoryBooking)
	e.waitFor(t, n, has("email", "failed"))
	var scheduled time.Time
	var state string
	require.Eventually(t, func() bool {
		return e.db.Pool.QueryRow(context.Background(), `select scheduled_at, state from river.river_job
where args->>'notification_id' = $1 and args->>'channel' = 'sms'`, n).Scan(&scheduled, &state) == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, time.Date(2026, 3, 8, 11, 0, 0, 0, time.UTC), scheduled.UTC(), "07:00 EDT")
	require.Equal(t, "scheduled", state)
	require.Empty(t, e.twilio.Sent())
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := deliver.NewWorker(nil, deliver.Config{})
	require.ErrorContains(t, err, "Senders")
	_, err = deliver.NewWorker(nil, deliver.Config{Senders: senders(t, "http://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1")})
	require.ErrorContains(t, err, "nil pool")
}

// TestBadJobs: a job naming an unknown channel is cancelled with a clear error; a job whose
// notification is gone completes without sending; neither touches a provider.
func TestBadJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	ctx := context.Background()
	u := nt.NewUser(t, e.db.Pool, nt.User{Devices: 1})
	bad, err := e.client.Insert(ctx, notify.DeliverArgs{NotificationID: "00000000-0000-4000-8000-000000000001", UserID: u.ID, Channel: "fax"}, nil)
	require.NoError(t, err)
	gone, err := e.client.Insert(ctx, notify.DeliverArgs{NotificationID: "00000000-0000-4000-8000-000000000002", UserID: u.ID, Channel: "push"}, nil)
	require.NoError(t, err)
	state := func(id int64) (string, string) {
		var s, errs string
		require.NoError(t, e.db.Pool.QueryRow(ctx, `select state, coalesce(errors[1]->>'error', '') from river.river_job where id = $1`, id).Scan(&s, &errs))
		return s, errs
	}
	require.Eventually(t, func() bool { s, _ := state(bad.Job.ID); return s == "cancelled" }, 10*time.Second, 20*time.Millisecond)
	_, errs := state(bad.Job.ID)
	require.Contains(t, errs, `invalid channel "fax"`)
	require.Eventually(t, func() bool { s, _ := state(gone.Job.ID); return s == "completed" }, 10*time.Second, 20*time.Millisecond)
	require.Zero(t, e.fcm.Len())
	require.Zero(t, nt.Count(t, e.db.Pool, `select count(*) from public.deliveries`))
}
