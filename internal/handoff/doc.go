// Package handoff makes committed WAL transactions durable before they are acknowledged.
//
// For each batch of complete source transactions, Handoff.Commit opens ONE transaction on a
// regular connection to the same database, routes every event (Router.AppendRouted:
// route.Events, then Router.Route), calls every registered Sink inside that transaction, advances the
// replication cursor row (vendorhub.replication_cursor) to the batch's last
// TransactionEndLSN with GREATEST so it never moves back, and commits. Only then may the
// replication loop acknowledge that position; afterwards it hands the routed events to the
// best-effort Broadcasters.
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
