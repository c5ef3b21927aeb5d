// Package channel holds vendorhub's outgoing notification channels: push through Firebase
// Cloud Messaging, email through Resend, SMS through Twilio, and the dev Mailbox that
// captures all three in a table instead of sending them.
//
// Each provider is a Sender: one small interface, so callers can wrap it (circuit
// breakers, metrics) without knowing the provider. A failed Send returns a *provider.Error
// (one adapter per SDK below builds it) whose Class tells the caller what to do: retry later
// (Transient), wait (RateLimited, with RetryAfter), try the recipient's next channel
// (Unreachable) or stop (Permanent).
package channel

import (
	"context"

	"github.com/wedsync/vendorhub/internal/channel/kind"
	"github.com/wedsync/vendorhub/internal/provider"
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
	// Send delivers m. A failure is a *provider.Error.
	Send(ctx context.Context, m Message) (Result, error)
}

// Class says what a failed send means for the caller: package provider's classes. Transient
// failures (5xx, timeouts, network) may succeed later; RateLimited ones (429) after RetryAfter;
// Unreachable means this recipient can't be reached on this channel (dead tokens, opted out,
// bounced or invalid address): try the next channel; Permanent failures (bad payload,
// credentials, idempotency-key misuse) will fail again; Unavailable means the provider was not
// called (its circuit breaker is open): try the next channel.
type Class = provider.Class

// The classes of a failed send.
const (
	Transient   = provider.Transient
	RateLimited = provider.RateLimited
	Unreachable = provider.Unreachable
	Permanent   = provider.Permanent
	Unavailable = provider.Unavailable
)

// Recipient-state codes of Unreachable errors, set in provider.Error.Code.
const (
	CodeNoDevice       = "no_device"       // no enabled device token
	CodeDeadTokens     = "UNREGISTERED"    // every token is gone
	CodeOptedOut       = "21610"           // the number replied STOP
	CodeInvalidNumber  = "21211"           // not a valid phone number
	CodeNotMobile      = "21614"           // not a mobile number
	CodeBounced        = "bounced"         // the address hard-bounced
	CodeInvalidAddress = "invalid_address" // no or malformed address
)

// ClassOf returns the class of a Send error: its *provider.Error's class, Transient for any
// other error (a timeout or a cancelled request is worth retrying), 0 for nil.
func ClassOf(err error) Class { return provider.ClassOf(err) }

// unreachable, permanent and transient build the *provider.Error of a send that failed
// before or without a provider answer.
func unreachable(name, code string, err error) *provider.Error {
	return &provider.Error{Provider: name, Code: code, Unreachable: true, Err: err}
}

func permanent(name, code string, err error) *provider.Error {
	return &provider.Error{Provider: name, Code: code, Err: err}
}

func transient(name string, err error) *provider.Error {
	return &provider.Error{Provider: name, Retryable: true, Err: err}
}
