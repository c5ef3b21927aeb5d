package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Transport delivers a batch of messages to Realtime subscribers.
type Transport interface {
	// Send delivers msgs. An error of type *HTTPError tells the publisher whether and when
	// to retry; any other error is retried with back-off.
	Send(ctx context.Context, msgs []Message) error
}

// BroadcastPath is the REST batch broadcast endpoint, relative to SUPABASE_URL.
const BroadcastPath = "/realtime/v1/api/broadcast"

// RESTTransport posts batches to Supabase Realtime's REST broadcast API.
type RESTTransport struct {
	// URL is the project URL (SUPABASE_URL), e.g. https://<ref>.supabase.co.
	URL string
	// APIKey is the service-role key (SUPABASE_SERVICE_ROLE_KEY), sent as apikey and bearer.
	APIKey string
	// Client sends the requests. Default: a client with a 10 s timeout.
	Client *http.Client
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Send posts {"messages":[…]} and expects 202.
func (t *RESTTransport) Send(ctx context.Context, msgs []Message) error {
	body, err := json.Marshal(struct {
		Messages []Message `json:"messages"`
	}{msgs})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.URL, "/")+BroadcastPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("apikey", t.APIKey)
	req.Header.Set("Authorization", "Bearer "+t.APIKey)
	c := t.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		return nil
	}
	return &HTTPError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, time.Now()), Body: string(snippet)}
}

// HTTPError is a non-success answer of the REST API.
type HTTPError struct {
	Status int
	// RetryAfter is the wait the server asked for (Retry-After), zero if none.
	RetryAfter time.Duration
	// Body is the start of the response body (never contains our key).
	Body string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("realtime: broadcast API answered %d: %s", e.Status, strings.TrimSpace(e.Body))
}

// Retryable reports whether sending the same batch again may succeed.
func (e *HTTPError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// Oversized reports a payload or body the server refused for its size (422 from the tenant's
// payload limit, 413 from the body limit).
func (e *HTTPError) Oversized() bool {
	return e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusRequestEntityTooLarge
}

// classify returns the *HTTPError in err, if any.
func classify(err error) (*HTTPError, bool) {
	var he *HTTPError
	ok := errors.As(err, &he)
	return he, ok
}

// retryAfter reads Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
