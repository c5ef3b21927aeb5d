// Package integration holds what vendorhub's CRM and calendar connectors share: the
// integration connection a job works on (a row of public.integration_connections with its
// vendor's time zone), the encrypted credential blob of a connection and per-provider rate limits.
// Provider failures are *provider.Error (package provider).
package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
