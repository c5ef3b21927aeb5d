// Package lightblue pushes enquiries into a vendor's Light Blue inbox through Light Blue's
// inbound HTTP POST API (form fields key, type=contact form and the enquiry's fields; the body
// answers a status code: 0 stored, -4 duplicate of an earlier ID/Reference, -3 unsupported type,
// -20 HTTPS required). Every enquiry carries a Reference derived from the hub record, so a
// retried push is recognised by Light Blue as a duplicate and stored once. Light Blue's shoot
// calendar comes back through its password-protected iCalendar feed (package calendar/ical).
package lightblue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
)

// Provider is the provider name in errors, metrics and rate limits.
const Provider = "lightblue"

// Defaults of Client.
const (
	URLDefault     = "https://online.lightbluesoftware.com/api.php"
	TimeoutDefault = 15 * time.Second
)

// ErrBadAPIKey reports an API key Light Blue refuses: the vendor must paste a new one.
var ErrBadAPIKey error = integration.FixedError("lightblue: API key refused")

// rejections are the answers by which Light Blue refuses an enquiry for good.
var rejections = map[string]string{"-3": "unsupported type", "-20": "HTTPS required"}

// IsRejected reports whether err is an enquiry Light Blue refused for good: a permanent
// *provider.Error whose Code is Light Blue's status (-3, -20).
func IsRejected(err error) bool {
	pe, ok := provider.As(err)
	return ok && pe.Provider == Provider && rejections[pe.Code] != ""
}

// Enquiry is what the hub pushes: a couple asking a vendor about their wedding.
type Enquiry struct {
	// Reference is stable for the hub record (the wedding-vendor connection id): Light Blue
	// answers -4 to a second push with the same Reference.
	Reference       string
	ContactNameFull string
	ContactEmail    string
	ContactPhone    string
	Message         string
	// ShootDate is the wedding date, "2006-01-02".
	ShootDate string
	// ShootType is e.g. "Wedding".
	ShootType string
}

// Client is Light Blue's API client.
type Client struct {
	// URL is the API endpoint. Defaults to URLDefault.
	URL string
	// HTTPClient sends requests. Defaults to the guarded client (netguard, no redirects):
	// URL is the operator's, and must not reach internal addresses either.
	HTTPClient *http.Client
	// Limits rate-limits pushes under Provider. Defaults to no limit.
	Limits *integration.Limits
	// Timeout bounds each push. Defaults to TimeoutDefault.
	Timeout time.Duration
}

// Result says how Light Blue took a push.
type Result struct {
	// Duplicate is true when Light Blue already had this Reference (-4): nothing new stored.
	Duplicate bool
}

// Push sends e with apiKey. 401 or -1 is ErrBadAPIKey, -3/-20 a permanent *provider.Error (IsRejected), 429 and 5xx a
// retryable *provider.Error.
func (c *Client) Push(ctx context.Context, apiKey string, e Enquiry) (Result, error) {
	if err := c.Limits.Wait(ctx, Provider); err != nil {
		return Result{}, err
	}
	form := url.Values{"key": {apiKey}, "type": {"contact form"}}
	for k, v := range map[string]string{"Reference": e.Reference, "ContactNameFull": e.ContactNameFull,
		"ContactEmail": e.ContactEmail, "ContactPhone": e.ContactPhone, "Message": e.Message,
		"ShootDate": e.ShootDate, "ShootType": e.ShootType} {
		if v != "" {
			form.Set(k, v)
		}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = TimeoutDefault
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := c.URL
	if target == "" {
		target = URLDefault
	}
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := c.HTTPClient
	if hc == nil {
		hc = netguard.New(netguard.Options{Timeout: timeout})
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return Result{}, ctx.Err()
		}
		if errors.Is(err, netguard.ErrBlocked) {
			// A refused address: permanent, the same push is refused the same way.
			return Result{}, &provider.Error{Provider: Provider, Op: "enquiry", Err: err}
		}
		return Result{}, provider.Transport(Provider, "enquiry", netguard.Cause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return Result{}, ErrBadAPIKey
	}
	if resp.StatusCode != http.StatusOK {
		return Result{}, provider.FromResponse(Provider, "enquiry", resp)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch code := strings.TrimSpace(string(b)); code {
	case "0":
		return Result{}, nil
	case "-4":
		return Result{Duplicate: true}, nil
	case "-1":
		return Result{}, ErrBadAPIKey
	case "-3", "-20":
		// Err is the fixed text stored where members read it (integration.PublicMessage).
		return Result{}, &provider.Error{Provider: Provider, Op: "enquiry", Status: resp.StatusCode, Code: code,
			Err: integration.FixedError(fmt.Sprintf("enquiry rejected with status %s %s", code, rejections[code]))}
	default:
		return Result{}, &provider.Error{Provider: Provider, Op: "enquiry", Status: resp.StatusCode, Message: "unexpected answer " + code}
	}
}
