//go:build acktrace || ackbroken_receipt || ackbroken_early

package replication

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
)

// EnvAckTrace names the file test builds append one line per acknowledgement to:
// "<acknowledged LSN> <cursor LSN>", the cursor row as committed just before the status
// update is sent. The cursor only grows, so acknowledged ≤ cursor on every line proves
// that no acknowledgement ever passed the durable cursor. Only builds with the tags
// acktrace, ackbroken_receipt or ackbroken_early read it.
const EnvAckTrace = "VENDORHUB_TEST_ACK_TRACE"

var ackTrace struct {
	once sync.Once
	mu   sync.Mutex
	f    *os.File
}

// traceAck records lsn with the cursor read now, and reports whether the status update may
// be sent: not when the cursor cannot be read (the line would prove nothing).
func traceAck(r *reader, lsn uint64) bool {
	ackTrace.once.Do(func() {
		if p := os.Getenv(EnvAckTrace); p != "" {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				panic(fmt.Sprintf("%s: %v", EnvAckTrace, err))
			}
			ackTrace.f = f
		}
	})
	if ackTrace.f == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor string
	if err := r.s.pool.QueryRow(ctx, `select coalesce((select lsn::text from vendorhub.replication_cursor where slot_name = $1), '0/0')`,
		r.s.cfg.Slot).Scan(&cursor); err != nil {
		return false
	}
	ackTrace.mu.Lock()
	defer ackTrace.mu.Unlock()
	// One write per line: a SIGKILL leaves whole lines only.
	_, _ = fmt.Fprintf(ackTrace.f, "%s %s\n", pglogrepl.LSN(lsn), cursor)
	return true
}
