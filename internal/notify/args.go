package notify

import (
	"time"

	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/channel/kind"
)

// Queue is the River queue of notification jobs (delivery and digests), so a slow provider
// never delays other integration work.
const Queue = "notify"

// FetchCooldown is the least time between two fetches of Queue's jobs. River's default (100 ms)
// can hold a new notification that long while workers are free; a fetch is one indexed query.
const FetchCooldown = 10 * time.Millisecond

// DeliverArgs is the River job that delivers one notification on one channel; package
// deliver works it. On failure the worker falls back to Rest (a new job), so each job
// touches exactly one provider and its retries never resend on another channel.
type DeliverArgs struct {
	// NotificationID is the in-app notification row being delivered.
	NotificationID string `json:"notification_id"`
	// UserID is its recipient.
	UserID string `json:"user_id"`
	// Channel is the channel of this job.
	Channel kind.Kind `json:"channel"`
	// Rest holds the channels to fall back to, in order.
	Rest []kind.Kind `json:"rest,omitempty"`
	// Critical marks a category that ignores quiet hours.
	Critical bool `json:"critical,omitempty"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "notify.deliver" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeliverArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// DigestArgs is the River job that sends a thread's held messages as one digest.
type DigestArgs struct {
	// UserID is the recipient.
	UserID string `json:"user_id"`
	// Thread is the thread key, e.g. "conversation:<uuid>".
	Thread string `json:"thread"`
}

// Kind implements river.JobArgs.
func (DigestArgs) Kind() string { return "notify.digest" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DigestArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }
