package sidecar_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/sidecar"
)

// TestNotifyStage runs the sidecar with the notify stage: a message committed in SQL reaches
// the FCM and Resend fakes through the WAL, the planner and the delivery workers; SMS, which
// has no credentials here, lands in the dev mailbox.
func TestNotifyStage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	fcm, resend := providerfake.NewFCM(), providerfake.NewResend("re_stage")
	t.Cleanup(fcm.Close)
	t.Cleanup(resend.Close)
	cfg := sidecar.Config{DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0",
		Stages:      []string{"notify"},
		Notify:      sidecar.NotifyConfig{FCMProjectID: "vendorhub-stage", FCMEndpoint: fcm.URL(), ResendAPIKey: "re_stage", ResendBaseURL: resend.URL()},
		Replication: replication.Config{Slot: "sc_notify_" + db.Name[len(db.Name)-8:], StatusInterval: time.Second, ReceiveTimeout: 5 * time.Second, HeartbeatInterval: time.Second}}
	s, err := sidecar.New(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-s.Stream().Leading(): // the slot exists: what commits now is streamed
	case err := <-done:
		t.Fatalf("sidecar stopped: %v", err)
	}

	sender := nt.NewUser(t, db.Pool, nt.User{})
	push := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	email := nt.NewUser(t, db.Pool, nt.User{Email: "stage@example.com"})
	sms := nt.NewUser(t, db.Pool, nt.User{Phone: "+14155550199", Prefs: map[string]bool{"new_message/sms": true}})
	wed := nt.Wedding(t, db.Pool)
	conv := nt.Conversation(t, db.Pool, wed, sender.ID, push.ID, email.ID, sms.ID)
	_, err = db.Pool.Exec(ctx, `insert into public.messages (conversation_id, sender_id, body) values ($1, $2, 'Ceremony at 4pm')`, conv, sender.ID)
	require.NoError(t, err)

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	_, err = fcm.WaitFor(wctx, 1)
	require.NoError(t, err, "no push reached FCM")
	_, err = resend.WaitFor(wctx, 1)
	require.NoError(t, err, "no email reached Resend")
	// The recorder sees a request on arrival; the fakes store what they accepted as they answer.
	require.Eventually(t, func() bool { return len(fcm.Sent()) == 1 && len(resend.Sent()) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, push.Tokens[0], fcm.Sent()[0].Token)
	require.Equal(t, "Ceremony at 4pm", fcm.Sent()[0].Body)
	require.Equal(t, []string{"stage@example.com"}, resend.Sent()[0].To)
	require.Eventually(t, func() bool {
		return nt.Count(t, db.Pool, `select count(*) from vendorhub.dev_mailbox where channel = 'sms' and recipient = '+14155550199'`) == 1
	}, 30*time.Second, 50*time.Millisecond, "SMS without credentials goes to the dev mailbox")
	require.Eventually(t, func() bool {
		return nt.Count(t, db.Pool, `select count(*) from public.deliveries where status = 'sent'`) == 3
	}, 30*time.Second, 50*time.Millisecond, "every attempt is recorded")
	require.Zero(t, nt.Count(t, db.Pool, `select count(*) from public.notifications where user_id = $1`, sender.ID))
}

func TestNotifyConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"FCM_PROJECT_ID": "p", "RESEND_API_KEY": "re_x", "TWILIO_ACCOUNT_SID": "ACx", "TWILIO_AUTH_TOKEN": "tok",
		"TWILIO_FROM": "+15005550006", "VENDORHUB_NOTIFY_WINDOW": "30s", "VENDORHUB_NOTIFY_WORKERS": "7"}
	cfg, err := sidecar.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, "p", cfg.Notify.FCMProjectID)
	require.Equal(t, "re_x", cfg.Notify.ResendAPIKey)
	require.Equal(t, "+15005550006", cfg.Notify.TwilioFrom)
	require.Equal(t, 30*time.Second, cfg.Notify.Window)
	require.Equal(t, 7, cfg.Notify.Workers)
	_, err = sidecar.FromEnv(func(k string) string { return map[string]string{"VENDORHUB_NOTIFY_MAX_WAIT": "soon"}[k] })
	require.ErrorContains(t, err, "VENDORHUB_NOTIFY_MAX_WAIT")
}

// A Twilio sender without its token is refused at start, naming the variables.
func TestNotifyStageRefusesPartialTwilio(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	cfg := sidecar.Config{DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0", Stages: []string{"notify"},
		Notify: sidecar.NotifyConfig{TwilioAccountSID: "ACx", TwilioFrom: "+15005550006"}}
	_, err := sidecar.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "TWILIO_AUTH_TOKEN")
}
