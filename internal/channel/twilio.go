package channel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/wedsync/vendorhub/internal/provider"
)

// TwilioConfig configures the Twilio SMS sender.
type TwilioConfig struct {
	// AccountSID is the account SID (env TWILIO_ACCOUNT_SID). Required.
	AccountSID string
	// AuthToken is the auth token (env TWILIO_AUTH_TOKEN). Required.
	AuthToken string
	// From is the sending number in E.164, or a Messaging Service SID "MG…" (env
	// TWILIO_FROM). Required.
	From string
	// StatusCallback is the public URL of vendorhub's Twilio webhook
	// (https://…/webhooks/twilio/<connection>). Defaults to none (no status callbacks).
	StatusCallback string
	// BaseURL replaces https://api.twilio.com (e.g. a local fake). Defaults to Twilio's.
	BaseURL string
	// Timeout bounds one request. Defaults to TimeoutDefault.
	Timeout time.Duration
	// Transport carries the requests. Defaults to http.DefaultTransport.
	Transport http.RoundTripper
}

// Twilio sends SMS with github.com/twilio/twilio-go (Messages.json). Twilio has no
// idempotency key: a send whose outcome is unknown (timeout after the request left) may
// repeat on retry.
type Twilio struct {
	cfg                        TwilioConfig
	rewriteScheme, rewriteHost string
}

// NewTwilio builds the Twilio sender.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.From == "" {
		return nil, errors.New("channel: TwilioConfig.AccountSID, AuthToken and From are required")
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, TimeoutDefault)
	t := &Twilio{cfg: cfg}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("channel: TwilioConfig.BaseURL %q: want scheme://host", cfg.BaseURL)
		}
		t.rewriteScheme, t.rewriteHost = u.Scheme, u.Host
	}
	return t, nil
}

// Provider implements Sender.
func (t *Twilio) Provider() string { return "twilio" }

// Send implements Sender. twilio-go sends with context.Background(); each call gets its
// own client whose transport puts ctx back and captures Retry-After.
func (t *Twilio) Send(ctx context.Context, m Message) (Result, error) {
	res := Result{Provider: t.Provider()}
	if len(m.To) != 1 || m.To[0] == "" {
		return res, unreachable("twilio", CodeInvalidNumber, errors.New("want exactly one number"))
	}
	c := &captured{}
	hc := &http.Client{Timeout: t.cfg.Timeout, Transport: &captureTransport{base: t.cfg.Transport, fixed: c, ctx: ctx,
		rewriteScheme: t.rewriteScheme, rewriteHost: t.rewriteHost},
		// Twilio's default client doesn't follow redirects either.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	bc := &twclient.Client{Credentials: twclient.NewCredentials(t.cfg.AccountSID, t.cfg.AuthToken), HTTPClient: hc}
	bc.SetAccountSid(t.cfg.AccountSID)
	p := &twapi.CreateMessageParams{}
	p.SetTo(m.To[0]).SetBody(smsText(m))
	if len(t.cfg.From) > 2 && t.cfg.From[:2] == "MG" {
		p.SetMessagingServiceSid(t.cfg.From)
	} else {
		p.SetFrom(t.cfg.From)
	}
	if t.cfg.StatusCallback != "" {
		p.SetStatusCallback(t.cfg.StatusCallback)
	}
	msg, err := twapi.NewApiServiceWithClient(bc).CreateMessage(p)
	if err != nil {
		return res, classifyTwilio(err, c)
	}
	if msg.Sid != nil {
		res.ProviderID = *msg.Sid
	}
	res.Accepted = 1
	return res, nil
}

// smsText is the SMS body: "title: body", cut to 1,600 characters (Twilio's limit).
func smsText(m Message) string {
	s := m.Body
	if m.Title != "" {
		s = m.Title + ": " + m.Body
	}
	if r := []rune(s); len(r) > 1600 {
		s = string(r[:1599]) + "…"
	}
	return s
}

// classifyTwilio is the adapter of twilio-go's errors, following Twilio's documented error
// codes; the status and Retry-After come from the captured response (twilio-go drops them).
func classifyTwilio(err error, c *captured) *provider.Error {
	status := c.status
	var te *twclient.TwilioRestError
	if errors.As(err, &te) && status == 0 {
		status = te.Status
	}
	e := provider.FromStatus("twilio", "", status)
	e.Err = err
	if status == 0 {
		e.Retryable = true // no answer: a network failure or timeout
	}
	if te != nil {
		e.Code = strconv.Itoa(te.Code)
		switch te.Code {
		case 21610, 21211, 21614, 21635, 30006, 21612, 21408:
			// STOP, invalid / non-mobile / landline number, unreachable route or region.
			e.Unreachable, e.Retryable, e.RateLimited = true, false, false
		case 20429:
			e.Retryable, e.RateLimited = true, true
		case 30003:
			e.Retryable, e.RateLimited = true, false
		}
	}
	if e.RateLimited {
		e.RetryAfter = provider.RetryAfterHeader(c.header, time.Now())
	}
	return e
}
