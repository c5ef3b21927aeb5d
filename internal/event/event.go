// Package event holds the event envelope that vendorhub's triggers emit into the WAL,
// the closed set of event types, and the stable key that makes every effect happen once.
//
// Triggers call vendorhub.emit(), which writes the envelope with
// pg_logical_emit_message(true, 'vendorhub', <json>) inside the causing transaction, so an
// event exists if and only if that transaction committed.
package event

import (
	"encoding/json"
	"strconv"
	"time"
)

// MessagePrefix is the logical decoding message prefix of every vendorhub event.
const MessagePrefix = "vendorhub"

// Type names an event. The set is closed: see Types.
type Type string

// The closed set of event types. Adding one means adding it here, to the SQL emitters
// and to the routing rules; tests check that the three agree.
const (
	MessageCreated      Type = "message.created"       // a message was posted in a conversation
	MessageRead         Type = "message.read"          // a participant's read marker moved
	VendorStatusChanged Type = "vendor.status_changed" // a wedding–vendor connection changed status
	AvailabilityChanged Type = "availability.changed"  // a vendor's busy set changed
	BookingUpdated      Type = "booking.updated"       // a booking was created or changed
	ConnectionChanged   Type = "connection.changed"    // an integration connection changed state
	WebhookReceived     Type = "webhook.received"      // a verified webhook landed in the inbox
	NotificationCreated Type = "notification.created"  // an in-app notification row was written
	DeliveryUpdated     Type = "delivery.updated"      // a delivery attempt changed status
	IntegrationFailed   Type = "integration.failed"    // a delivery or sync gave up after its last attempt
	ConflictDetected    Type = "conflict.detected"     // a booking overlaps another commitment
	BreakerChanged      Type = "breaker.changed"       // a provider circuit breaker changed state
	TaskUpdated         Type = "task.updated"          // a wedding coordination task changed
	Heartbeat           Type = "heartbeat"             // the sidecar's own keep-the-slot-moving message
	MembershipRemoved   Type = "membership.removed"    // a row that granted read access went away
)

// Types lists every known type, in a stable order.
var Types = []Type{
	MessageCreated, MessageRead, VendorStatusChanged, AvailabilityChanged, BookingUpdated,
	ConnectionChanged, WebhookReceived, NotificationCreated, DeliveryUpdated, IntegrationFailed,
	ConflictDetected, BreakerChanged, TaskUpdated, Heartbeat, MembershipRemoved,
}

// Known reports whether t is in the closed set.
func (t Type) Known() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Envelope is what triggers emit: {id, type, occurred_at, wedding_id, actor, subject, data}.
type Envelope struct {
	// ID is a UUID chosen by the emitting transaction.
	ID string `json:"id"`
	// Type is one of Types.
	Type Type `json:"type"`
	// OccurredAt is the emitting transaction's clock (now()).
	OccurredAt time.Time `json:"occurred_at"`
	// WeddingID is the wedding the event belongs to, when it belongs to one.
	WeddingID *string `json:"wedding_id,omitempty"`
	// Actor is the auth user who caused the event (auth.uid()), or empty for the system.
	Actor *string `json:"actor,omitempty"`
	// Subject names the row the event is about: {"table": "...", "id": "..."} plus routing ids.
	Subject Subject `json:"subject"`
	// Data is the type-specific payload; its shape per type is documented in docs/events.md.
	Data json.RawMessage `json:"data,omitempty"`
}

// Subject names the row an event is about and carries the ids a router needs, so the
// sidecar never reads them back from the database.
type Subject struct {
	Table          string   `json:"table"`
	ID             string   `json:"id"`
	ConversationID *string  `json:"conversation_id,omitempty"`
	VendorID       *string  `json:"vendor_id,omitempty"`
	UserID         *string  `json:"user_id,omitempty"`
	Participants   []string `json:"participants,omitempty"`
}

// Parse decodes an envelope emitted by vendorhub.emit(), as json.Unmarshal into an
// Envelope does (the result does not alias b). The envelopes vendorhub writes take a fast
// path that allocates little; anything unusual is decoded by encoding/json itself.
func Parse(b []byte) (Envelope, error) {
	e, ok := parseFast(b)
	if !ok {
		var std Envelope // a variable of its own: the fast path's result stays on the stack
		if err := json.Unmarshal(b, &std); err != nil {
			return Envelope{}, &MalformedError{Reason: err.Error()}
		}
		e = std
	}
	if e.Type == "" {
		return Envelope{}, &MalformedError{Reason: "missing type"}
	}
	return e, nil
}

// MalformedError reports an envelope that cannot be decoded.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "event: malformed envelope: " + e.Reason }

// Key identifies an event for ever: the commit LSN of its transaction and its index among
// that transaction's events. A replay after a crash produces the same key, so jobs and
// provider calls keyed on it happen once.
type Key struct {
	CommitLSN uint64
	Index     uint32
}

// String renders the key as "<commit LSN in hex>/<index>", e.g. "16B3748/3".
func (k Key) String() string {
	return strconv.FormatUint(k.CommitLSN, 16) + "/" + strconv.FormatUint(uint64(k.Index), 10)
}

// Event is one committed event as it travels through the pipeline.
type Event struct {
	Envelope
	// Key is stable across replays.
	Key Key
	// CommitTime is the commit timestamp of the emitting transaction.
	CommitTime time.Time
	// EndLSN is the TransactionEndLSN of the emitting transaction; acknowledging it is only
	// allowed once the event's durable routes have committed.
	EndLSN uint64
	// XID is the emitting transaction's id (0 for a non-transactional message). Logical
	// decoding can deliver a commit before the transaction is visible to new snapshots; a
	// reader that must see the event's effects waits for it (gateway re-checks).
	XID uint32
}
