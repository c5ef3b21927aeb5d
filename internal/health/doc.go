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
// The circuit breakers themselves live in package breaker; Recorder makes every state
// change of theirs durable.
//
// Recorder makes every breaker state change durable, once, in one transaction: a
// vendorhub.breaker_transitions row, a breaker.changed event (vendorhub.emit), an audit row,
// an in-app notification for each operator (auth users with app_metadata.role "operator")
// and, when an alert webhook is configured, a River job that posts it (AlertWorker).
// gobreaker reports changes under its lock, so breaker.Breakers hands them to the Recorder through a
// buffered channel and never waits for the database.
//
// Latency is a handoff.Broadcaster that measures realtime latency: the time from an event's
// commit to its hand-off to the realtime publisher.
package health
