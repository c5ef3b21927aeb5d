// Package deliver works the notification jobs the planner (package notify) inserts: one
// River job per notification and channel, sending through a channel.Sender (FCM, Resend,
// Twilio, or the dev mailbox).
//
// Every attempt leaves a public.deliveries row (one per notification, channel and attempt)
// with a normalized status and the provider's id. The outcome of a send decides the rest:
//
//   - accepted: 'sent'; push tokens FCM reported dead are disabled even on success;
//   - recipient unreachable on the channel (no live device, every token dead, STOP 21610,
//     invalid number, bounced or malformed address): the recipient's state is updated
//     (device disabled, number opted out or marked invalid, address marked bounced), the
//     row is 'failed' or 'suppressed', and the next channel of the chain gets a job;
//   - provider unavailable (its circuit breaker is open, package health): the row is
//     'failed' (code circuit_open), the recipient's state is untouched, and the next
//     channel of the chain gets a job;
//   - rate limited (429): the row is 'deferred' and the job snoozes for Retry-After (a
//     snooze is not an attempt);
//   - transient (5xx, timeouts): the row is 'failed' and River retries with exponential
//     backoff and jitter (provider.Backoff, Config.RetryBase … RetryMax); after the last attempt the
//     delivery stays failed, an integration.failed event is emitted and the chain falls back;
//   - permanent (bad payload, credentials, idempotency-key misuse): the same, at once, and
//     the job is cancelled (river.JobCancel).
//
// Quiet hours are checked again before each non-critical push or SMS (a fallback can land
// inside them): the job snoozes to the end of the window with a 'deferred' row.
//
// Email carries an idempotency key derived from the event key, recipient and channel, so a
// worker killed after Resend accepted an email re-sends nothing when the job runs again.
// Provider status webhooks (Resend, Twilio) update the rows later; see status.go.
package deliver
