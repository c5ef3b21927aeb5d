package outbound

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
)

// Provider names a vendor's webhook endpoint in provider errors.
const Provider = "webhook endpoint"

// Next is what follows one delivery attempt.
type Next int

// The next steps after an attempt.
const (
	// Delivered: the endpoint answered 2xx.
	Delivered Next = iota
	// RetryAt: try again at Verdict.At.
	RetryAt
	// GiveUp: the attempts are spent; the delivery fails, the endpoint stays on.
	GiveUp
	// Disable: the endpoint answered 410 Gone or has failed for too long; the delivery fails
	// and the endpoint is turned off.
	Disable
)

// Attempt is what Decide reads: the endpoint's state, the job's attempt and the answer.
type Attempt struct {
	// Now is when the attempt was made.
	Now time.Time
	// FailingSince is when the endpoint's current run of failures began; nil if it is healthy.
	FailingSince *time.Time
	// Number is the job's 1-based attempt; Max the attempts it gets.
	Number, Max int
	// Status is the endpoint's HTTP status (when SendErr is nil); SendErr a failed round trip.
	Status  int
	SendErr error
}

// Verdict is Decide's answer.
type Verdict struct {
	Next Next
	// Outcome is the attempt's webhook_delivery_attempts.outcome: succeeded, failed or gone.
	Outcome string
	// At is the next attempt's time (RetryAt).
	At time.Time
	// Reason says why the endpoint is disabled (Disable).
	Reason string
	// Err is the attempt's failure, classified; nil when Delivered.
	Err *provider.Error
}

// Status is the delivery's webhook_deliveries.status after the attempt.
func (v Verdict) Status() string {
	switch v.Next {
	case Delivered:
		return "succeeded"
	case RetryAt:
		return "pending"
	}
	return "failed"
}

// Outage reports whether the attempt says the endpoint is down (it counts against the
// endpoint's breaker): no answer, 408 or 5xx — provider.IsOutage. A 4xx is the receiver's
// answer, not an outage.
func (v Verdict) Outage() bool { return v.Err != nil && provider.IsOutage(v.Err) }

// Decide is the delivery rule, without I/O. 2xx delivers. 410 Gone disables the endpoint.
// An address the guarded client refused (netguard.ErrBlocked) is a permanent failure, like a
// 4xx: the endpoint's configuration, not an outage. Any other failure disables it once it has been failing for disableAfter, gives up after
// the last attempt, and otherwise retries after delay(a.Number) — the configured schedule
// (Svix's), which an endpoint's Retry-After does not change.
func Decide(a Attempt, disableAfter time.Duration, delay func(attempt int) time.Duration) Verdict {
	if a.SendErr == nil && a.Status >= 200 && a.Status < 300 {
		return Verdict{Next: Delivered, Outcome: "succeeded"}
	}
	v := Verdict{Outcome: "failed"}
	switch {
	case errors.Is(a.SendErr, netguard.ErrBlocked):
		v.Err = &provider.Error{Provider: Provider, Err: a.SendErr}
	case a.SendErr != nil:
		v.Err = provider.Transport(Provider, "", a.SendErr)
	default:
		v.Err = provider.FromStatus(Provider, "", a.Status)
	}
	since := a.Now
	if a.FailingSince != nil {
		since = *a.FailingSince
	}
	switch {
	case a.SendErr == nil && a.Status == http.StatusGone:
		v.Next, v.Outcome, v.Reason = Disable, "gone", "endpoint answered 410 Gone"
	case a.Now.Sub(since) >= disableAfter:
		v.Next, v.Reason = Disable, fmt.Sprintf("failing since %s", since.UTC().Format(time.RFC3339))
	case a.Number >= a.Max:
		v.Next = GiveUp
	default:
		v.Next, v.At = RetryAt, a.Now.Add(delay(a.Number))
	}
	return v
}
