package providerfake_test

// The Twilio fake against Twilio's documents:
//   create a Message: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
//                     (form-encoded POST /2010-04-01/Accounts/{AccountSid}/Messages.json, basic
//                     auth, 201 with the Message resource, status "queued", StatusCallback)
//   errors:           https://www.twilio.com/docs/api/errors (body {code, message, more_info,
//                     status}); 21610 https://www.twilio.com/docs/api/errors/21610
//   status callbacks: https://twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks
// and against the real github.com/twilio/twilio-go client through a host-rewriting transport.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go"
	tclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

type rewrite struct{ target *url.URL }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.target.Scheme, r.target.Host
	return http.DefaultTransport.RoundTrip(req)
}

func twilioClient(t *testing.T, f *providerfake.Twilio, token string) *twilio.RestClient {
	t.Helper()
	u, err := url.Parse(f.URL())
	require.NoError(t, err)
	c := &tclient.Client{Credentials: tclient.NewCredentials(f.AccountSID, token), HTTPClient: &http.Client{Transport: rewrite{u}}}
	c.SetAccountSid(f.AccountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Username: f.AccountSID, Password: token, Client: c})
}

func TestTwilioCreateMessageShape(t *testing.T) {
	t.Parallel()
	f := providerfake.NewTwilio("AC0123", "tok")
	defer f.Close()
	c := twilioClient(t, f, "tok")
	p := &openapi.CreateMessageParams{}
	p.SetTo("+447700900123")
	p.SetFrom("+447700900999")
	p.SetBody("Your booking is confirmed")
	p.SetStatusCallback("https://hub.example.com/webhooks/twilio/c1")
	m, err := c.Api.CreateMessage(p)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(*m.Sid, "SM"), "sid SM…")
	require.Equal(t, "queued", *m.Status)
	require.Equal(t, "+447700900123", *m.To)

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/2010-04-01/Accounts/AC0123/Messages.json", reqs[0].Path)
	require.Contains(t, reqs[0].Header.Get("Content-Type"), "application/x-www-form-urlencoded")
	form, err := url.ParseQuery(string(reqs[0].Body))
	require.NoError(t, err)
	require.Equal(t, "Your booking is confirmed", form.Get("Body"))
	require.Equal(t, "https://hub.example.com/webhooks/twilio/c1", form.Get("StatusCallback"))
	require.Equal(t, []providerfake.TwilioMessage{{SID: *m.Sid, To: "+447700900123", From: "+447700900999",
		Body: "Your booking is confirmed", StatusCallback: "https://hub.example.com/webhooks/twilio/c1"}}, f.Sent())
}

func TestTwilioErrorsAsDocumented(t *testing.T) {
	t.Parallel()
	f := providerfake.NewTwilio("AC0123", "tok")
	defer f.Close()
	f.OptOut("+447700900111")
	post := func(user, pass string, form url.Values) (int, http.Header, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, f.URL()+"/2010-04-01/Accounts/AC0123/Messages.json", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m), string(b))
		return resp.StatusCode, resp.Header, m
	}
	good := url.Values{"To": {"+447700900123"}, "From": {"+447700900999"}, "Body": {"hi"}}
	for _, tc := range []struct {
		pass   string
		form   url.Values
		status int
		code   float64
	}{
		{"wrong", good, 401, providerfake.TwilioAuthenticate},
		{"tok", url.Values{"From": {"+447700900999"}, "Body": {"hi"}}, 400, providerfake.TwilioMissingTo},
		{"tok", url.Values{"To": {"07700 900123"}, "From": {"+447700900999"}, "Body": {"hi"}}, 400, providerfake.TwilioInvalidTo},
		{"tok", url.Values{"To": {"+447700900111"}, "From": {"+447700900999"}, "Body": {"hi"}}, 400, providerfake.TwilioUnsubscribed},
	} {
		status, _, m := post("AC0123", tc.pass, tc.form)
		require.Equal(t, tc.status, status, tc.form)
		require.Equal(t, tc.code, m["code"])
		require.EqualValues(t, tc.status, m["status"])
		require.Equal(t, "https://www.twilio.com/docs/errors/"+jsonNum(m["code"]), m["more_info"])
		require.NotEmpty(t, m["message"])
	}
	f.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second})
	status, h, m := post("AC0123", "tok", good)
	require.Equal(t, 429, status)
	require.EqualValues(t, providerfake.TwilioTooManyRequests, m["code"])
	require.Equal(t, "3", h.Get("Retry-After"))
	require.Empty(t, f.Sent())

	// The SDK reports the documented code.
	c := twilioClient(t, f, "tok")
	p := &openapi.CreateMessageParams{}
	p.SetTo("+447700900111")
	p.SetFrom("+447700900999")
	p.SetBody("hi")
	_, err := c.Api.CreateMessage(p)
	var te *tclient.TwilioRestError
	require.ErrorAs(t, err, &te)
	require.Equal(t, providerfake.TwilioUnsubscribed, te.Code)
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
