// Package kind names the notification channels. It is the one piece of package channel the
// WAL path needs (the notification planner picks channels), kept apart so that the planner
// does not import the provider SDKs channel's senders are built on.
package kind

// Kind names a delivery channel.
type Kind string

// The remote channels, in the default fallback order.
const (
	Push  Kind = "push"
	Email Kind = "email"
	SMS   Kind = "sms"
)

// Valid reports whether k is one of Push, Email, SMS.
func (k Kind) Valid() bool { return k == Push || k == Email || k == SMS }
