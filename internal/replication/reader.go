package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wedsync/vendorhub/internal/decode"
)

// pollInterval bounds one read, so acknowledgements go out soon after a hand-off commits.
const pollInterval = 100 * time.Millisecond

// reader owns the replication connection of one session: it reads, decodes, routes and
// broadcasts each complete transaction (see Committer), queues it for the hand-off, and
// sends every status update (pgconn is not safe for concurrent use).
type reader struct {
	s     *Stream
	conn  *pgconn.PgConn
	dec   *decode.Decoder
	items chan<- item
	queue *budget
	hoErr <-chan error

	queued      uint64 // highest EndLSN (or promotion) queued
	sentFlush   uint64 // highest position sent
	lastSent    time.Time
	nextStatus  time.Time
	lastMsg     time.Time
	lastPromote time.Time
	deadline    time.Time // the read deadline set on the socket
	inTx        bool
	openStreams map[uint32]struct{}
	brokenAck   uint64 //nolint:unused // only the ackbroken_* test builds use it (testhooks_*.go)
}

// sendStatus sends the frontier as write, flush and apply position.
func (r *reader) sendStatus(replyRequested bool) error {
	f := max(r.ackPosition(), r.sentFlush)
	if f == 0 {
		// Never send zero: pglogrepl would turn it into the write position. (The session
		// loads a non-zero frontier before it starts; this is a guard.)
		r.nextStatus = time.Now().Add(r.s.cfg.StatusInterval)
		return nil
	}
	if !r.onAck(f) {
		return nil // a test build could not trace it: not sent
	}
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), r.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(f), WALFlushPosition: pglogrepl.LSN(f), WALApplyPosition: pglogrepl.LSN(f),
		ReplyRequested: replyRequested,
	})
	if err != nil {
		return fmt.Errorf("replication: send status: %w", err)
	}
	r.sentFlush = f
	r.lastSent = time.Now()
	r.nextStatus = r.lastSent.Add(r.s.cfg.StatusInterval)
	return nil
}

// tick sends the status update when due and checks liveness.
func (r *reader) tick(now time.Time) error {
	switch {
	case !now.Before(r.nextStatus):
		// The periodic update asks for a reply, so a live connection always answers.
		if err := r.sendStatus(true); err != nil {
			return err
		}
	case r.s.frontier.Load() > r.sentFlush && now.Sub(r.lastSent) >= r.s.cfg.AckInterval:
		if err := r.sendStatus(false); err != nil {
			return err
		}
	}
	if silent := now.Sub(r.lastMsg); silent > r.s.cfg.ReceiveTimeout {
		return &ReceiveTimeoutError{Silent: silent}
	}
	return nil
}

func (r *reader) loop(ctx context.Context) error {
	now := time.Now()
	r.lastMsg = now
	if err := r.sendStatus(false); err != nil {
		return err
	}
	for {
		now = time.Now()
		if err := r.tick(now); err != nil {
			return err
		}
		select {
		case err := <-r.hoErr:
			return err
		default:
		}
		deadline := now.Add(pollInterval)
		for _, t := range []time.Time{r.nextStatus, r.lastMsg.Add(r.s.cfg.ReceiveTimeout)} {
			if t.Before(deadline) {
				deadline = t
			}
		}
		// A read deadline on the socket rather than a context per read: no watcher goroutine
		// per message. A timeout leaves the connection usable; ctx is checked every poll.
		// A deadline still ahead and not later than wanted stays: resetting the socket's
		// timer for every message costs more than reading it when a backlog streams.
		if !r.deadline.After(now) || deadline.Before(r.deadline) {
			if err := r.conn.Conn().SetReadDeadline(deadline); err != nil {
				return fmt.Errorf("replication: set read deadline: %w", err)
			}
			r.deadline = deadline
		}
		msg, err := r.conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				continue
			}
			return fmt.Errorf("replication: receive: %w", err)
		}
		r.lastMsg = time.Now()
		if ctx.Err() != nil {
			return nil
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if err := r.handle(ctx, msg.Data); err != nil {
				return err
			}
		case *pgproto3.ErrorResponse:
			return pgconn.ErrorResponseToPgError(msg)
		case *pgproto3.CopyDone:
			return errors.New("replication: server ended the stream")
		}
	}
}

func (r *reader) handle(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("replication: keepalive: %w", err)
		}
		r.serverEnd(uint64(pkm.ServerWALEnd))
		if pkm.ReplyRequested {
			if err := r.sendStatus(false); err != nil {
				return err
			}
		}
		r.promote(uint64(pkm.ServerWALEnd))
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("replication: xlogdata: %w", err)
		}
		r.serverEnd(uint64(xld.ServerWALEnd))
		r.track(xld.WALData)
		r.onReceive(uint64(xld.WALStart), len(xld.WALData))
		txs, err := r.dec.Feed(uint64(xld.WALStart), xld.WALData)
		if err != nil {
			return fmt.Errorf("replication: %w", err)
		}
		for i := range txs {
			if txs[i].EndLSN <= r.queued {
				skipped.Inc() // a replay of what is already durable or queued
				continue
			}
			// Route once, broadcast now (the transaction is committed), hand off later.
			routed := r.s.committer.Route(txs[i : i+1])
			r.s.committer.Broadcast(routed)
			if err := r.enqueue(ctx, item{tx: &txs[i], routed: routed}); err != nil {
				return err
			}
			r.queued = txs[i].EndLSN
			r.onQueued(r.queued)
		}
	}
	return nil
}

func (r *reader) serverEnd(lsn uint64) {
	if lsn > r.s.serverWALEnd.Load() {
		r.s.serverWALEnd.Store(lsn)
	}
}

// track follows whether a transaction is open (Begin without Commit, or a streamed
// transaction without StreamCommit/StreamAbort): idle promotion is only safe when none is.
func (r *reader) track(wal []byte) {
	if len(wal) == 0 {
		return
	}
	switch wal[0] {
	case 'B':
		r.inTx = true
	case 'C':
		r.inTx = false
	case 'S':
		if len(wal) >= 5 {
			r.openStreams[binary.BigEndian.Uint32(wal[1:5])] = struct{}{}
		}
	case 'c':
		if len(wal) >= 5 {
			delete(r.openStreams, binary.BigEndian.Uint32(wal[1:5]))
		}
	case 'A':
		if len(wal) >= 9 && binary.BigEndian.Uint32(wal[1:5]) == binary.BigEndian.Uint32(wal[5:9]) {
			delete(r.openStreams, binary.BigEndian.Uint32(wal[1:5]))
		}
	}
}

// promote queues a cursor-only hand-off to the server's WAL end when nothing is open: every
// commit before it was sent already and is queued ahead, so the position covers only WAL
// with nothing for vendorhub. At most once per StatusInterval, and only if the queue has room.
func (r *reader) promote(end uint64) {
	if r.inTx || len(r.openStreams) > 0 || end <= r.queued || time.Since(r.lastPromote) < r.s.cfg.StatusInterval {
		return
	}
	select {
	case r.items <- item{promote: end}:
		r.queued = end
		r.lastPromote = time.Now()
	default:
	}
}

// enqueue queues it for the hand-off once the queue has room for it (QueueSize, QueueBytes),
// keeping status updates going while it waits.
func (r *reader) enqueue(ctx context.Context, it item) error {
	it.size = sizeOf(it.tx, it.routed)
	taken := r.queue.take(it.size)
	if taken {
		select {
		case r.items <- it:
			return nil
		default:
		}
	}
	r.s.queueWaits.Add(1)
	queueWaitsTotal.Inc()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		var send chan<- item // nil (never ready) until the bytes are taken
		if taken {
			send = r.items
		}
		select {
		case send <- it:
			r.lastMsg = time.Now() // the server was not silent: we were not reading
			return nil
		case <-r.queue.freed:
		case err := <-r.hoErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			if !now.Before(r.nextStatus) || (r.s.frontier.Load() > r.sentFlush && now.Sub(r.lastSent) >= r.s.cfg.AckInterval) {
				if err := r.sendStatus(false); err != nil {
					return err
				}
			}
		}
		if !taken {
			taken = r.queue.take(it.size)
		}
	}
}
