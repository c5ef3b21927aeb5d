//go:build ackbroken_receipt

package replication

import "time"

// Build tag ackbroken_receipt (tests only, a negative control): a deliberately broken
// acknowledgement that confirms what was received — the end of every XLogData, even inside
// a transaction — and sends it at once (every 20 ms at most), before any hand-off. The
// chaos tests must detect the loss it causes.

func (r *reader) ackPosition() uint64   { return max(r.s.frontier.Load(), r.brokenAck) }
func (r *reader) onAck(lsn uint64) bool { return traceAck(r, lsn) }
func (*reader) onQueued(uint64)         {}

func (r *reader) onReceive(start uint64, n int) {
	r.brokenAck = max(r.brokenAck, start+uint64(n))
	if time.Since(r.lastSent) >= 20*time.Millisecond {
		_ = r.sendStatus(false)
	}
}
