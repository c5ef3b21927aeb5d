package provider

import (
	"time"

	"github.com/riverqueue/river"
)

// Action is what a River job does after a provider call.
type Action int

// The actions, in River's terms.
const (
	// Complete: the call succeeded.
	Complete Action = iota
	// Retry: return the error; River counts the attempt and retries at the worker's
	// NextRetry (Backoff), or discards the job after its last attempt.
	Retry
	// Snooze: river.JobSnooze(Wait); the attempt is not counted.
	Snooze
	// Cancel: river.JobCancel; the call will fail the same way again.
	Cancel
)

func (a Action) String() string {
	return [...]string{"complete", "retry", "snooze", "cancel"}[a]
}

// Decision is an Action and, for Snooze, its wait.
type Decision struct {
	Action Action
	Wait   time.Duration
}

// Policy tunes Decide for a worker. The zero Policy is the plain mapping.
type Policy struct {
	// SnoozeMin is the shortest snooze. When set, a rate-limited failure without Retry-After
	// also snoozes (for SnoozeMin) instead of being retried.
	SnoozeMin time.Duration
	// SnoozeTransient snoozes transient failures for Backoff(BackoffBase, BackoffMax,
	// attempt) instead of retrying them, so an outage does not use up the job's attempts.
	SnoozeTransient bool
	// BackoffBase and BackoffMax bound SnoozeTransient's back-off.
	BackoffBase, BackoffMax time.Duration
}

// Decide maps the outcome of a job's provider call (attempt is the job's 1-based attempt):
//
//	nil                                       → Complete
//	permanent or unreachable *Error           → Cancel
//	unavailable *Error (breaker open)         → Snooze Jitter(max(RetryAfter, SnoozeMin, 1 s))
//	retryable *Error with RetryAfter          → Snooze max(RetryAfter, SnoozeMin)
//	rate-limited *Error, no RetryAfter        → Snooze SnoozeMin if set, else as transient
//	transient *Error or any other error       → Snooze Backoff if SnoozeTransient, else Retry
func (p Policy) Decide(err error, attempt int) Decision {
	if err == nil {
		return Decision{Action: Complete}
	}
	pe, ok := As(err)
	if !ok {
		return p.transient(attempt)
	}
	switch c := pe.Class(); {
	case c == Permanent || c == Unreachable:
		return Decision{Action: Cancel}
	case c == Unavailable:
		return Decision{Action: Snooze, Wait: Jitter(max(pe.RetryAfter, p.SnoozeMin, time.Second))}
	case pe.RetryAfter > 0:
		return Decision{Action: Snooze, Wait: max(pe.RetryAfter, p.SnoozeMin)}
	case c == RateLimited && p.SnoozeMin > 0:
		return Decision{Action: Snooze, Wait: p.SnoozeMin}
	}
	return p.transient(attempt)
}

func (p Policy) transient(attempt int) Decision {
	if p.SnoozeTransient {
		return Decision{Action: Snooze, Wait: Backoff(p.BackoffBase, p.BackoffMax, attempt)}
	}
	return Decision{Action: Retry}
}

// JobResult renders d as a River worker's return value for err.
func (d Decision) JobResult(err error) error {
	switch d.Action {
	case Complete:
		return nil
	case Snooze:
		return river.JobSnooze(d.Wait)
	case Cancel:
		return river.JobCancel(err)
	}
	return err
}

// JobResult is Decide(err, attempt).JobResult(err): what a worker returns to River.
func (p Policy) JobResult(err error, attempt int) error {
	return p.Decide(err, attempt).JobResult(err)
}

// BreakerOpen is the *Error of a call not made because breaker is open for retryAfter.
func BreakerOpen(provider, code string, retryAfter time.Duration, err error) *Error {
	return &Error{Provider: provider, Code: code, Retryable: true, Unavailable: true, RetryAfter: retryAfter, Err: err}
}
