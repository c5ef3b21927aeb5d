package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/channel/kind"
	"github.com/wedsync/vendorhub/internal/event"
)

// Queryer reads rows: a pgx.Tx, a *pgxpool.Pool or a *pgx.Conn.
type Queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// audience says who hears about an event beyond the ids it carries: the couple of Wedding,
// the members of Vendor, the participants of Conversation, and with Everyone the members
// of every vendor booked or confirmed for Wedding.
type audience struct {
	Direct       []string
	Wedding      *string
	Vendor       *string
	Conversation *string
	Everyone     bool
}

func (a audience) needsDB() bool {
	return a.Wedding != nil || a.Vendor != nil || a.Conversation != nil
}

// audienceOf maps an event to its recipients (the actor is removed later):
// message.created → the conversation's participants (carried by the event);
// vendor.status_changed, booking.updated, task.updated → the wedding's couple and the
// vendor's members; availability.changed, conflict.detected → the vendor's members;
// integration.failed → the subject's user, else the vendor's members; anything else → the
// subject's user. A critical (day-of) change also reaches every booked vendor's members.
func audienceOf(ev event.Event, category string) audience {
	s := ev.Subject
	var a audience
	switch ev.Type {
	case event.MessageCreated:
		if len(s.Participants) > 0 {
			a.Direct = s.Participants
		} else {
			a.Conversation = s.ConversationID
		}
	case event.VendorStatusChanged, event.BookingUpdated, event.TaskUpdated:
		a.Wedding, a.Vendor = ev.WeddingID, s.VendorID
	case event.AvailabilityChanged, event.ConflictDetected:
		a.Vendor = s.VendorID
	case event.IntegrationFailed:
		if s.UserID == nil {
			a.Vendor = s.VendorID
		}
	}
	if s.UserID != nil && ev.Type != event.MessageCreated {
		a.Direct = append(a.Direct, *s.UserID)
	}
	if category == CategoryDayOfChange && ev.WeddingID != nil {
		a.Wedding, a.Everyone = ev.WeddingID, true
	}
	return a
}

// resolveAudiences fills the recipients of the audiences that need the database, in one
// query; out[i] are the users of auds[i].
func resolveAudiences(ctx context.Context, q Queryer, auds []audience) ([][]string, error) {
	out := make([][]string, len(auds))
	var idx []int32
	var wed, ven, conv []*string
	var every []bool
	for i, a := range auds {
		out[i] = append(out[i], a.Direct...)
		if a.needsDB() {
			idx = append(idx, int32(i))
			wed, ven, conv, every = append(wed, a.Wedding), append(ven, a.Vendor), append(conv, a.Conversation), append(every, a.Everyone)
		}
	}
	if len(idx) == 0 {
		return out, nil
	}
	// Ids travel as text[] cast to uuid[] in SQL: pgx has no binary encoding of Go strings
	// as uuid[] and would encode each batch twice, formatting it into a discarded error.
	rows, err := q.Query(ctx, `
select q.i, r.user_id::text
from unnest($1::int[], $2::text[]::uuid[], $3::text[]::uuid[], $4::text[]::uuid[], $5::bool[]) as q(i, wedding, vendor, conv, everyone)
cross join lateral (
  select wc.user_id from public.wedding_couples wc where wc.wedding_id = q.wedding
  union
  select vm.user_id from public.vendor_members vm where vm.vendor_id = q.vendor
  union
  select cp.user_id from public.conversation_participants cp where cp.conversation_id = q.conv
  union
  select vm.user_id from public.wedding_vendors wv join public.vendor_members vm on vm.vendor_id = wv.vendor_id
   where q.everyone and wv.wedding_id = q.wedding and wv.status in ('booked', 'confirmed')
) r`, idx, wed, ven, conv, every)
	if err != nil {
		return nil, fmt.Errorf("notify: recipients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int32
		var u string
		if err := rows.Scan(&i, &u); err != nil {
			return nil, fmt.Errorf("notify: recipients: %w", err)
		}
		out[i] = append(out[i], u)
	}
	return out, rows.Err()
}

// zones caches time.LoadLocation, which reads the zone file every call.
var zones sync.Map

func location(name string) *time.Location {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = time.UTC // the column is validated against pg_timezone_names; Go may lack a rare alias
	}
	zones.Store(name, l)
	return l
}

// QuietColumns selects a user's time zone and quiet window (minutes after local midnight, -1
// when unset) from public.notification_settings aliased s; SetQuiet takes the three values.
const QuietColumns = `coalesce(s.timezone::text, 'UTC'),
       coalesce((extract(epoch from s.quiet_hours_start) / 60)::int, -1),
       coalesce((extract(epoch from s.quiet_hours_end) / 60)::int, -1)`

// SetQuiet sets r's time zone and quiet window from the values of QuietColumns.
func (r *Recipient) SetQuiet(tz string, start, end int32) {
	r.Location = location(tz)
	if start >= 0 && end >= 0 && start != end {
		r.QuietStart, r.QuietEnd, r.HasQuiet = int(start), int(end), true
	}
}

// loadRecipients reads settings, reachability and preferences of users in one query. An email
// address or phone number counts only once verified (email_verified_at, phone_verified_at).
// Users without a settings row get the defaults: UTC, no quiet hours, push only if they
// have a device.
func loadRecipients(ctx context.Context, q Queryer, users []string) (map[string]*Recipient, error) {
	ids, err := parseUUIDs(users)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `
select u.id::text,
       `+QuietColumns+`,
       coalesce(s.email is not null and s.email_verified_at is not null and s.email_bounced_at is null, false),
       coalesce(s.phone is not null and s.phone_verified_at is not null and s.sms_opted_out_at is null and s.phone_invalid_at is null, false),
       d.user_id is not null,
       coalesce(p.prefs, '{}')
from unnest($1::uuid[]) as u(id)
left join public.notification_settings s on s.user_id = u.id
-- Devices and preferences of all the users at once (two index scans), not per user.
left join (select distinct d.user_id from public.devices d where d.enabled and d.user_id = any($1::uuid[])) d
  on d.user_id = u.id
left join (select p.user_id, jsonb_object_agg(p.category || '/' || p.channel, p.enabled) as prefs
           from public.notification_preferences p where p.user_id = any($1::uuid[]) group by p.user_id) p
  on p.user_id = u.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("notify: load recipients: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*Recipient, len(users))
	for rows.Next() {
		var (
			r                Recipient
			tz               string
			qs, qe           int32
			email, sms, push bool
			prefs            []byte
		)
		if err := rows.Scan(&r.UserID, &tz, &qs, &qe, &email, &sms, &push, &prefs); err != nil {
			return nil, fmt.Errorf("notify: load recipients: %w", err)
		}
		r.SetQuiet(tz, qs, qe)
		r.Reachable = map[kind.Kind]bool{kind.Push: push, kind.Email: email, kind.SMS: sms}
		if err := json.Unmarshal(prefs, &r.Prefs); err != nil {
			return nil, fmt.Errorf("notify: preferences of %s: %w", r.UserID, err)
		}
		out[r.UserID] = &r
	}
	return out, rows.Err()
}

// LoadRecipient reads one user's planning data (for workers that re-plan a fallback).
func LoadRecipient(ctx context.Context, tx Queryer, userID string) (*Recipient, error) {
	m, err := loadRecipients(ctx, tx, []string{userID})
	if err != nil {
		return nil, err
	}
	r, ok := m[userID]
	if !ok {
		return nil, fmt.Errorf("notify: recipient %s not found", userID)
	}
	return r, nil
}
