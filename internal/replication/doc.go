// Package replication streams vendorhub's logical replication slot and acknowledges only
// what is durable.
//
// A Stream owns one replication connection (pgconn with replication=database, pglogrepl
// for the protocol): it creates the pgoutput slot if missing, starts at the stored cursor
// (vendorhub.replication_cursor; never IDENTIFY_SYSTEM's XLogPos), decodes XLogData with
// package decode, routes each complete transaction once and broadcasts its events at once
// (Committer: the WAL holds only committed transactions, so the best-effort broadcast need
// not wait for the hand-off), and queues it with its routed events for the hand-off, which
// runs in its own goroutine so decoding continues while a hand-off commits. The queue is bounded: when it
// is full, reading stops and back-pressure lands in the slot.
//
// Acknowledgement (see docs/replication.md): the position sent as write, flush and
// apply is the frontier, the TransactionEndLSN of the newest transaction whose hand-off
// committed together with every earlier one. It never decreases, is never a received
// position, and is sent at least every StatusInterval, at once when the server asks, and at
// most every AckInterval after an advance. When nothing is pending, the server's WAL end
// is promoted through a cursor-only hand-off so an idle or filtered slot still advances;
// the leader also emits a heartbeat message every HeartbeatInterval.
//
// Failures: a read deadline detects a half-open connection (no message for
// ReceiveTimeout); any connection or hand-off error ends the session, and the Stream
// reconnects with exponential back-off and jitter, resuming at the cursor. The slot is the
// lock: while another instance streams it, START_REPLICATION fails with SQLSTATE 55006 and
// the Stream waits as a hot standby, retrying every StandbyRetry.
package replication
