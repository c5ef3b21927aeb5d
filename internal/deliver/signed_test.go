package deliver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/notify"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// Documented signature examples, used as fixtures.
const (
	// Svix's "verifying webhooks manually" example (Resend signs with Svix).
	svixSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	svixMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	svixTimestamp = 1614265330
	svixBody      = `{"test": 2432232314}`
	svixSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	// Twilio's webhook security example.
	twilioDocToken = "12345"
	twilioDocURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	twilioDocSig   = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	publicURL      = "https://hub.example.com"
)

var twilioDocParams = url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
	"From": {"+12349013030"}, "To": {"+18005551212"}}

// ingress is the webhook helper's ingress with the hub's Resend and Twilio accounts, on a
// clock the test moves.
type ingress struct {
	srv *httptest.Server
	now atomic.Int64
}

func newIngress(t *testing.T, e *env) *ingress {
	t.Helper()
	in := &ingress{}
	in.now.Store(time.Now().Unix())
	k, err := secret.ParseKeyring("t1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	require.NoError(t, err)
	buf := audit.NewBuffer(e.db.Pool, audit.BufferConfig{FlushInterval: 10 * time.Millisecond})
	h, err := webhook.New(e.db.Pool, k, buf, webhook.Config{PublicURL: publicURL,
		Now: func() time.Time { return time.Unix(in.now.Load(), 0) },
		SystemConnections: []webhook.SystemConnection{
			{Source: webhook.SourceResend, Name: "default", Secret: svixSecret},
			{Source: webhook.SourceTwilio, Name: "default", Secret: twilioDocToken}}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, h)
	in.srv = httptest.NewServer(mux)
	t.Cleanup(func() { in.srv.Close(); h.Close(); buf.Close() })
	return in
}

func (in *ingress) post(t *testing.T, source, contentType string, h http.Header, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.srv.URL+"/webhooks/"+source+"/default", strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func svixHeaders(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", strconv.FormatInt(ts, 10))
	h.Set("svix-signature", sig)
	return h
}

// handOffNewInbox hands every new inbox row to the status sink, as the pipeline would.
func (e *env) handOffNewInbox(t *testing.T, seen map[string]bool) int {
	t.Helper()
	rows, err := e.db.Pool.Query(context.Background(), `select id::text, source from vendorhub.webhook_inbox order by received_at`)
	require.NoError(t, err)
	type row struct{ id, source string }
	var fresh []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.id, &r.source))
		if !seen[r.id] {
			seen[r.id] = true
			fresh = append(fresh, r)
		}
	}
	require.NoError(t, rows.Err())
	for _, r := range fresh {
		e.handOffInbox(t, r.id, r.source)
	}
	return len(fresh)
}

// TestSignedStatusWebhooks sends provider callbacks through the real ingress: valid ones
// update deliveries; invalid and stale signatures get 401 and an audit entry and change
// nothing; replays are absorbed.
func TestSignedStatusWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deliver.Config{})
	in := newIngress(t, e)
	seen := map[string]bool{}
	ctx := context.Background()

	// Svix's documented example verifies at its own timestamp.
	in.now.Store(svixTimestamp)
	require.Equal(t, 200, in.post(t, "resend", "application/json", svixHeaders(svixMsgID, svixTimestamp, svixSignature), svixBody))
	// Replayed: the same message id is stored once.
	require.Equal(t, 200, in.post(t, "resend", "application/json", svixHeaders(svixMsgID, svixTimestamp, svixSignature), svixBody))
	require.Equal(t, 1, e.handOffNewInbox(t, seen))
	// Invalid: the body was altered.
	require.Equal(t, 401, in.post(t, "resend", "application/json", svixHeaders(svixMsgID, svixTimestamp, svixSignature), `{"test": 2432232315}`))
	// Stale: six minutes later the same request is refused (tolerance 5 min).
	in.now.Store(svixTimestamp + 6*60)
	require.Equal(t, 401, in.post(t, "resend", "application/json", svixHeaders("msg_other", svixTimestamp, svixSignature), svixBody))
	require.Zero(t, e.handOffNewInbox(t, seen), "refused requests store nothing")
	require.Eventually(t, func() bool {
		return nt.Count(t, e.db.Pool, `select count(*) from vendorhub.audit_log where action = $1`, audit.ActionWebhookRejected) == 2
	}, 5*time.Second, 10*time.Millisecond, "both refusals audited")

	// Twilio's documented example verifies with Twilio's own algorithm.
	require.NoError(t, signature.VerifyTwilio(twilioDocToken, twilioDocURL, []byte(twilioDocParams.Encode()), twilioDocSig))
	require.Error(t, signature.VerifyTwilio(twilioDocToken, twilioDocURL, []byte(twilioDocParams.Encode()), "1/KCTR6DLpKmkAf8muzZqo1nDgQ="))

	// Real status callbacks for a real email and SMS.
	in.now.Store(time.Now().Unix())
	u := nt.NewUser(t, e.db.Pool, nt.User{Email: "signed@example.com", Phone: "+14155550105",
		Prefs: map[string]bool{"booking/email": false, "booking/sms": true}})
	sms := e.notify(t, u.ID, notify.CategoryBooking)
	e.waitFor(t, sms, has("sms", "sent"))
	sid := e.twilio.Sent()[0].SID
	form := url.Values{"MessageSid": {sid}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30006"}, "AccountSid": {twilioSID}}
	th := http.Header{}
	th.Set(signature.TwilioHeader, signature.SignTwilio(twilioDocToken, publicURL+"/webhooks/twilio/default", form))
	bad := http.Header{}
	bad.Set(signature.TwilioHeader, signature.SignTwilio("not-the-token", publicURL+"/webhooks/twilio/default", form))
	require.Equal(t, 401, in.post(t, "twilio", "application/x-www-form-urlencoded", bad, form.Encode()))
	require.Equal(t, 200, in.post(t, "twilio", "application/x-www-form-urlencoded", th, form.Encode()))
	// Twilio signatures carry no timestamp: a replay a day later is absorbed by the inbox key.
	in.now.Add(86400)
	require.Equal(t, 200, in.post(t, "twilio", "application/x-www-form-urlencoded", th, form.Encode()))
	require.Equal(t, 1, e.handOffNewInbox(t, seen))
	ds := e.waitFor(t, sms, has("sms", "failed"))
	require.Equal(t, "30006", ds[0].Code)
	require.Equal(t, 1, nt.Count(t, e.db.Pool, `select count(*) from public.notification_settings where user_id = $1 and phone_invalid_at is not null`, u.ID),
		"30006 (landline or unreachable carrier) marks the number")

	// A Resend event signed with the hub's secret, at the current time.
	email := nt.NewUser(t, e.db.Pool, nt.User{Email: "open2@example.com"})
	n := e.notify(t, email.ID, notify.CategoryBooking)
	e.waitFor(t, n, has("email", "sent"))
	var emailID string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `select provider_id from public.deliveries where notification_id = $1`, n).Scan(&emailID))
	body := `{"type":"email.delivered","created_at":"2026-11-25T12:00:00.000Z","data":{"email_id":"` + emailID + `","to":["open2@example.com"]}}`
	key, err := signature.ParseSecret(svixSecret)
	require.NoError(t, err)
	h := http.Header{}
	signature.SetHeaders(h, signature.SvixHeaders, [][]byte{key}, "msg_delivered_1", time.Unix(in.now.Load(), 0), []byte(body))
	require.Equal(t, 200, in.post(t, "resend", "application/json", h, body))
	require.Equal(t, 1, e.handOffNewInbox(t, seen))
	e.waitFor(t, n, has("email", "delivered"))
}
