package replication

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Read coalescing of the replication connection.
//
// The walsender sends every message as soon as it has decoded it. A reader that keeps up
// (draining a backlog, now that decoding is cheap) is woken for nearly every message, and a
// wake-up, a read and a failed read per message cost more CPU than decoding the message. On a
// small machine that CPU is taken from the walsender itself: the bench machine (2 cores,
// shared) measured up to 14 µs of CPU per event instead of 2 in that regime, and a fraction
// of the throughput. So when reads keep returning little data right away, the connection asks
// the kernel (SO_RCVLOWAT) to wake the reader only once coalesceBytes are queued; a read then
// waits at most coalesceWait for them before the connection goes back to waking on every
// byte. Data already queued is always returned at once. A stream that is quiet between
// transactions (its reads wait longer than coalesceQuick) never coalesces, so its
// commit-to-hand-off latency is untouched; a busy one gains at most coalesceWait.
//
// coalesceBytes is a compromise measured on that machine: a few dozen messages per wake-up
// remove the wake-up storms, while 64 KiB (half of the default receive buffer) measured
// lower throughput.
const (
	coalesceSmall = 8 << 10                // a read returning fewer bytes is small
	coalesceQuick = 100 * time.Microsecond // a read returning sooner found its data queued or nearly so
	coalesceBytes = 16 << 10               // SO_RCVLOWAT while coalescing
	coalesceWait  = 2 * time.Millisecond   // longest wait for coalesceBytes
)

// coalesceAfter reports whether a read that returned n bytes after took shows a stream that
// trickles in faster than wake-ups are worth.
func coalesceAfter(n int, took time.Duration) bool {
	return n > 0 && n < coalesceSmall && took < coalesceQuick
}

// coalescingConn is a TCP connection that coalesces reads (see above). It is read by one
// goroutine; its deadlines may be set from another (pgconn interrupts a read that way).
type coalescingConn struct {
	net.Conn
	raw syscall.RawConn
	on  bool // SO_RCVLOWAT is coalesceBytes

	mu       sync.Mutex
	deadline time.Time // the read deadline callers set
}

// newCoalescingConn wraps c when it is a TCP connection on a system with SO_RCVLOWAT, and
// returns c otherwise.
func newCoalescingConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok || !rcvLowatSupported {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &coalescingConn{Conn: c, raw: raw}
}

// SetDeadline implements net.Conn.
func (c *coalescingConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *coalescingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

// Read implements net.Conn.
func (c *coalescingConn) Read(b []byte) (int, error) {
	if c.on {
		return c.coalescedRead(b)
	}
	start := time.Now()
	n, err := c.Conn.Read(b)
	if coalesceAfter(n, time.Since(start)) {
		c.setLowat(coalesceBytes)
	}
	return n, err
}

// coalescedRead reads with SO_RCVLOWAT set, waiting at most coalesceWait for the kernel to
// queue coalesceBytes; past that it stops coalescing and reads as usual.
func (c *coalescingConn) coalescedRead(b []byte) (int, error) {
	c.mu.Lock()
	wait := time.Now().Add(coalesceWait)
	ours := c.deadline.IsZero() || wait.Before(c.deadline)
	if ours {
		_ = c.Conn.SetReadDeadline(wait)
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(b)
	if !ours {
		return n, err // the caller's deadline came first: its outcome is the caller's
	}
	c.mu.Lock()
	expired := errors.Is(err, os.ErrDeadlineExceeded) && (c.deadline.IsZero() || time.Now().Before(c.deadline))
	_ = c.Conn.SetReadDeadline(c.deadline)
	c.mu.Unlock()
	if !expired {
		return n, err
	}
	// Fewer than coalesceBytes came within coalesceWait: the stream slowed down.
	c.setLowat(1)
	return c.Conn.Read(b)
}

// setLowat sets SO_RCVLOWAT; when that fails the connection stops coalescing for good.
func (c *coalescingConn) setLowat(n int) {
	if c.raw == nil {
		return
	}
	var serr error
	if err := c.raw.Control(func(fd uintptr) { serr = setRcvLowat(fd, n) }); err != nil || serr != nil {
		c.raw = nil
		c.on = false
		return
	}
	c.on = n > 1
}
