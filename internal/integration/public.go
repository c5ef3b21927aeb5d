package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
// integration_connections.last_error, integration.failed events): the first fixed message in
// err's chain, else a provider error's status code and class, else GenericFailure. Never
// response bytes, URLs or provider messages.
func PublicMessage(err error) string {
	if err == nil {
		return ""
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

// PublicMessage is the fixed text of a provider failure: provider, call, HTTP status and class,
// or the fixed message of the error it wraps.
func (e *ProviderError) PublicMessage() string {
	prefix := e.Provider + " " + e.Op + ": "
	var pm publicMessager
	switch {
	case e.Err != nil && errors.As(e.Err, &pm):
		return prefix + pm.PublicMessage()
	case e.Status != 0:
		return prefix + fmt.Sprintf("the provider answered HTTP %d %s", e.Status, http.StatusText(e.Status))
	case e.RateLimited:
		return prefix + "rate limited"
	case errors.Is(e.Err, context.DeadlineExceeded):
		return prefix + "timed out"
	case e.Err != nil:
		return prefix + "no answer (the connection failed)"
	}
	return prefix + "failed"
}
