//go:build ackbroken_early && !ackbroken_receipt

package replication

import "time"

// Build tag ackbroken_early (tests only, a negative control): a deliberately broken
// acknowledgement that confirms every complete transaction once it is queued for the
// hand-off, before the hand-off commits, and sends it at once (every 20 ms at most). The
// chaos tests must detect the loss it causes.

func (r *reader) ackPosition() uint64   { return max(r.s.frontier.Load(), r.brokenAck) }
func (r *reader) onAck(lsn uint64) bool { return traceAck(r, lsn) }
func (*reader) onReceive(uint64, int)   {}

func (r *reader) onQueued(end uint64) {
	r.brokenAck = max(r.brokenAck, end)
	if time.Since(r.lastSent) >= 20*time.Millisecond {
		_ = r.sendStatus(false)
	}
}
