package decode

import (
	"fmt"
	"strconv"
)

// ProtocolError reports a message that is malformed or out of place (a change outside a
// transaction, a Commit without Begin, a truncated message, an unsupported message type).
// The stream cannot be trusted past it: discard the Decoder and restart replication from
// the last acknowledged position.
type ProtocolError struct {
	// WALStart is the WALStart of the XLogData message that carried it.
	WALStart uint64
	// MessageType is the pgoutput message type byte (0 when the message was empty).
	MessageType byte
	// Reason says what is wrong.
	Reason string
}

func (e *ProtocolError) Error() string {
	t := "empty"
	if e.MessageType != 0 {
		t = strconv.QuoteRune(rune(e.MessageType))
	}
	return fmt.Sprintf("decode: pgoutput message %s at %s: %s", t, formatLSN(e.WALStart), e.Reason)
}

// UnknownRelationError reports a change for a relation id no Relation message described.
type UnknownRelationError struct {
	// ID is the relation id the change named.
	ID uint32
	// WALStart is the WALStart of the XLogData message that carried the change.
	WALStart uint64
}

func (e *UnknownRelationError) Error() string {
	return fmt.Sprintf("decode: change at %s for unknown relation %d (no Relation message seen)", formatLSN(e.WALStart), e.ID)
}

// BufferLimitError reports that buffering one more change or message of uncommitted
// transactions would exceed Options.MaxBufferedChanges. The decoder state is then
// undefined: discard the Decoder and either restart with a larger limit or enable
// streaming of large transactions (protocol version 2, streaming 'on') with a smaller
// logical_decoding_work_mem on the server.
type BufferLimitError struct {
	// Limit is Options.MaxBufferedChanges.
	Limit int
	// XID is the transaction whose change did not fit.
	XID uint32
}

func (e *BufferLimitError) Error() string {
	return fmt.Sprintf("decode: more than %d buffered changes of uncommitted transactions (xid %d): raise MaxBufferedChanges or lower logical_decoding_work_mem so the server streams", e.Limit, e.XID)
}

// formatLSN renders an LSN the way Postgres does: "16/B374D848".
func formatLSN(lsn uint64) string {
	return fmt.Sprintf("%X/%X", uint32(lsn>>32), uint32(lsn))
}
