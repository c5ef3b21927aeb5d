//go:build !ackbroken_receipt && !ackbroken_early && !acktrace

package replication

// The hooks below are the seams of test-only builds (testhooks_*.go, selected with build
// tags by tests/replication): the shipped binary compiles them to nothing, and none of them
// is a setting of the shipped binary.

// ackPosition is the position a status update acknowledges: the frontier.
func (r *reader) ackPosition() uint64 { return r.s.frontier.Load() }

// onAck is called with every position about to be sent as write, flush and apply; false
// keeps it from being sent.
func (*reader) onAck(uint64) bool { return true }

// onReceive is called with every XLogData's WAL start and length.
func (*reader) onReceive(uint64, int) {}

// onQueued is called with the end of every transaction queued for the hand-off.
func (*reader) onQueued(uint64) {}
