package replication

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// coalescingPair returns a coalescing client connection, coalescing already, and the server
// end of a loopback TCP connection.
func coalescingPair(t *testing.T) (*coalescingConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	server, ok := <-accepted
	require.True(t, ok, "accept failed")
	t.Cleanup(func() { c.Close(); server.Close() })
	cc, ok := newCoalescingConn(c).(*coalescingConn)
	require.True(t, ok, "a TCP connection on Linux coalesces")
	cc.setLowat(coalesceBytes)
	require.True(t, cc.on)
	require.Equal(t, coalesceBytes, rcvLowat(t, cc))
	return cc, server
}

func rcvLowat(t *testing.T, c *coalescingConn) int {
	t.Helper()
	var v int
	var gerr error
	require.NoError(t, c.raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
	}))
	require.NoError(t, gerr)
	return v
}

func TestCoalesceAfterSmallQuickReadsOnly(t *testing.T) {
	t.Parallel()
	require.True(t, coalesceAfter(400, 10*time.Microsecond), "a message that was already queued")
	require.False(t, coalesceAfter(0, 10*time.Microsecond), "nothing read")
	require.False(t, coalesceAfter(coalesceSmall, 10*time.Microsecond), "a large read: already coalesced")
	require.False(t, coalesceAfter(400, 5*time.Millisecond), "a read that waited: a quiet stream")
}

func TestCoalescedReadsLoseNothing(t *testing.T) {
	t.Parallel()
	cc, server := coalescingPair(t)
	want := make([]byte, 300<<10)
	_, _ = rand.Read(want)
	go func() {
		for b := want; len(b) > 0; b = b[min(len(b), 1000):] {
			if _, err := server.Write(b[:min(len(b), 1000)]); err != nil {
				return
			}
		}
	}()
	require.NoError(t, cc.SetReadDeadline(time.Now().Add(30*time.Second)))
	got := make([]byte, len(want))
	_, err := io.ReadFull(cc, got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))
}

// A message alone is delivered after at most coalesceWait, not held until the caller's
// deadline, and the connection stops coalescing.
func TestCoalescedReadDeliversALoneMessage(t *testing.T) {
	t.Parallel()
	cc, server := coalescingPair(t)
	time.AfterFunc(20*time.Millisecond, func() { _, _ = server.Write([]byte("lone message")) })
	require.NoError(t, cc.SetReadDeadline(time.Now().Add(30*time.Second)))
	began := time.Now()
	buf := make([]byte, 64<<10)
	n, err := cc.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "lone message", string(buf[:n]))
	require.Less(t, time.Since(began), 10*time.Second, "not held until the caller's deadline")
}

// A pause longer than coalesceWait ends coalescing; the caller's deadline still holds.
func TestCoalescingStopsWhenTheStreamPauses(t *testing.T) {
	t.Parallel()
	cc, server := coalescingPair(t)
	require.NoError(t, cc.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	began := time.Now()
	_, err := cc.Read(make([]byte, 64<<10))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(began), 150*time.Millisecond, "the caller's deadline, not coalesceWait, ended the read")
	require.False(t, cc.on)
	require.Equal(t, 1, rcvLowat(t, cc))

	_, err = server.Write([]byte("after the pause"))
	require.NoError(t, err)
	require.NoError(t, cc.SetReadDeadline(time.Now().Add(30*time.Second)))
	buf := make([]byte, 64<<10)
	n, err := cc.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "after the pause", string(buf[:n]))
}

// pgconn interrupts a blocked read by setting a past deadline from another goroutine.
func TestCoalescedReadIsInterruptedByADeadlineFromAnotherGoroutine(t *testing.T) {
	t.Parallel()
	cc, _ := coalescingPair(t)
	require.NoError(t, cc.SetDeadline(time.Time{}))
	done := make(chan error, 1)
	go func() {
		_, err := cc.Read(make([]byte, 64<<10))
		done <- err
	}()
	interrupt := time.NewTicker(5 * time.Millisecond)
	defer interrupt.Stop()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-done:
			require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "got %v", err)
			return
		case <-interrupt.C:
			require.NoError(t, cc.SetDeadline(time.Unix(1, 0)))
		case <-timeout:
			t.Fatal("the read was not interrupted")
		}
	}
}
