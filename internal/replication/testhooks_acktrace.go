//go:build acktrace && !ackbroken_receipt && !ackbroken_early

package replication

// Build tag acktrace (tests only): the frontier is acknowledged as in the shipped binary,
// and every acknowledgement is traced with the committed cursor row (acktrace.go).

func (r *reader) ackPosition() uint64   { return r.s.frontier.Load() }
func (r *reader) onAck(lsn uint64) bool { return traceAck(r, lsn) }
func (*reader) onReceive(uint64, int)   {}
func (*reader) onQueued(uint64)         {}
