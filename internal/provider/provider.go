// Package provider is vendorhub's one vocabulary for failed calls to third-party providers
// (FCM, Resend, Twilio, Google, Microsoft Graph, Light Blue, iCalendar feeds, Supabase
// Realtime's REST API, vendors' webhook endpoints, the alert webhook): one error type, one
// Retry-After parser, one back-off with one jitter rule, and one mapping onto River's job
// outcomes.
//
// A failure is in exactly one class, read off an *Error:
//
//   - rate limited (RateLimited): the provider asked us to slow down (429, a quota error, our
//     own token bucket); retry after RetryAfter. Not an outage.
//   - transient (Retryable, not RateLimited): 408, 5xx, a timeout or a transport failure; the
//     same call may succeed later. Counts as an outage for circuit breakers.
//   - unreachable (Unreachable): the provider is fine but this recipient can't be reached on it
//     (dead device token, opted-out number, bounced address); try another route, don't retry.
//   - unavailable (Unavailable): the provider was not called — its circuit breaker is open;
//     come back after RetryAfter.
//   - permanent (none of the above): the same call will fail the same way (4xx: bad request,
//     credentials); stop.
//
// SDK clients return their own error types; each client package has one adapter that turns
// its SDK's error into an *Error, and that adapter is the only provider-specific part.
package provider

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Error is a failed provider call, classified. Use errors.As to find it in a chain.
type Error struct {
	// Provider names the provider: "fcm", "resend", "twilio", "google", "graph", …
	Provider string
	// Op names the call, e.g. "events.list"; "" when the provider has one call.
	Op string
	// Status is the HTTP status, 0 when there was no answer (transport failure, timeout) or
	// no call.
	Status int
	// Code is the provider's error code (FCM errorCode, Resend error name, Twilio code) or a
	// code of ours (e.g. "circuit_open"); "" when none.
	Code string
	// Retryable says the same call may succeed later (transient and rate-limited failures,
	// and an open breaker).
	Retryable bool
	// RateLimited marks a refusal for going too fast; it implies Retryable.
	RateLimited bool
	// Unreachable marks a recipient the provider can't reach (not retryable: try another
	// route).
	Unreachable bool
	// Unavailable marks a call not made because the provider's circuit breaker is open.
	Unavailable bool
	// RetryAfter is the wait the provider (or breaker, or token bucket) asked for; 0 if none.
	RetryAfter time.Duration
	// Message is the provider's error text (never a credential).
	Message string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	s := e.Provider
	if e.Op != "" {
		s += " " + e.Op
	}
	s += ": " + e.Class().String()
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Class is what a failure means for the caller.
type Class int

// The classes of a failure; 0 is no failure.
const (
	Transient Class = iota + 1
	RateLimited
	Unreachable
	Permanent
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
	return "ok"
}

// Class returns e's class.
func (e *Error) Class() Class {
	switch {
	case e.Unavailable:
		return Unavailable
	case e.Unreachable:
		return Unreachable
	case e.RateLimited:
		return RateLimited
	case e.Retryable:
		return Transient
	}
	return Permanent
}

// ClassOf returns the class of err: its *Error's class, Transient for any other error (a
// timeout or a cancelled request is worth retrying), 0 for nil.
func ClassOf(err error) Class {
	if err == nil {
		return 0
	}
	if pe, ok := As(err); ok {
		return pe.Class()
	}
	return Transient
}

// As returns the *Error in err's chain.
func As(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}

// RetryableStatus reports whether an HTTP status is worth retrying: 408, 429 and 5xx.
func RetryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// FromStatus classifies an HTTP status: 429 rate limited, 408 and 5xx transient, other
// non-2xx permanent. The caller fills in RetryAfter, Message and the rest.
func FromStatus(provider, op string, status int) *Error {
	return &Error{Provider: provider, Op: op, Status: status, Retryable: RetryableStatus(status),
		RateLimited: status == http.StatusTooManyRequests}
}

// maxBody is how much of an error answer FromResponse keeps as Message.
const maxBody = 4 << 10

// FromResponse classifies a non-2xx response: FromStatus, its Retry-After, and at most 4 KiB
// of its body as Message. It reads (but does not close) resp.Body.
func FromResponse(provider, op string, resp *http.Response) *Error {
	e := FromStatus(provider, op, resp.StatusCode)
	e.RetryAfter = RetryAfterHeader(resp.Header, time.Now())
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	e.Message = string(b)
	return e
}

// Transport wraps a failed round trip (refused, reset, timeout) as a transient *Error.
func Transport(provider, op string, err error) *Error {
	return &Error{Provider: provider, Op: op, Retryable: true, Err: err}
}

// IsRetryable reports whether err carries a retryable *Error.
func IsRetryable(err error) bool {
	pe, ok := As(err)
	return ok && pe.Retryable
}

// IsOutage reports whether err says the provider is down — a transient *Error (5xx, 408,
// timeout, transport failure) — as opposed to a rate limit, a refusal, an unreachable
// recipient or a local error. Outages count against circuit breakers.
func IsOutage(err error) bool {
	pe, ok := As(err)
	return ok && pe.Class() == Transient
}

// RetryAfterOf returns the wait err's *Error asked for, or 0.
func RetryAfterOf(err error) time.Duration {
	if pe, ok := As(err); ok {
		return pe.RetryAfter
	}
	return 0
}
