// Package audit writes vendorhub's append-only audit log (vendorhub.audit_log): rejected
// webhooks, refused joins, key rotations and other security-relevant events.
//
// Entries carry a reason and a source address, never a secret or a full request body:
// callers pass short reasons and small details, and Write truncates anything long.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what Write needs: a *pgxpool.Pool, *pgx.Conn or pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Actions written by vendorhub. Action is free text, but these are the names the code uses.
const (
	ActionWebhookRejected  = "webhook.rejected"   // an inbound webhook was refused (bad signature, stale, too big, …)
	ActionWebhookMalformed = "webhook.malformed"  // a verified webhook's body could not be decoded
	ActionKeyRegistered    = "key.registered"     // an encryption key id was first seen
	ActionKeyRotated       = "key.rotated"        // rows were re-encrypted under the active key
	ActionKeyRetired       = "key.retired"        // a key id was retired
	ActionKeyRetireRefused = "key.retire_refused" // retiring a key was refused (rows still use it)
	ActionEndpointDisabled = "endpoint.disabled"  // an outbound webhook endpoint was disabled
	ActionJoinRefused      = "realtime.join_refused"
	ActionDeliveryReplayed = "endpoint.replayed" // an outbound endpoint's deliveries were replayed
)

// Field limits: longer values are cut, so a careless caller cannot copy a whole body in.
const (
	MaxReasonLen     = 500  // bytes of Reason kept
	MaxDetailsLen    = 4096 // bytes of the JSON-encoded Details kept (beyond it, Details becomes {"truncated": true})
	MaxSubjectLen    = 300  // bytes of Subject kept
	MaxActionLen     = 100  // bytes of Action kept
	MaxDetailStrLen  = 300  // bytes of each string value inside Details kept
	truncationMarker = "…"
)

// Entry is one audit row.
type Entry struct {
	// Action names what happened, e.g. ActionWebhookRejected. Required.
	Action string
	// Actor is the auth user id that caused it, or empty for the system.
	Actor string
	// Subject names what it happened to, e.g. "webhook:standard/<connection id>" or "key:kid1".
	Subject string
	// Reason is a short human-readable cause, e.g. "signature mismatch".
	Reason string
	// SourceIP is the remote address (IPv4/IPv6, with or without port); empty or unparsable → NULL.
	SourceIP string
	// Details holds small extra facts (ids, counts, header names). Never secrets or bodies.
	Details map[string]any
	// OccurredAt defaults to the database's now().
	OccurredAt time.Time
}

// ErrNoAction is returned for an entry without an Action.
var ErrNoAction = errors.New("audit: entry has no action")

const insertSQL = `insert into vendorhub.audit_log (occurred_at, actor, action, subject, reason, source_ip, details)
values (coalesce($1, now()), $2, $3, $4, $5, $6, $7)`

// Write appends e to vendorhub.audit_log through q (inside the caller's transaction when q is a Tx).
func Write(ctx context.Context, q Querier, e Entry) error {
	row, err := e.row()
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, insertSQL, row...); err != nil {
		return fmt.Errorf("audit: write %s: %w", row[2], err)
	}
	return nil
}

// row returns the insert arguments of e, cleaned and truncated.
func (e Entry) row() ([]any, error) {
	action := clip(strings.TrimSpace(e.Action), MaxActionLen)
	if action == "" {
		return nil, ErrNoAction
	}
	var at *time.Time
	if !e.OccurredAt.IsZero() {
		t := e.OccurredAt
		at = &t
	}
	details, err := encodeDetails(e.Details)
	if err != nil {
		return nil, err
	}
	return []any{at, nullable(e.Actor), action, nullable(clip(e.Subject, MaxSubjectLen)),
		nullable(clip(e.Reason, MaxReasonLen)), ParseIP(e.SourceIP), details}, nil
}

// ParseIP extracts the address of "ip", "ip:port" or "[ipv6]:port"; nil when there is none.
func ParseIP(s string) *netip.Addr {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a := ap.Addr().Unmap()
		return &a
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		a = a.Unmap()
		return &a
	}
	return nil
}

func encodeDetails(d map[string]any) ([]byte, error) {
	if len(d) == 0 {
		return []byte("{}"), nil
	}
	clean := make(map[string]any, len(d))
	for k, v := range d {
		if s, ok := v.(string); ok {
			v = clip(s, MaxDetailStrLen)
		}
		clean[clip(k, 100)] = v
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return nil, fmt.Errorf("audit: details: %w", err)
	}
	if len(b) > MaxDetailsLen {
		return []byte(`{"truncated": true}`), nil
	}
	return b, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(truncationMarker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncationMarker
}

// CopyRows writes many entries in one statement (used by Buffer).
func CopyRows(ctx context.Context, q Querier, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	var (
		ats      = make([]*time.Time, 0, len(entries))
		actors   = make([]*string, 0, len(entries))
		actions  = make([]string, 0, len(entries))
		subjects = make([]*string, 0, len(entries))
		reasons  = make([]*string, 0, len(entries))
		ips      = make([]*netip.Addr, 0, len(entries))
		details  = make([]string, 0, len(entries))
	)
	for _, e := range entries {
		r, err := e.row()
		if err != nil {
			return err
		}
		ats = append(ats, r[0].(*time.Time))
		actors = append(actors, r[1].(*string))
		actions = append(actions, r[2].(string))
		subjects = append(subjects, r[3].(*string))
		reasons = append(reasons, r[4].(*string))
		ips = append(ips, r[5].(*netip.Addr))
		details = append(details, string(r[6].([]byte)))
	}
	_, err := q.Exec(ctx, `insert into vendorhub.audit_log (occurred_at, actor, action, subject, reason, source_ip, details)
select coalesce(a, now()), ac, act, s, r, ip, d::jsonb
from unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::inet[], $7::text[]) as u(a, ac, act, s, r, ip, d)`,
		ats, actors, actions, subjects, reasons, ips, details)
	if err != nil {
		return fmt.Errorf("audit: write %d entries: %w", len(entries), err)
	}
	return nil
}

var _ Querier = (pgx.Tx)(nil)
