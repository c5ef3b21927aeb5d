// Package decode turns pgoutput logical replication messages (protocol version 2, with
// messages 'true' and streaming 'on') into committed transactions of typed changes and
// logical decoding messages.
//
// It is pure: no I/O, no goroutines. The replication loop hands every XLogData payload to
// (*Decoder).Feed, in order, and receives the transactions that became complete with it.
// Parsing of each protocol message is pglogrepl's (ParseV2); this package adds what a
// consumer needs on top of it:
//
//   - a relation cache, replaced when a new Relation message arrives (schema change);
//   - transaction assembly (Begin … Commit) and, for streamed in-progress transactions,
//     buffering per xid until StreamCommit, with StreamAbort discarding the transaction or
//     only the aborted subtransaction;
//   - TOAST fidelity: an unchanged TOASTed column ('u') is a Value of Kind Unchanged, never
//     a null; an update under the default replica identity that did not change the key
//     carries no old row, reported as OldKind None (missing), never as an empty row;
//   - typed errors (*ProtocolError, *UnknownRelationError, *BufferLimitError) classified
//     with errors.As, and no panic on any input (pglogrepl trusts lengths it reads, so
//     Feed checks the bounds of every message before handing it over).
//
// Acknowledgement: only Transaction.EndLSN (pgoutput's TransactionEndLSN) may be
// acknowledged to the server, and only once the transaction's durable effects committed.
package decode
