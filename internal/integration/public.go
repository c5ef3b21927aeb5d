package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wedsync/vendorhub/internal/provider"
)

// publicMessager is an error with a fixed text fit for a vendor's members: never a provider's
// response bytes, a URL or a credential (netguard.BlockedError, ical.LimitError, FixedError).
type publicMessager interface{ PublicMessage() string }

// FixedError is an error whose whole text is vendorhub's own, stored for members as is.
type FixedError string

func (e FixedError) Error() string { return string(e) }

// PublicMessage implements publicMessager.
func (e FixedError) PublicMessage() string { return string(e) }

// GenericFailure is the public text of errors that carry no fixed message.
const GenericFailure = "failed (the details are in the sidecar log)"

// PublicMessage returns the text stored where a vendor's members read it (sync_runs.error,
// integration_connections.last_error, integration.failed events): a *provider.Error's
// provider, call and fixed message or status (providerMessage), else the first fixed message
// in err's chain, else GenericFailure. Never response bytes, URLs or provider messages. (No
// fixed message wraps a *provider.Error, so looking for the *provider.Error first finds the
// outermost of the two.)
func PublicMessage(err error) string {
	if err == nil {
		return ""
	}
	if pe, ok := provider.As(err); ok {
		return providerMessage(pe)
	}
	var pm publicMessager
	if errors.As(err, &pm) {
		return pm.PublicMessage()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return GenericFailure
}

// providerMessage is the fixed text of a provider failure: provider, call, and the fixed
// message of the error it wraps, or the HTTP status, or what kind of failure it was. Never
// e.Message (the provider's words).
func providerMessage(e *provider.Error) string {
	prefix := e.Provider
	if e.Op != "" {
		prefix += " " + e.Op
	}
	prefix += ": "
	var pm publicMessager
	switch {
	case e.Err != nil && errors.As(e.Err, &pm):
		return prefix + pm.PublicMessage()
	case e.Status != 0:
		return prefix + fmt.Sprintf("the provider answered HTTP %d %s", e.Status, http.StatusText(e.Status))
	case e.Unavailable:
		return prefix + "not called (its circuit breaker is open)"
	case e.RateLimited:
		return prefix + "rate limited"
	case errors.Is(e.Err, context.DeadlineExceeded):
		return prefix + "timed out"
	case e.Err != nil:
		return prefix + "no answer (the connection failed)"
	}
	return prefix + "failed"
}
