// Package crm maps vendors' CRMs onto the hub. HoneyBook and Dubsado have no public API: the
// vendor's Zap posts their Zapier triggers to the ingress (/webhooks/honeybook/<connection>,
// /webhooks/dubsado/<connection>), which verifies and stores them in vendorhub.webhook_inbox.
// A Mapper per CRM (subpackages honeybook and dubsado) turns a stored trigger payload into a
// Record with a field mapping per trigger; Apply writes it — a booking upserted on the CRM's
// project id, the wedding_vendors status moved, contract and payment fields set — so the
// foundation's triggers emit booking.updated and vendor.status_changed in the same transaction.
// Each payload is applied once: a repeat (Zapier retry, replay, HoneyBook's polling seeing the
// same record) has the same dedupe key and is skipped.
//
// Light Blue (subpackage lightblue) goes the other way: the hub pushes enquiries into the
// vendor's Light Blue inbox through its HTTP API; its calendar feed is an iCalendar feed,
// synced by package calendar.
package crm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Trigger is a CRM event kind, in hub terms.
type Trigger string

// The triggers the Zapier bridges carry.
const (
	// NewInquiry: HoneyBook "New Inquiry", Dubsado "New Project as Lead".
	NewInquiry Trigger = "new_inquiry"
	// NewClient: HoneyBook "New Client" (a contact, no date: recorded, no hub effect).
	NewClient Trigger = "new_client"
	// ProjectBooked: HoneyBook "Project Booked", Dubsado "New Project as Job".
	ProjectBooked Trigger = "project_booked"
	// StatusChanged: HoneyBook "Project Stage Changed", Dubsado "Project Status Updated".
	StatusChanged Trigger = "status_changed"
	// ContractSigned: Dubsado "Contract Signed".
	ContractSigned Trigger = "contract_signed"
	// PaymentReceived: HoneyBook "Payment Received", Dubsado "New Payment Received".
	PaymentReceived Trigger = "payment_received"
)

// Record is one trigger payload in hub terms.
type Record struct {
	Trigger Trigger
	// ProjectID is the CRM's project (job) id: the booking's external id.
	ProjectID   string
	ProjectName string
	// ClientEmail matches the wedding's couple; ClientName is for display.
	ClientEmail, ClientName string
	// Start and End are the project's dates (zero when the trigger has none). AllDay when the
	// CRM gave dates only.
	Start, End time.Time
	AllDay     bool
	// Stage is the CRM's own stage or status name.
	Stage string
	// WeddingStatus is the wedding_vendors status the trigger implies ("" for none).
	WeddingStatus string
	// BookingStatus is the bookings status the trigger implies ("" for none).
	BookingStatus string
	// Upgrade only: the statuses apply only when they move forward (a late "new inquiry" never
	// undoes a booking). Explicit status changes set Upgrade false.
	Upgrade bool
	// ContractSignedAt is set by ContractSigned.
	ContractSignedAt time.Time
	// PaymentID, Amount (decimal text) and Currency are set by PaymentReceived.
	PaymentID string
	Amount    string
	Currency  string
	PaidAt    time.Time
}

// DedupeKey identifies the record's content: trigger, record id and a hash of the mapped
// fields. The same payload delivered twice has the same key; a later change of the same
// project (new status) has another.
func (r Record) DedupeKey() string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	id := r.ProjectID
	if r.Trigger == PaymentReceived && r.PaymentID != "" {
		id = r.ProjectID + "/" + r.PaymentID
	}
	return string(r.Trigger) + ":" + id + ":" + hex.EncodeToString(sum[:12])
}

// Mapper turns a Zapier bridge payload into a Record. loc is the vendor's zone, for dates
// without one.
type Mapper interface {
	Map(payload []byte, loc *time.Location) (Record, error)
}

// MappingError reports a payload that cannot be mapped (unknown trigger, missing field, bad
// date). It is permanent: the payload is recorded as failed, not retried.
type MappingError struct {
	CRM, Trigger, Reason string
}

func (e *MappingError) Error() string {
	if e.Trigger == "" {
		return fmt.Sprintf("crm: %s payload: %s", e.CRM, e.Reason)
	}
	return fmt.Sprintf("crm: %s %q payload: %s", e.CRM, e.Trigger, e.Reason)
}

// Fields is a flat Zapier payload: string values by key.
type Fields map[string]string

// ParseFields decodes a JSON object of scalars (Zapier's "json" payload type); nested values
// are ignored, numbers and booleans become text.
func ParseFields(crm string, payload []byte) (Fields, error) {
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, &MappingError{CRM: crm, Reason: "not a JSON object"}
	}
	f := Fields{}
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			f[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(x)
		case float64:
			f[strings.ToLower(strings.TrimSpace(k))] = strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".")
		case bool:
			f[strings.ToLower(strings.TrimSpace(k))] = fmt.Sprint(x)
		}
	}
	return f, nil
}

// First returns the first non-empty value among keys.
func (f Fields) First(keys ...string) string {
	for _, k := range keys {
		if v := f[k]; v != "" {
			return v
		}
	}
	return ""
}

// errNoDate reports an empty date.
var errNoDate = errors.New("empty")

// ParseTime reads the date forms Zapier emits: RFC 3339, a local date-time (in loc), or a
// date alone (allDay, midnight in loc). "" gives errNoDate.
func ParseTime(s string, loc *time.Location) (t time.Time, allDay bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, errNoDate
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), false, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "01/02/2006 15:04", "01/02/2006 3:04 PM"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), false, nil
		}
	}
	for _, layout := range []string{time.DateOnly, "01/02/2006", "January 2, 2006", "Jan 2, 2006"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("unrecognised date %q", s)
}

// Span reads a start and optional end; a date-only start without end is that whole day, a
// date-only end is inclusive (CRMs show "to 14 June" meaning through that day).
func Span(startText, endText string, loc *time.Location) (start, end time.Time, allDay bool, err error) {
	start, allDay, err = ParseTime(startText, loc)
	if err != nil {
		return time.Time{}, time.Time{}, false, err
	}
	if e, endAllDay, err := ParseTime(endText, loc); err == nil {
		if endAllDay {
			e = e.In(loc).AddDate(0, 0, 1).UTC()
		}
		if e.After(start) {
			return start, e, allDay && endAllDay, nil
		}
	} else if !errors.Is(err, errNoDate) {
		return time.Time{}, time.Time{}, false, err
	}
	if allDay {
		return start, start.In(loc).AddDate(0, 0, 1).UTC(), true, nil
	}
	return start, start.Add(time.Hour), false, nil
}

// Amount normalises a money amount ("$1,250.00", "1250") to decimal text, or "" when absent.
func Amount(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	clean := strings.Map(func(r rune) rune {
		if (r >= '0' && r <= '9') || r == '.' || r == '-' {
			return r
		}
		if r == ',' || r == ' ' || r == '$' || r == '£' || r == '€' {
			return -1
		}
		return '!'
	}, s)
	if strings.Contains(clean, "!") || clean == "" || strings.Count(clean, ".") > 1 || strings.HasPrefix(clean, "-") {
		return "", fmt.Errorf("unrecognised amount %q", s)
	}
	return clean, nil
}

// StageStatus maps a CRM stage or status name onto the hub's wedding_vendors and bookings
// statuses (ok false for names it does not know: the stage is recorded, no status moves).
func StageStatus(stage string) (wedding, booking string, ok bool) {
	s := strings.ToLower(strings.TrimSpace(stage))
	switch {
	case s == "":
		return "", "", false
	case strings.Contains(s, "lost"), strings.Contains(s, "declin"), strings.Contains(s, "archiv"), strings.Contains(s, "not interested"):
		return "declined", "cancelled", true
	case strings.Contains(s, "cancel"):
		return "cancelled", "cancelled", true
	case strings.Contains(s, "proposal sent"), s == "proposal", strings.Contains(s, "quote"):
		return "proposal", "inquiry", true
	case strings.Contains(s, "inquir"), strings.Contains(s, "enquir"), strings.Contains(s, "lead"), strings.Contains(s, "follow"), s == "new":
		return "inquiry", "inquiry", true
	case strings.Contains(s, "book"), strings.Contains(s, "job"), strings.Contains(s, "retainer"), strings.Contains(s, "signed"),
		strings.Contains(s, "planning"), strings.Contains(s, "complete"), strings.Contains(s, "paid"):
		return "booked", "booked", true
	}
	return "", "", false
}

// SetPayment fills r's payment fields from a Zapier payment trigger (payment_id,
// payment_amount, currency, payment_date) and marks the vendor booked: a payment on a project
// is a retainer at least. It returns the reason when a required field is missing or malformed.
func SetPayment(r *Record, f map[string]string, loc *time.Location) (reason string) {
	r.PaymentID = f["payment_id"]
	if r.PaymentID == "" {
		return "payment_id is required"
	}
	amount, err := Amount(f["payment_amount"])
	if err != nil || amount == "" {
		return "payment_amount is missing or not an amount"
	}
	r.Amount = amount
	r.Currency = strings.ToUpper(f["currency"])
	if t, _, err := ParseTime(f["payment_date"], loc); err == nil {
		r.PaidAt = t
	}
	r.WeddingStatus, r.BookingStatus, r.Upgrade = "booked", "booked", true
	return ""
}
