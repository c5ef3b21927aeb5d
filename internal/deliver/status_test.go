package deliver_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/event"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/route"
)

// webhook stores a verified provider callback in the inbox, as the ingress does, and hands
// its webhook.received event to the status sink, as the replication hand-off does.
func (e *env) webhook(t *testing.T, source, providerEventID string, payload map[string]any) string {
	t.Helper()
	ctx := context.Background()
	body, err := json.Marshal(payload)
	require.NoError(t, err)
	var id string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `insert into vendorhub.webhook_inbox (source, provider_event_id, payload)
values ($1, $2, $3) returning id::text`, source, providerEventID, body).Scan(&id))
	e.handOffInbox(t, id, source)
	return id
}

func (e *env) handOffInbox(t *testing.T, inboxID, source string) {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"inbox_id": inboxID, "source": source})
	ev := route.Routed{Event: event.Event{Envelope: event.Envelope{Type: event.WebhookReceived,
		Subject: event.Subject{Table: "webhook_inbox", ID: inboxID}, Data: data},
		Key: event.Key{CommitLSN: 0x9000 + keys.Add(1)}}}
	nt.HandOff(t, e.db.Pool, e.status, ev)
}

func (e *env) inboxDone(t *testing.T, inboxID string) (processed bool, lastErr string) {
	t.Helper()
	var le *string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `select processed_at is not null, last_error from vendorhub.webhook_inbox where id = $1`,
		inboxID).Scan(&processed, &le))
	if le != nil {
		lastErr = *le
	}
	return processed, lastErr
}

func TestStatusCallbacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	u := nt.NewUser(t, e.db.Pool, nt.User{Email: "open@example.com"})
	n := e.notify(t, u.ID, "booking")
	e.waitFor(t, n, has("email", "sent"))
	id := e.resend.Sent()[0].ID
	ev := func(typ string) map[string]any {
		return map[string]any{"type": typ, "created_at": time.Now().UTC().Format(time.RFC3339), "data": map[string]any{"email_id": id}}
	}
	e.webhook(t, "resend", id+":delivered", ev("email.delivered"))
	e.waitFor(t, n, has("email", "delivered"))
	e.webhook(t, "resend", id+":opened", ev("email.opened"))
	e.waitFor(t, n, has("email", "opened"))
	// A late, out-of-order "delivered" never moves "opened" back.
	late := e.webhook(t, "resend", id+":delivered-late", ev("email.delivered"))
	require.Eventually(t, func() bool { p, _ := e.inboxDone(t, late); return p }, 10*time.Second, 20*time.Millisecond)
	_, note := e.inboxDone(t, late)
	require.Contains(t, note, "no delivery moved")
	require.Equal(t, "opened", e.deliveries(t, n)[0].Status)

	// The same inbox row handed over twice (a replay) is applied once: one job.
	e.handOffInbox(t, late, "resend")
	require.Equal(t, 1, nt.Count(t, e.db.Pool, `select count(*) from river.river_job where kind = 'deliver.status' and args->>'inbox_id' = $1`, late))
}

// TestStatusCallbackBadInput: unusable callbacks are kept in the inbox with the reason;
// nothing else changes and nothing is retried forever.
func TestStatusCallbackBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	cases := []struct {
		source, id string
		payload    map[string]any
		want       string
	}{
		{"resend", "r1", map[string]any{"hello": "world"}, "not a Resend event"},
		{"resend", "r2", map[string]any{"type": "email.bounced", "data": map[string]any{}}, "without data.email_id"},
		{"twilio", "t1", map[string]any{"MessageStatus": "delivered"}, "no MessageSid"},
		{"twilio", "t2", map[string]any{"MessageSid": "SMunknown", "MessageStatus": "delivered"}, "no delivery moved"},
	}
	for _, c := range cases {
		inbox := e.webhook(t, c.source, c.id, c.payload)
		require.Eventually(t, func() bool { p, _ := e.inboxDone(t, inbox); return p }, 10*time.Second, 20*time.Millisecond)
		_, lastErr := e.inboxDone(t, inbox)
		require.Contains(t, lastErr, c.want)
	}
	require.Zero(t, nt.Count(t, e.db.Pool, `select count(*) from public.deliveries`))
}
