package channel

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"time"

	"github.com/resend/resend-go/v2"

	"github.com/wedsync/vendorhub/internal/provider"
)

// ResendConfig configures the Resend email sender.
type ResendConfig struct {
	// APIKey is the Resend API key (env RESEND_API_KEY). Required.
	APIKey string
	// From is the sender, e.g. "vendorhub <notify@example.com>". Required.
	From string
	// BaseURL replaces Resend's API base URL (e.g. a local fake). Defaults to Resend's.
	BaseURL string
	// Timeout bounds one request. Defaults to TimeoutDefault.
	Timeout time.Duration
	// Transport carries the requests. Defaults to http.DefaultTransport.
	Transport http.RoundTripper
}

// Resend sends email with github.com/resend/resend-go/v2, one request per email, with the
// message's IdempotencyKey as Resend's Idempotency-Key: a retry after a crash returns the
// first email's id and sends nothing.
type Resend struct {
	client *resend.Client
	from   string
}

// NewResend builds the Resend sender.
func NewResend(cfg ResendConfig) (*Resend, error) {
	if cfg.APIKey == "" || cfg.From == "" {
		return nil, errors.New("channel: ResendConfig.APIKey and From are required")
	}
	hc := &http.Client{Timeout: cmp.Or(cfg.Timeout, TimeoutDefault), Transport: &captureTransport{base: cfg.Transport}}
	c := resend.NewCustomClient(hc, cfg.APIKey)
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("channel: ResendConfig.BaseURL: %w", err)
		}
		if u.Path == "" || u.Path[len(u.Path)-1] != '/' {
			u.Path += "/" // resend-go resolves "emails" against it
		}
		c.BaseURL = u
	}
	return &Resend{client: c, from: cfg.From}, nil
}

// Provider implements Sender.
func (r *Resend) Provider() string { return "resend" }

// maxIdempotencyKey is Resend's documented key length limit.
const maxIdempotencyKey = 256

// Send implements Sender.
func (r *Resend) Send(ctx context.Context, m Message) (Result, error) {
	res := Result{Provider: r.Provider()}
	if len(m.To) != 1 {
		return res, unreachable("resend", CodeInvalidAddress, errors.New("want exactly one address"))
	}
	if _, err := mail.ParseAddress(m.To[0]); err != nil {
		return res, unreachable("resend", CodeInvalidAddress, err)
	}
	if len(m.IdempotencyKey) > maxIdempotencyKey {
		return res, permanent("resend", "invalid_idempotency_key", errors.New("idempotency key longer than 256"))
	}
	ctx, c := withCapture(ctx)
	out, err := r.client.Emails.SendWithOptions(ctx, &resend.SendEmailRequest{
		From: r.from, To: m.To, Subject: m.Title, Text: m.Body,
	}, &resend.SendEmailOptions{IdempotencyKey: m.IdempotencyKey})
	if err == nil {
		res.ProviderID, res.Accepted = out.Id, 1
		return res, nil
	}
	return res, classifyResend(err, c)
}

// classifyResend is the adapter of resend-go's errors, following Resend's documented errors:
// 429 and 409 concurrent_idempotent_requests wait; 5xx and network errors retry; the rest
// (401/403 keys, 409 invalid_idempotent_request, 400, 422 validation) is permanent. Addresses
// are checked before sending, so a 422 is our bug, not the recipient's.
func classifyResend(err error, c *captured) *provider.Error {
	var body struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(c.body, &body)
	e := provider.FromStatus("resend", "", c.status)
	e.Code, e.Err = body.Name, err
	var rl *resend.RateLimitError
	switch {
	case errors.As(err, &rl):
		e.Retryable, e.RateLimited, e.Code = true, true, "rate_limit_exceeded"
		e.RetryAfter = provider.ParseRetryAfter(rl.RetryAfter, time.Now())
	case c.status == http.StatusConflict && body.Name == "concurrent_idempotent_requests":
		e.Retryable, e.RateLimited = true, true
		e.RetryAfter = provider.RetryAfterHeader(c.header, time.Now())
	case c.status == 0:
		e.Retryable = true // no answer: a network failure or timeout
	}
	return e
}
