package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/route"
)

// Sink writes the durable effects of routed events inside the hand-off transaction.
type Sink interface {
	// Name identifies the sink in logs, errors and metrics.
	Name() string
	// HandOff writes the durable effects of events inside tx (River jobs unique on the event
	// key via InsertManyTx or InsertUniqueJobs, rows with ON CONFLICT on the event key). It
	// must make no provider call, and be idempotent on event.Key (a replay after a crash
	// re-delivers the same events).
	HandOff(ctx context.Context, tx pgx.Tx, events []route.Routed) error
}

// Broadcaster receives routed events as soon as the replication reader has decoded their
// transaction, in WAL order, before their hand-off commits: the WAL holds only committed
// transactions, so nothing broadcast can be rolled back, and a replay after a failed
// hand-off or a crash repeats the events under the same event keys, which receivers treat as
// repeats. Delivery is best effort: Publish must not block (queue and drop when full,
// counting the drops), and nothing it does can hold the acknowledgement back.
type Broadcaster interface {
	Publish(events []route.Routed)
}

// SlotDefault is the default Config.Slot.
const SlotDefault = "vendorhub"

// Config configures a Handoff.
type Config struct {
	// Slot is the replication slot whose cursor row the hand-off advances. Defaults to
	// SlotDefault ("vendorhub").
	Slot string
	// Instance names this sidecar instance in the cursor row's updated_by column. Defaults
	// to "".
	Instance string
	// Sinks are called, in order, inside every hand-off transaction. Defaults to none (the
	// hand-off then only advances the cursor).
	Sinks []Sink
	// Broadcasters receive the routed events of every transaction as it is decoded, before
	// its hand-off (see Broadcaster). Defaults to none.
	Broadcasters []Broadcaster
	// Router routes events. Defaults to route.NewRouter(route.DefaultRules, …).
	Router *route.Router
	// Logger receives errors of sinks. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Slot == "" {
		c.Slot = SlotDefault
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Router == nil {
		c.Router = route.NewRouter(route.DefaultRules, route.Options{Logger: c.Logger})
	}
	return c
}

// Handoff commits batches of transactions durably. It is safe for concurrent use, but the
// replication loop calls it from one goroutine so hand-offs commit in WAL order.
type Handoff struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns a Handoff writing through pool.
func New(pool *pgxpool.Pool, cfg Config) (*Handoff, error) {
	if pool == nil {
		return nil, errors.New("handoff: nil pool")
	}
	cfg = cfg.WithDefaults()
	for i, s := range cfg.Sinks {
		if s == nil {
			return nil, fmt.Errorf("handoff: Sinks[%d] is nil", i)
		}
	}
	return &Handoff{pool: pool, cfg: cfg}, nil
}

// SinkError reports that a sink failed; the hand-off transaction was rolled back and
// nothing of the batch is durable.
type SinkError struct {
	// Sink is the failing sink's Name.
	Sink string
	Err  error
}

func (e *SinkError) Error() string { return "handoff: sink " + e.Sink + ": " + e.Err.Error() }
func (e *SinkError) Unwrap() error { return e.Err }

var (
	handoffDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "vendorhub_handoff_duration_seconds",
		Help:    "Duration of one durable hand-off transaction (sinks, cursor, commit).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	handoffBatchTransactions = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "vendorhub_handoff_batch_transactions",
		Help:    "Source transactions per hand-off transaction.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 8),
	})
	nonTransactional = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_handoff_nontransactional_skipped_total",
		Help: "Non-transactional logical messages received and not routed (they exist even if their writer rolled back).",
	})
	nonTransactionalLog  = rate.Sometimes{First: 10, Interval: time.Minute}
	replayedTransactions = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_handoff_replayed_transactions_total",
		Help: "Source transactions handed off again, at or below the cursor an earlier hand-off had committed (a deposed leader racing its successor); the sinks deduplicated their effects by event key.",
	})
	handoffFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_handoff_failures_total",
		Help: "Hand-offs rolled back, by failing sink (\"cursor\" or \"commit\" for the hand-off itself).",
	}, []string{"sink"})
)

// Route turns a batch of committed transactions into routed events, in WAL order. It is the
// pure half of Commit; malformed envelopes are counted and logged (route.Events) and skipped.
// A non-transactional message (pg_logical_emit_message(false, …): delivered even when its
// writer rolled back) is never routed: it is counted and logged, and only its position is
// covered by the cursor. log receives those (nil: not logged).
func Route(router *route.Router, batch []decode.Transaction, log *slog.Logger) []route.Routed {
	n := 0
	for i := range batch {
		n += len(batch[i].Messages)
	}
	out := make([]route.Routed, 0, n)
	for i := range batch {
		if batch[i].XID == 0 && len(batch[i].Changes) == 0 {
			nonTransactional.Inc()
			nonTransactionalLog.Do(func() {
				if log == nil {
					return
				}
				log.Warn("handoff: non-transactional logical message not routed (use vendorhub.emit, which emits transactionally)",
					"lsn", pglogrepl.LSN(batch[i].EndLSN))
			})
			continue
		}
		out = router.AppendRouted(out, batch[i])
	}
	return out
}

// Cursor returns the stored cursor of the slot: the TransactionEndLSN up to which every
// transaction's hand-off has committed. It returns 0 when no cursor row exists.
func (h *Handoff) Cursor(ctx context.Context) (uint64, error) {
	return ReadCursor(ctx, h.pool, h.cfg.Slot)
}

// Querier is what ReadCursor needs: a pool, a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ReadCursor returns the stored cursor of slot, 0 when there is none.
func ReadCursor(ctx context.Context, q Querier, slot string) (uint64, error) {
	var s string
	err := q.QueryRow(ctx, `select lsn::text from vendorhub.replication_cursor where slot_name = $1`, slot).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("handoff: read cursor of slot %q: %w", slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("handoff: cursor of slot %q: %w", slot, err)
	}
	return uint64(lsn), nil
}

// Route routes txs with the hand-off's router (Route): the routing of the replication
// reader, whose result both the broadcast and CommitRouted use.
func (h *Handoff) Route(txs []decode.Transaction) []route.Routed {
	return Route(h.cfg.Router, txs, h.cfg.Logger)
}

// Commit routes batch and makes it durable (CommitRouted), returning the routed events.
func (h *Handoff) Commit(ctx context.Context, batch []decode.Transaction, upTo uint64) ([]route.Routed, error) {
	routed := h.Route(batch)
	if err := h.CommitRouted(ctx, batch, routed, upTo); err != nil {
		return nil, err
	}
	return routed, nil
}

// CommitRouted makes batch durable in one transaction: call every sink with routed (the
// batch's events as Route returned them), set the cursor to GREATEST(cursor, upTo), commit.
// upTo must be the EndLSN of the batch's last transaction, or a later position covering only
// WAL with nothing for vendorhub (idle promotion); an empty batch writes the cursor only. On
// error nothing is durable. *Handoff is a replication.Committer.
func (h *Handoff) CommitRouted(ctx context.Context, batch []decode.Transaction, routed []route.Routed, upTo uint64) error {
	start := time.Now()
	tx, err := h.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		handoffFailures.WithLabelValues("begin").Inc()
		return fmt.Errorf("handoff: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	if len(routed) > 0 {
		for _, s := range h.cfg.Sinks {
			if err := s.HandOff(ctx, tx, routed); err != nil {
				handoffFailures.WithLabelValues(s.Name()).Inc()
				return &SinkError{Sink: s.Name(), Err: err}
			}
		}
	}
	before, err := writeCursor(ctx, tx, h.cfg.Slot, upTo, h.cfg.Instance)
	if err != nil {
		handoffFailures.WithLabelValues("cursor").Inc()
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		handoffFailures.WithLabelValues("commit").Inc()
		return fmt.Errorf("handoff: commit: %w", err)
	}
	d := time.Since(start)
	handoffDuration.Observe(d.Seconds())
	handoffBatchTransactions.Observe(float64(len(batch)))
	if n := Replayed(batch, before); n > 0 {
		replayedTransactions.Add(float64(n))
	}
	return nil
}

// Broadcast hands routed events to every Broadcaster, in order. The replication reader calls
// it for each transaction as it is decoded, before the hand-off (see Broadcaster).
func (h *Handoff) Broadcast(events []route.Routed) {
	if len(events) == 0 {
		return
	}
	for _, b := range h.cfg.Broadcasters {
		b.Publish(events)
	}
}

// Replayed returns how many transactions of batch end at or before cursor, the position up
// to which an earlier hand-off had committed: they are handed off a second time (a deposed
// leader racing its successor), and every sink met their effects under the same event keys.
func Replayed(batch []decode.Transaction, cursor uint64) int {
	n := 0
	for i := range batch {
		if batch[i].EndLSN <= cursor {
			n++
		}
	}
	return n
}

// writeCursor sets the cursor of slot to GREATEST(stored, lsn): a deposed leader's late write
// cannot move the cursor back. It returns the cursor as this transaction found it (0 when
// none): read in the same statement, it is what committed before this hand-off wrote.
func writeCursor(ctx context.Context, q pgx.Tx, slot string, lsn uint64, instance string) (uint64, error) {
	var before uint64
	b := &pgx.Batch{}
	// FOR UPDATE waits for a racing hand-off and reads what it committed.
	b.Queue(`select lsn::text from vendorhub.replication_cursor where slot_name = $1 for update`, slot).
		QueryRow(func(row pgx.Row) error {
			var s string
			if err := row.Scan(&s); errors.Is(err, pgx.ErrNoRows) {
				return nil
			} else if err != nil {
				return err
			}
			l, err := pglogrepl.ParseLSN(s)
			before = uint64(l)
			return err
		})
	b.Queue(`
insert into vendorhub.replication_cursor as c (slot_name, lsn, updated_by)
values ($1, $2::text::pg_lsn, $3)
on conflict (slot_name) do update
  set lsn = greatest(c.lsn, excluded.lsn), updated_at = now(), updated_by = excluded.updated_by
`, slot, pglogrepl.LSN(lsn).String(), instance)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("handoff: write cursor of slot %q: %w", slot, err)
	}
	return before, nil
}
