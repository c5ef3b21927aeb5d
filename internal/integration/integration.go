// Package integration holds what vendorhub's CRM and calendar connectors share: the
// integration connection a job works on (a row of public.integration_connections with its
// vendor's time zone), the encrypted credential blob of a connection, classified provider errors
// (retry later, wait, re-authorize, give up) and per-provider rate limits.
package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Kind is an integration connection kind (public.integration_connections.kind).
type Kind string

// The connection kinds vendorhub's connectors serve.
const (
	HoneyBook      Kind = "honeybook"
	Dubsado        Kind = "dubsado"
	LightBlue      Kind = "lightblue"
	GoogleCalendar Kind = "google_calendar"
	Outlook        Kind = "outlook"
	ICal           Kind = "ical"
)

// BlockSource is the availability_blocks.source value of blocks synced from a connection kind.
func (k Kind) BlockSource() string {
	switch k {
	case GoogleCalendar:
		return "google"
	default:
		return string(k)
	}
}

// Provider is the rate-limit and queue group of a kind: connections of one provider share
// limits, and one provider's trouble must not hold up another's.
func (k Kind) Provider() string {
	switch k {
	case GoogleCalendar:
		return "google"
	case Outlook:
		return "graph"
	case ICal:
		return "ical"
	case LightBlue:
		return "lightblue"
	default:
		return "zapier"
	}
}

// Connection status values (public.integration_connections.status).
const (
	StatusActive      = "active"
	StatusNeedsReauth = "needs_reauth"
	StatusDisabled    = "disabled"
	StatusError       = "error"
)

// Connection is one vendor's connection to a CRM or calendar.
type Connection struct {
	ID       string
	VendorID string
	Kind     Kind
	Status   string
	// Config holds the connection's non-secret settings (calendar id, feed URL, user name).
	Config json.RawMessage
	// Location is the vendor's time zone (vendors.timezone).
	Location *time.Location
}

// Querier is a *pgxpool.Pool, *pgx.Conn or pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrConnectionNotFound reports a connection id with no row.
var ErrConnectionNotFound = errors.New("integration: connection not found")

// Load reads connection id with its vendor's time zone.
func Load(ctx context.Context, q Querier, id string) (Connection, error) {
	var c Connection
	var tz string
	err := q.QueryRow(ctx, `select c.id::text, c.vendor_id::text, c.kind, c.status, coalesce(c.config, '{}'::jsonb), v.timezone
from public.integration_connections c join public.vendors v on v.id = c.vendor_id where c.id = $1`, id).
		Scan(&c.ID, &c.VendorID, &c.Kind, &c.Status, &c.Config, &tz)
	if errors.Is(err, pgx.ErrNoRows) {
		return Connection{}, fmt.Errorf("%w: %s", ErrConnectionNotFound, id)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("integration: load connection %s: %w", id, err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	c.Location = loc
	return c, nil
}

// Setting returns the string config value name, or "".
func (c Connection) Setting(name string) string {
	var m map[string]any
	if json.Unmarshal(c.Config, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// ProviderError is a failed provider call, classified.
type ProviderError struct {
	// Provider names the provider ("google", "graph", "lightblue", "ical").
	Provider string
	// Op names the call, e.g. "events.list".
	Op string
	// Status is the HTTP status, 0 for a transport failure or timeout.
	Status int
	// Retryable is true for 429, 5xx, timeouts and transport failures.
	Retryable bool
	// RetryAfter is the provider's Retry-After, when it sent one.
	RetryAfter time.Duration
	// RateLimited marks a refusal for going too fast (429, Google's rateLimitExceeded, the
	// local token bucket): retryable, but not an outage of the provider.
	RateLimited bool
	// Message is the provider's error text (never a credential).
	Message string
	// Err is the underlying error, if any.
	Err error
}

func (e *ProviderError) Error() string {
	s := fmt.Sprintf("%s %s", e.Provider, e.Op)
	if e.Status != 0 {
		s += fmt.Sprintf(": status %d", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProviderError) Unwrap() error { return e.Err }

// RetryableStatus reports whether an HTTP status is worth retrying: 408, 429 and 5xx.
func RetryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// IsRetryable reports whether err is a retryable provider error.
func IsRetryable(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && pe.Retryable
}

// IsOutage reports whether err is a provider failure that says the provider or connection is
// down — a 5xx, a timeout, a transport error — as opposed to a rate limit, a refused request
// or a local error. Outages count against the connection's circuit breaker.
func IsOutage(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && pe.Retryable && !pe.RateLimited
}

// RetryAfter returns the provider's requested wait, or 0.
func RetryAfter(err error) time.Duration {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date).
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ResponseError turns a non-2xx response into a *ProviderError, reading at most 4 KiB of body.
func ResponseError(provider, op string, resp *http.Response) *ProviderError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return &ProviderError{Provider: provider, Op: op, Status: resp.StatusCode,
		Retryable: RetryableStatus(resp.StatusCode), RetryAfter: ParseRetryAfter(resp.Header, time.Now()),
		RateLimited: resp.StatusCode == http.StatusTooManyRequests, Message: string(b)}
}

// TransportError wraps a failed round trip (refused, reset, timeout) as a retryable error.
func TransportError(provider, op string, err error) *ProviderError {
	return &ProviderError{Provider: provider, Op: op, Retryable: true, Err: err}
}
