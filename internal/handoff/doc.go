// Package handoff makes committed WAL transactions durable before they are acknowledged.
//
// The replication reader routes each complete source transaction once, as it is decoded
// (Handoff.Route: route.Events, then Router.Route), and hands the routed events at once to
// the best-effort Broadcasters: the WAL holds only committed transactions, so a broadcast
// need not wait for the hand-off, and a replay repeats it under the same event keys. For
// each batch of those transactions, Handoff.CommitRouted then opens ONE transaction on a
// regular connection to the same database, calls every registered Sink with the same routed
// events inside it, advances the replication cursor row (vendorhub.replication_cursor) to
// the batch's last TransactionEndLSN with GREATEST so it never moves back, and commits. Only
// then may the replication loop acknowledge that position. Handoff.Commit routes and commits
// in one call, for callers that hold unrouted batches.
//
// Sinks must be idempotent on event.Key: a crash between the hand-off commit and the
// acknowledgement re-delivers the same events, and the same keys must then create no
// second job (River UniqueOpts ByArgs on the key, or ON CONFLICT on the key; InsertUniqueJobs
// inserts such jobs with COPY and lets River's unique index catch a replay). A Sink makes
// no provider call: anything slower than a local insert holds WAL on the database's disk.
//
// CountingSink and JobSink are the sinks tests and benchmarks use: the first counts, the
// second inserts one River job per event, unique on the event key.
package handoff
