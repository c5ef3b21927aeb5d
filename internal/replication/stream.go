package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/route"
)

// Committer routes, broadcasts and makes batches durable: the sidecar's hand-off, or a stub
// in benchmarks. It is defined here, in the consumer's terms, so replication depends on no
// implementation.
//
// The reader routes each transaction once, as it completes, and broadcasts its events at
// once, in WAL order: the WAL holds only committed transactions, so a broadcast need not
// wait for the durable hand-off (a replay after a failure repeats it under the same event
// key). The same routed events then go to CommitRouted; the acknowledgement still follows
// only what CommitRouted made durable.
type Committer interface {
	// Cursor returns the stored cursor, 0 when there is none.
	Cursor(ctx context.Context) (uint64, error)
	// Route turns committed transactions into routed events, in WAL order (the pure half of
	// the hand-off). It must not block.
	Route(txs []decode.Transaction) []route.Routed
	// Broadcast hands routed events to the best-effort broadcasters; it must not block.
	Broadcast(events []route.Routed)
	// CommitRouted makes batch durable and sets the cursor to GREATEST(cursor, upTo) in one
	// transaction; routed are the batch's events as Route returned them. An empty batch
	// writes the cursor only.
	CommitRouted(ctx context.Context, batch []decode.Transaction, routed []route.Routed, upTo uint64) error
}

// Role is what a Stream currently is.
type Role string

// Roles.
const (
	RoleConnecting Role = "connecting" // not streaming: starting, reconnecting or failed
	RoleStandby    Role = "standby"    // another instance streams the slot; retrying
	RoleLeader     Role = "leader"     // streaming the slot
)

// Status is a snapshot of a Stream's state.
type Status struct {
	Role Role
	// Frontier is the acknowledged position (TransactionEndLSN).
	Frontier uint64
	// ServerWALEnd is the server's WAL end last reported.
	ServerWALEnd uint64
	// LastError is the error that ended the last session, "" if none.
	LastError string
	// QueueWaits counts the times reading stopped because the hand-off queue was full.
	QueueWaits uint64
}

// Stream is one sidecar's replication loop. Create it with New, run it with Run.
type Stream struct {
	cfg       Config
	committer Committer
	pool      *pgxpool.Pool
	log       *slog.Logger

	frontier     atomic.Uint64
	serverWALEnd atomic.Uint64
	queueWaits   atomic.Uint64
	role         atomic.Value // Role
	mu           sync.Mutex
	lastErr      string
	started      chan struct{} // closed when the first session starts streaming
	startedOnce  sync.Once
	lastPID      uint32 // backend pid of the previous session's replication connection
}

// New returns a Stream. pool is a regular pool on the same database, used to inspect the
// slot, emit heartbeats and end this instance's own lingering walsender.
func New(cfg Config, committer Committer, pool *pgxpool.Pool) (*Stream, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if committer == nil || pool == nil {
		return nil, errors.New("replication: nil committer or pool")
	}
	s := &Stream{cfg: cfg, committer: committer, pool: pool, log: cfg.Logger.With("slot", cfg.Slot), started: make(chan struct{})}
	s.setRole(RoleConnecting)
	return s, nil
}

// Status returns the current state.
func (s *Stream) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Role: s.Role(), Frontier: s.frontier.Load(), ServerWALEnd: s.serverWALEnd.Load(), LastError: s.lastErr,
		QueueWaits: s.queueWaits.Load()}
}

// Role returns the current role.
func (s *Stream) Role() Role { return s.role.Load().(Role) }

// Frontier returns the acknowledged position.
func (s *Stream) Frontier() uint64 { return s.frontier.Load() }

// Leading returns a channel closed when the Stream first becomes leader.
func (s *Stream) Leading() <-chan struct{} { return s.started }

func (s *Stream) setRole(r Role) {
	s.role.Store(r)
	for _, x := range []Role{RoleConnecting, RoleStandby, RoleLeader} {
		v := 0.0
		if x == r {
			v = 1
		}
		roleGauge.WithLabelValues(string(x)).Set(v)
	}
	if r == RoleLeader {
		s.startedOnce.Do(func() { close(s.started) })
	}
}

// Run streams until ctx ends, reconnecting after failures. It returns nil when ctx ends,
// and an error only for a failure no reconnect can fix (*SlotError).
func (s *Stream) Run(ctx context.Context) error {
	failures := 0 // failed sessions since the last one that streamed
	standbyLogged := false
	for {
		streamed, err := s.session(ctx)
		if ctx.Err() != nil {
			s.setRole(RoleConnecting)
			return nil
		}
		s.mu.Lock()
		s.lastErr = err.Error()
		s.mu.Unlock()
		var slotErr *SlotError
		if errors.As(err, &slotErr) {
			s.setRole(RoleConnecting)
			s.log.Error("replication: cannot use the slot", "err", err)
			return err
		}
		if streamed {
			failures = 0
		}
		var wait time.Duration
		if isSlotActive(err) {
			s.setRole(RoleStandby)
			if !standbyLogged {
				s.log.Info("replication: slot held by another instance; waiting as hot standby", "err", err)
				standbyLogged = true
			}
			wait = provider.Jitter(s.cfg.StandbyRetry)
		} else {
			failures++
			wait = provider.Backoff(s.cfg.ReconnectMin, s.cfg.ReconnectMax, failures)
			s.setRole(RoleConnecting)
			standbyLogged = false
			reconnects.Inc()
			s.log.Warn("replication: session ended; reconnecting", "err", err, "in", wait)
		}
		select {
		case <-ctx.Done():
			s.setRole(RoleConnecting)
			return nil
		case <-time.After(wait):
		}
	}
}

// SlotError reports a slot that cannot be streamed without an operator: lost (invalidated
// by max_slot_wal_keep_size), or created with another output plugin.
type SlotError struct {
	Slot   string
	Reason string
	Fix    string
}

func (e *SlotError) Error() string {
	return fmt.Sprintf("replication slot %q %s: %s", e.Slot, e.Reason, e.Fix)
}

// ReceiveTimeoutError reports a connection that stayed silent for longer than
// Config.ReceiveTimeout although status updates asked the server to reply: it is taken for
// half-open and replaced.
type ReceiveTimeoutError struct{ Silent time.Duration }

func (e *ReceiveTimeoutError) Error() string {
	return fmt.Sprintf("replication: no message from the server for %s (half-open connection?)", e.Silent.Round(time.Millisecond))
}

// HandoffError wraps a failed hand-off: nothing of its batch is durable or acknowledged.
type HandoffError struct{ Err error }

func (e *HandoffError) Error() string { return "replication: hand-off: " + e.Err.Error() }
func (e *HandoffError) Unwrap() error { return e.Err }

func isSlotActive(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ObjectInUse
}

// item is one entry of the hand-off queue: a complete transaction, or an idle promotion of
// the cursor to a position covering WAL with nothing for vendorhub.
type item struct {
	tx      *decode.Transaction
	routed  []route.Routed // tx's events, routed and broadcast by the reader
	promote uint64
	size    int64 // taken from the session's budget (sizeOf)
}

// session connects, streams until an error or ctx ends, and settles the hand-off. streamed
// reports that START_REPLICATION succeeded.
func (s *Stream) session(ctx context.Context) (streamed bool, err error) {
	cursor, err := s.committer.Cursor(ctx)
	if err != nil {
		return false, err
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	prevPID := s.lastPID
	s.lastPID = conn.PID()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx) //nolint:errcheck // closing a possibly dead connection
	}()

	created, confirmed, err := s.ensureSlot(ctx, conn)
	if err != nil {
		return false, err
	}
	if cursor == 0 && created == 0 {
		// An existing slot without a cursor row: start where the server would start 0/0,
		// at its confirmed position, and make that the cursor.
		created = confirmed
	}
	if created > cursor {
		// A new slot starts at its consistent point: nothing before it can be streamed.
		if cursor != 0 {
			s.log.Warn("replication: slot was recreated; WAL between the cursor and its consistent point is not streamed",
				"cursor", pglogrepl.LSN(cursor), "consistent_point", pglogrepl.LSN(created))
		}
		if err := s.committer.CommitRouted(ctx, nil, nil, created); err != nil {
			return false, &HandoffError{Err: err}
		}
		// The stored cursor is GREATEST(stored, created): read it back.
		if cursor, err = s.committer.Cursor(ctx); err != nil {
			return false, &HandoffError{Err: err}
		}
	}
	if err := s.start(ctx, conn, cursor, prevPID); err != nil {
		return false, err
	}
	s.advanceFrontier(cursor)
	s.setRole(RoleLeader)
	s.log.Info("replication: streaming", "from", pglogrepl.LSN(cursor), "instance", s.cfg.InstanceID)

	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	items := make(chan item, s.cfg.QueueSize)
	queue := newBudget(int64(s.cfg.QueueBytes))
	defer queueBytes.Set(0)
	hoErr := make(chan error, 1)
	hoDone := make(chan struct{})
	go s.handoffLoop(hctx, items, queue, hoErr, hoDone)

	hbCtx, hbCancel := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); s.heartbeats(hbCtx) }()

	r := &reader{s: s, conn: conn, dec: decode.NewDecoder(decode.Options{MaxBufferedChanges: s.cfg.MaxBufferedChanges}),
		items: items, queue: queue, hoErr: hoErr, queued: cursor, openStreams: map[uint32]struct{}{}}
	err = r.loop(ctx)
	hbCancel()
	<-hbDone
	close(items)

	// Settle: let queued complete transactions finish their hand-off.
	settle := time.NewTimer(s.cfg.ShutdownTimeout)
	defer settle.Stop()
	select {
	case <-hoDone:
	case <-settle.C:
		hcancel()
		<-hoDone
	}
	if err == nil || ctx.Err() != nil {
		// Orderly end: acknowledge what is durable and leave COPY mode.
		_ = conn.Conn().SetDeadline(time.Now().Add(5 * time.Second))
		if serr := r.sendStatus(false); serr == nil {
			_, _ = pglogrepl.SendStandbyCopyDone(context.Background(), conn)
		}
		s.log.Info("replication: stopped", "acknowledged", pglogrepl.LSN(s.frontier.Load()))
		if err == nil {
			err = ctx.Err()
		}
	}
	return true, err
}

// readBufferSize is the read buffer of the replication connection.
const readBufferSize = 256 << 10

// connect opens the replication connection: replication=database, application_name =
// instance id, TCP keepalives on.
func (s *Stream) connect(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.cfg.ConnString)
	if err != nil {
		return nil, fmt.Errorf("replication: parse DATABASE_URL: %w", err)
	}
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["application_name"] = s.cfg.InstanceID
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newCoalescingConn(c), nil // see coalesce.go
	}
	// Larger reads than pgproto3's 8 KiB: fewer wake-ups while draining a backlog.
	cfg.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		return pgproto3.NewFrontend(bufio.NewReaderSize(r, readBufferSize), w)
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("replication: connect: %w", err)
	}
	return conn, nil
}

// ensureSlot creates the slot if it is missing and returns its consistent point (0 when it
// already existed), or else the existing slot's confirmed_flush_lsn.
func (s *Stream) ensureSlot(ctx context.Context, conn *pgconn.PgConn) (created, confirmed uint64, err error) {
	var (
		plugin, walStatus, database, confirmedText string
		exists                                     bool
	)
	err = s.pool.QueryRow(ctx, `
select plugin, coalesce(wal_status, ''), coalesce(database, ''), coalesce(confirmed_flush_lsn, '0/0')::text, true
from pg_replication_slots where slot_name = $1`, s.cfg.Slot).Scan(&plugin, &walStatus, &database, &confirmedText, &exists)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("replication: inspect slot: %w", err)
	}
	if exists {
		var current string
		if err := s.pool.QueryRow(ctx, `select current_database()`).Scan(&current); err != nil {
			return 0, 0, fmt.Errorf("replication: inspect slot: %w", err)
		}
		switch {
		case plugin != "pgoutput":
			return 0, 0, &SlotError{Slot: s.cfg.Slot, Reason: fmt.Sprintf("uses output plugin %q", plugin),
				Fix: "drop it (select pg_drop_replication_slot('" + s.cfg.Slot + "')) or choose another VENDORHUB_SLOT; vendorhub creates it with pgoutput"}
		case database != current:
			return 0, 0, &SlotError{Slot: s.cfg.Slot, Reason: fmt.Sprintf("belongs to database %q, not %q", database, current),
				Fix: "choose another VENDORHUB_SLOT for this database"}
		case walStatus == "lost":
			return 0, 0, &SlotError{Slot: s.cfg.Slot, Reason: "is lost (its WAL was removed: max_slot_wal_keep_size exceeded)",
				Fix: "drop it (select pg_drop_replication_slot('" + s.cfg.Slot + "')), restart vendorhub to recreate it, and reconcile pending notifications and integrations from the domain tables; raise max_slot_wal_keep_size"}
		}
		lsn, err := pglogrepl.ParseLSN(confirmedText)
		if err != nil {
			return 0, 0, fmt.Errorf("replication: slot confirmed_flush_lsn: %w", err)
		}
		return 0, uint64(lsn), nil
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, s.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.DuplicateObject {
			return 0, 0, errors.New("replication: slot created concurrently by another instance; retrying")
		}
		return 0, 0, fmt.Errorf("replication: create slot: %w", err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, 0, fmt.Errorf("replication: create slot: consistent point: %w", err)
	}
	s.log.Info("replication: created slot", "consistent_point", lsn)
	return uint64(lsn), 0, nil
}

// start sends START_REPLICATION at cursor. When the slot is held by this instance's own
// previous connection (backend prevPID, a half-open one the server has not noticed yet), it
// ends that walsender and retries once.
func (s *Stream) start(ctx context.Context, conn *pgconn.PgConn, cursor uint64, prevPID uint32) error {
	opts := pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{
			"proto_version '2'",
			"publication_names '\"" + s.cfg.Publication + "\"'",
			"messages 'true'",
			"streaming 'on'",
		},
	}
	err := pglogrepl.StartReplication(ctx, conn, s.cfg.Slot, pglogrepl.LSN(cursor), opts)
	if err == nil || !isSlotActive(err) {
		return err
	}
	if prevPID == 0 || !s.endOwnWalsender(ctx, prevPID) {
		return err
	}
	return pglogrepl.StartReplication(ctx, conn, s.cfg.Slot, pglogrepl.LSN(cursor), opts)
}

// endOwnWalsender terminates the walsender holding the slot if it serves this instance's
// previous replication connection (backend pid, and application_name = instance id): a
// connection of ours that went half-open. Never another instance's.
func (s *Stream) endOwnWalsender(ctx context.Context, pid uint32) bool {
	var ended bool
	err := s.pool.QueryRow(ctx, `
select coalesce(bool_or(pg_terminate_backend(r.pid, 5000)), false)
from pg_replication_slots sl join pg_stat_replication r on r.pid = sl.active_pid
where sl.slot_name = $1 and sl.active_pid = $2 and r.application_name = $3`, s.cfg.Slot, int64(pid), s.cfg.InstanceID).Scan(&ended)
	if err != nil {
		s.log.Warn("replication: could not end own lingering walsender", "err", err)
		return false
	}
	if ended {
		s.log.Warn("replication: ended this instance's lingering walsender (half-open connection)")
	}
	return ended
}

// heartbeats emits a heartbeat event every HeartbeatInterval while the session streams.
func (s *Stream) heartbeats(ctx context.Context) {
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := EmitHeartbeat(ctx, s.pool, s.cfg.InstanceID); err != nil && ctx.Err() == nil {
				s.log.Warn("replication: heartbeat", "err", err)
			}
		}
	}
}

// EmitHeartbeat writes a heartbeat event into the WAL (transactional logical message with
// the vendorhub prefix and a heartbeat envelope).
func EmitHeartbeat(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, instance string) error {
	_, err := db.Exec(ctx, `
select pg_logical_emit_message(true, 'vendorhub', json_build_object(
  'id', gen_random_uuid(), 'type', 'heartbeat', 'occurred_at', now(),
  'subject', json_build_object('table', '', 'id', ''),
  'data', json_build_object('instance', $1::text))::text)`, instance)
	return err
}

// advanceFrontier raises the frontier to lsn (never lowers it).
func (s *Stream) advanceFrontier(lsn uint64) {
	for {
		cur := s.frontier.Load()
		if lsn <= cur || s.frontier.CompareAndSwap(cur, lsn) {
			break
		}
	}
	ackedLSN.Set(float64(s.frontier.Load()))
}

// handoffLoop takes queued items in batches and commits them, in order. It stops at the
// first error (reported on errc) or when items is closed and drained.
func (s *Stream) handoffLoop(ctx context.Context, items <-chan item, queue *budget, errc chan<- error, done chan<- struct{}) {
	defer close(done)
	var (
		batch  []decode.Transaction
		routed []route.Routed
	)
	for {
		it, ok := <-items
		if !ok {
			return
		}
		batch, routed = batch[:0], routed[:0]
		var upTo uint64
		var size int64
		events := 0
		add := func(it item) {
			size += it.size
			if it.tx != nil {
				batch = append(batch, *it.tx)
				routed = append(routed, it.routed...)
				events += len(it.tx.Changes) + len(it.tx.Messages)
				upTo = max(upTo, it.tx.EndLSN)
			} else {
				upTo = max(upTo, it.promote)
			}
		}
		add(it)
		var (
			wait  <-chan time.Time
			timer *time.Timer
		)
		if s.cfg.BatchWait > 0 {
			timer = time.NewTimer(s.cfg.BatchWait)
			wait = timer.C
		}
	fill:
		for ok && len(batch) < s.cfg.BatchMaxTransactions && events < s.cfg.BatchMaxEvents {
			select {
			case it, ok = <-items:
				if ok {
					add(it)
				}
				continue
			default:
			}
			if wait == nil {
				break fill
			}
			select {
			case it, ok = <-items:
				if ok {
					add(it)
				}
			case <-wait:
				break fill
			}
		}
		if timer != nil {
			timer.Stop()
		}
		if err := s.committer.CommitRouted(ctx, batch, routed, upTo); err != nil {
			errc <- &HandoffError{Err: err}
			return
		}
		s.committed(batch, upTo, routed)
		queue.give(size)
		if !ok {
			return
		}
	}
}

// committed records a committed hand-off: frontier (then acknowledged by the reader) and
// metrics. Its events were broadcast already, by the reader.
func (s *Stream) committed(batch []decode.Transaction, upTo uint64, routed []route.Routed) {
	s.advanceFrontier(upTo)
	if n := len(batch); n > 0 {
		lagSeconds.Set(time.Since(batch[n-1].CommitTime).Seconds())
	} else {
		lagSeconds.Set(0)
	}
	if end := s.serverWALEnd.Load(); end > upTo {
		lagBytes.Set(float64(end - upTo))
	} else {
		lagBytes.Set(0)
	}
	// One counter update per run of events of the same type.
	for i := 0; i < len(routed); {
		t, n := routed[i].Type, 1
		for i+n < len(routed) && routed[i+n].Type == t {
			n++
		}
		eventsTotal.WithLabelValues(string(t)).Add(float64(n))
		i += n
	}
}
