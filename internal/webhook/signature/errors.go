package signature

import "errors"

// Failure classes. Every error returned by this package matches exactly one with errors.Is.
var (
	ErrMissingHeader     = errors.New("missing signature header")
	ErrMalformed         = errors.New("malformed signature header")
	ErrInvalidTimestamp  = errors.New("invalid timestamp")
	ErrTimestampTooOld   = errors.New("timestamp too old")
	ErrTimestampTooNew   = errors.New("timestamp too far in the future")
	ErrSignatureMismatch = errors.New("signature mismatch")
	ErrInvalidSecret     = errors.New("invalid secret")
)

// Error is a verification failure: Kind is one of the sentinels, Detail a short safe note
// (header name, count) for logs and the audit log.
type Error struct {
	Kind   error
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "signature: " + e.Kind.Error()
	}
	return "signature: " + e.Kind.Error() + ": " + e.Detail
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

func fail(kind error, detail string) error { return &Error{Kind: kind, Detail: detail} }
