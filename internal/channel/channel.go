// Package channel holds vendorhub's outgoing notification channels: push through Firebase
// Cloud Messaging, email through Resend, SMS through Twilio, and the dev Mailbox that
// captures all three in a table instead of sending them.
//
// Each provider is a Sender: one small interface, so callers can wrap it (circuit
// breakers, metrics) without knowing the provider. A failed Send returns an *Error whose
// Class tells the caller what to do: retry later (Transient), wait (RateLimited, with
// RetryAfter), try the recipient's next channel (Unreachable) or stop (Permanent).
package channel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wedsync/vendorhub/internal/channel/kind"
)

// Kind names a delivery channel (package kind, which the WAL path imports alone).
type Kind = kind.Kind

// The remote channels, in the default fallback order.
const (
	Push  = kind.Push
	Email = kind.Email
	SMS   = kind.SMS
)

// Message is one notification to one recipient on one channel.
type Message struct {
	// Channel is the channel the message goes out on.
	Channel Kind
	// IdempotencyKey is stable across retries and replays of the same delivery; providers
	// that support it (Resend, the Mailbox) send at most once per key.
	IdempotencyKey string
	// To holds the device tokens (push), or the one address (email) or E.164 number (sms).
	To []string
	// Title is the push title and the email subject; SMS text is Title + ": " + Body.
	Title string
	// Body is the text.
	Body string
	// Data is extra key/values for the app (push data, email tags are not used).
	Data map[string]string
}

// Result is what a provider said about an accepted message.
type Result struct {
	// Provider names the provider: "fcm", "resend", "twilio" or "mailbox".
	Provider string
	// ProviderID is the provider's id of the message (FCM message name, Resend email id,
	// Twilio SID, mailbox row id); for a multicast push, the first accepted message's.
	ProviderID string
	// Accepted counts the accepted messages (devices reached for push, else 1).
	Accepted int
	// DeadTokens are push tokens the provider reported gone (UNREGISTERED, invalid token,
	// sender mismatch); set on success and on failure alike.
	DeadTokens []string
}

// Sender sends messages of one channel through one provider.
type Sender interface {
	// Provider names the provider, e.g. "resend".
	Provider() string
	// Send delivers m. A failure is an *Error.
	Send(ctx context.Context, m Message) (Result, error)
}

// Class says what a failed send means for the caller.
type Class int

// The classes of *Error.
const (
	// Transient failures (5xx, timeouts, network) may succeed on a later attempt.
	Transient Class = iota + 1
	// RateLimited failures (429) succeed after RetryAfter.
	RateLimited
	// Unreachable means this recipient can't be reached on this channel (dead tokens,
	// opted out, bounced or invalid address): try the next channel.
	Unreachable
	// Permanent failures will fail the same way again (bad payload, credentials,
	// idempotency-key misuse): stop at once.
	Permanent
	// Unavailable means the provider was not called: its circuit breaker is open after
	// sustained failures (package health). Try the next channel; the recipient is fine.
	Unavailable
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case RateLimited:
		return "rate_limited"
	case Unreachable:
		return "unreachable"
	case Permanent:
		return "permanent"
	case Unavailable:
		return "unavailable"
	}
	return "unknown"
}

// Recipient-state codes of Unreachable errors, set in Error.Code.
const (
	CodeNoDevice       = "no_device"       // no enabled device token
	CodeDeadTokens     = "UNREGISTERED"    // every token is gone
	CodeOptedOut       = "21610"           // the number replied STOP
	CodeInvalidNumber  = "21211"           // not a valid phone number
	CodeNotMobile      = "21614"           // not a mobile number
	CodeBounced        = "bounced"         // the address hard-bounced
	CodeInvalidAddress = "invalid_address" // no or malformed address
)

// Error is a failed send.
type Error struct {
	// Provider names the provider.
	Provider string
	// Class says what to do.
	Class Class
	// Code is the provider's error code (FCM errorCode, Resend error name, Twilio code) or
	// one of the Code* constants.
	Code string
	// Status is the HTTP status, 0 for a network failure.
	Status int
	// RetryAfter is the provider's Retry-After for RateLimited errors, 0 if not given.
	RetryAfter time.Duration
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("channel: %s: %s", e.Provider, e.Class)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: its *Error's Class, Transient for any other error
// (a timeout or a cancelled request is worth retrying), 0 for nil.
func ClassOf(err error) Class {
	if err == nil {
		return 0
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Class
	}
	return Transient
}

// classifyStatus maps an HTTP status to a Class for errors with no better information.
func classifyStatus(status int) Class {
	switch {
	case status == 429:
		return RateLimited
	case status == 408 || status == 0 || status >= 500:
		return Transient
	default:
		return Permanent
	}
}

// parseRetryAfter reads a Retry-After value: delta seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
