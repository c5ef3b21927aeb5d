// Package health watches vendorhub's moving parts and guards its providers.
//
// Monitor polls the database: the replication slot's lag (bytes and seconds) and state
// (wal_status, safe_wal_size, with a warning long before max_slot_wal_keep_size would
// invalidate the slot), River's queue depth and the age of its oldest waiting job, and the
// embedded gateway's socket count (from its Prometheus gauge). It keeps a short history for
// the dashboard's lag chart and writes a sample row every SampleInterval
// (vendorhub.health_samples) for the report.
//
// Lag is measured the way an operator would with a stopwatch: every poll marks the server's
// WAL position; lag_bytes is how far the slot's confirmed position is behind the previous
// poll's mark, and lag_seconds how long ago the oldest mark the slot has not confirmed was
// taken. A consumer that keeps up within one PollInterval therefore reads 0, and a stopped
// one reads growing numbers, whether or not this process is the one streaming.
//
// Breakers holds one circuit breaker (sony/gobreaker) per provider ("provider:fcm"), per
// integration connection ("connection:<uuid>": its calendar syncs, renewals, token refreshes,
// Light Blue pushes and outbound catch-hook deliveries) and per plain outbound webhook
// endpoint ("endpoint:<uuid>"). A breaker opens after a run of failures (or a failure
// ratio), fails calls fast while open (an *OpenError whose RetryAfter tells the caller's job
// how long to snooze), lets a probe through after OpenTimeout (half-open) and closes when the
// probe succeeds. DoIf lets the caller say which errors are outages. Sender wraps a channel.Sender with its provider's breaker:
// while open, Send fails with channel.Unavailable, which makes the delivery worker fall back
// to the recipient's next channel without blaming the recipient. Every call is also counted
// (success rate, latency percentiles, last error, consecutive failures) for the dashboard.
//
// Recorder makes every breaker state change durable, once, in one transaction: a
// vendorhub.breaker_transitions row, a breaker.changed event (vendorhub.emit), an audit row,
// an in-app notification for each operator (auth users with app_metadata.role "operator")
// and, when an alert webhook is configured, a River job that posts it (AlertWorker).
// gobreaker reports changes under its lock, so Breakers hands them to the Recorder through a
// buffered channel and never waits for the database.
//
// Latency is a handoff.Broadcaster that measures realtime latency: the time from an event's
// commit to its hand-off to the realtime publisher.
package health
