package channel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/wedsync/vendorhub/internal/provider"
)

// TimeoutDefault bounds one provider request.
const TimeoutDefault = 10 * time.Second

// FCMConfig configures the FCM push sender.
type FCMConfig struct {
	// ProjectID is the Firebase project id. Required.
	ProjectID string
	// CredentialsFile is a service-account JSON file. Defaults to none: Google application
	// default credentials, or no authentication when Endpoint is set.
	CredentialsFile string
	// Endpoint replaces FCM's endpoint (e.g. a local fake's URL; the SDK appends
	// /projects/<id>/messages:send). Defaults to FCM's own.
	Endpoint string
	// Timeout bounds one request. Defaults to TimeoutDefault.
	Timeout time.Duration
	// Transport carries the requests. Defaults to http.DefaultTransport.
	Transport http.RoundTripper
}

// FCM sends push notifications to a user's devices with one multicast per message
// (firebase.google.com/go/v4 messaging.SendEachForMulticast).
type FCM struct {
	client  *messaging.Client
	timeout time.Duration
}

// NewFCM builds the FCM sender.
func NewFCM(ctx context.Context, cfg FCMConfig) (*FCM, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("channel: FCMConfig.ProjectID is required")
	}
	var opts []option.ClientOption
	switch {
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	case cfg.Endpoint != "":
		// A fake needs no real token; a static one keeps the Authorization header realistic.
		base := cmp.Or[http.RoundTripper](cfg.Transport, http.DefaultTransport)
		opts = append(opts, option.WithHTTPClient(&http.Client{Transport: &oauth2.Transport{
			Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "fake-fcm-token"}), Base: base}}))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("channel: firebase app: %w", err)
	}
	mc, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("channel: firebase messaging: %w", err)
	}
	return &FCM{client: mc, timeout: cmp.Or(cfg.Timeout, TimeoutDefault)}, nil
}

// Provider implements Sender.
func (f *FCM) Provider() string { return "fcm" }

// maxMulticast is FCM's per-multicast token limit.
const maxMulticast = 500

// Send multicasts m to m.To (device tokens), at most 500 per message: a user has a handful.
// Tokens FCM reports gone come back in Result.DeadTokens. It succeeds when any device
// accepted the message; otherwise the error's class follows the best hope among the
// failures: rate limited, then transient, then unreachable when every token is dead.
func (f *FCM) Send(ctx context.Context, m Message) (Result, error) {
	res := Result{Provider: f.Provider()}
	if len(m.To) == 0 {
		return res, unreachable("fcm", CodeNoDevice, errors.New("no device token"))
	}
	tokens := m.To
	if len(tokens) > maxMulticast {
		tokens = tokens[:maxMulticast]
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	br, err := f.client.SendEachForMulticast(ctx, &messaging.MulticastMessage{
		Tokens:       tokens,
		Data:         m.Data,
		Notification: &messaging.Notification{Title: m.Title, Body: m.Body},
	})
	if err != nil {
		return res, permanent("fcm", "INVALID_MESSAGE", err)
	}
	var worst *provider.Error
	for i, r := range br.Responses {
		if r.Success {
			res.Accepted++
			if res.ProviderID == "" {
				res.ProviderID = r.MessageID
			}
			continue
		}
		e := classifyFCM(r.Error)
		if e.Unreachable {
			res.DeadTokens = append(res.DeadTokens, tokens[i])
		}
		if worst == nil || rank(e.Class()) < rank(worst.Class()) {
			worst = e
		}
	}
	if res.Accepted > 0 || worst == nil {
		return res, nil
	}
	return res, worst
}

// rank orders classes by how hopeful a retry is, for choosing the error of a multicast.
func rank(c Class) int {
	switch c {
	case RateLimited:
		return 0
	case Transient:
		return 1
	case Permanent:
		return 2
	}
	return 3
}

// classifyFCM is the adapter of firebase.google.com/go/v4's messaging errors: one token's
// error as a *provider.Error, following FCM's documented error codes.
func classifyFCM(err error) *provider.Error {
	e := &provider.Error{Provider: "fcm", Err: err}
	if resp := errorutils.HTTPResponse(err); resp != nil {
		e.Status = resp.StatusCode
		e.RetryAfter = provider.RetryAfterHeader(resp.Header, time.Now())
	}
	switch {
	case messaging.IsUnregistered(err):
		e.Unreachable, e.Code = true, "UNREGISTERED"
	case messaging.IsSenderIDMismatch(err):
		e.Unreachable, e.Code = true, "SENDER_ID_MISMATCH"
	case messaging.IsInvalidArgument(err) && isTokenInvalid(err):
		e.Unreachable, e.Code = true, "INVALID_ARGUMENT"
	case messaging.IsQuotaExceeded(err) || errorutils.IsResourceExhausted(err):
		e.Retryable, e.RateLimited, e.Code = true, true, "QUOTA_EXCEEDED"
	case messaging.IsUnavailable(err) || messaging.IsInternal(err) || errorutils.IsDeadlineExceeded(err) || e.Status == 0 || e.Status >= 500:
		e.Retryable, e.Code = true, "UNAVAILABLE"
		if messaging.IsInternal(err) {
			e.Code = "INTERNAL"
		}
	default:
		e.Code = "INVALID_ARGUMENT"
	}
	return e
}

// isTokenInvalid tells a bad token from a bad payload within INVALID_ARGUMENT: only the
// former names the registration token (FCM's documented message), the latter carries
// google.rpc.BadRequest field violations.
func isTokenInvalid(err error) bool {
	// The SDK surfaces FCM's error message as the error text; FCM documents this exact
	// message as the one that marks the token itself invalid.
	return strings.Contains(err.Error(), "not a valid FCM registration token")
}
