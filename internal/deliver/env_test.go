package deliver_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/notify"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

func TestMain(m *testing.M) {
	if childMain() {
		return
	}
	pgtest.Main(m)
}

const (
	resendKey    = "re_test_key"
	twilioSID    = "ACtest"
	twilioToken  = "authtoken"
	twilioFrom   = "+15005550006"
	fcmProjectID = "vendorhub-test"
)

// env is a database, the three provider fakes, senders pointed at them, and a started
// River client working the planner's and the delivery workers' jobs.
type env struct {
	db      *pgtest.DB
	fcm     *providerfake.FCM
	resend  *providerfake.Resend
	twilio  *providerfake.Twilio
	planner *notify.Planner
	client  *river.Client[pgx.Tx]
	status  *deliver.StatusSink
	slot    string
}

var keys atomic.Uint64

func newEnv(t *testing.T, cfg deliver.Config) *env {
	t.Helper()
	e := &env{db: pgtest.NewDB(t), fcm: providerfake.NewFCM(), resend: providerfake.NewResend(resendKey),
		twilio: providerfake.NewTwilio(twilioSID, twilioToken)}
	t.Cleanup(e.fcm.Close)
	t.Cleanup(e.resend.Close)
	t.Cleanup(e.twilio.Close)
	ctx := context.Background()
	// A test_decoding slot shows what the workers emit (integration.failed).
	e.slot = fmt.Sprintf("deliver_test_%d", keys.Add(1))
	_, err := e.db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'test_decoding')`, e.slot)
	require.NoError(t, err)
	cfg.Senders = senders(t, e.fcm.URL(), e.resend.URL(), e.twilio.URL())
	cfg.RetryBase = max(cfg.RetryBase, 10*time.Millisecond)
	cfg.RetryMax = max(cfg.RetryMax, 50*time.Millisecond)
	workers := river.NewWorkers()
	w, err := deliver.NewWorker(e.db.Pool, cfg)
	require.NoError(t, err)
	river.AddWorker(workers, w)
	river.AddWorker(workers, deliver.NewStatusWorker(e.db.Pool, w))
	dw, err := notify.NewDigestWorker(e.db.Pool, notify.Config{})
	require.NoError(t, err)
	river.AddWorker(workers, dw)
	e.client = nt.River(t, e.db.Pool, workers)
	e.planner, err = notify.NewPlanner(notify.Config{}, e.client)
	require.NoError(t, err)
	e.status = deliver.NewStatusSink(e.client)
	return e
}

func senders(t testing.TB, fcmURL, resendURL, twilioURL string) map[channel.Kind]channel.Sender {
	t.Helper()
	push, err := channel.NewFCM(context.Background(), channel.FCMConfig{ProjectID: fcmProjectID, Endpoint: fcmURL})
	require.NoError(t, err)
	email, err := channel.NewResend(channel.ResendConfig{APIKey: resendKey, From: "vendorhub <notify@vendorhub.test>", BaseURL: resendURL})
	require.NoError(t, err)
	sms, err := channel.NewTwilio(channel.TwilioConfig{AccountSID: twilioSID, AuthToken: twilioToken, From: twilioFrom,
		StatusCallback: "https://hub.example.com/webhooks/twilio/default", BaseURL: twilioURL})
	require.NoError(t, err)
	return map[channel.Kind]channel.Sender{channel.Push: push, channel.Email: email, channel.SMS: sms}
}

// notify plans one booking update (category booking, or the given one) for user and
// returns the notification's id.
func (e *env) notify(t *testing.T, user string, category string) string {
	t.Helper()
	k := event.Key{CommitLSN: 0x1000 + keys.Add(1), Index: 0}
	ev := nt.Event(k, time.Now(), event.BookingUpdated, category, nil, nil, &user, map[string]any{"status": "booked"})
	nt.HandOff(t, e.db.Pool, e.planner, ev)
	var id string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `select id::text from public.notifications where user_id = $1 and event_key = $2`,
		user, k.String()).Scan(&id))
	return id
}

type delivery struct {
	Channel, Provider, Status string
	Attempt                   int
	Code, ProviderID          string
}

func (e *env) deliveries(t *testing.T, notification string) []delivery {
	t.Helper()
	rows, err := e.db.Pool.Query(context.Background(), `
select channel, provider, status, attempt, coalesce(error_code, ''), coalesce(provider_id, '')
from public.deliveries where notification_id = $1 order by created_at, attempt`, notification)
	require.NoError(t, err)
	d, err := pgx.CollectRows(rows, pgx.RowToStructByPos[delivery])
	require.NoError(t, err)
	return d
}

// waitFor polls the deliveries of notification until want holds.
func (e *env) waitFor(t *testing.T, notification string, want func([]delivery) bool) []delivery {
	t.Helper()
	var last []delivery
	require.Eventually(t, func() bool {
		last = e.deliveries(t, notification)
		return want(last)
	}, 20*time.Second, 20*time.Millisecond, "deliveries: %+v", &last)
	return last
}

func has(ch, status string) func([]delivery) bool {
	return func(ds []delivery) bool {
		for _, d := range ds {
			if d.Channel == ch && d.Status == status {
				return true
			}
		}
		return false
	}
}

// emitted counts the events of type typ written to the WAL since the env started.
func (e *env) emitted(t *testing.T, typ string) int {
	t.Helper()
	return nt.Count(t, e.db.Pool, `select count(*) from pg_logical_slot_peek_changes($1, null, null)
where data like 'message:%' and data like '%"type": "' || $2 || '"%'`, e.slot, typ)
}

func (e *env) jobState(t *testing.T, notification, ch string) string {
	t.Helper()
	var s string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `select state from river.river_job
where kind = 'notify.deliver' and args->>'notification_id' = $1 and args->>'channel' = $2`, notification, ch).Scan(&s))
	return s
}
