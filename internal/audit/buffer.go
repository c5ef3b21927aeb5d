package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BufferConfig configures a Buffer.
type BufferConfig struct {
	// Capacity is how many entries may wait for the writer before new ones are merged into
	// per-(action, reason, source address) counters. Defaults to CapacityDefault.
	Capacity int
	// FlushInterval is the longest an entry waits before it is written. Defaults to FlushIntervalDefault.
	FlushInterval time.Duration
	// BatchSize is the most entries written in one statement. Defaults to BatchSizeDefault.
	BatchSize int
	// PerKeyBudget is how many similar entries (same action, reason and source address) are
	// written one by one per flush; more are counted into one summary row, so a flood from one
	// address writes a few rows per flush, not one per request, whatever it targets. Defaults
	// to PerKeyBudgetDefault.
	PerKeyBudget int
	// Logger receives write failures. Defaults to slog.Default().
	Logger *slog.Logger
}

// Buffer defaults.
const (
	CapacityDefault      = 500
	FlushIntervalDefault = 100 * time.Millisecond
	BatchSizeDefault     = 500
	PerKeyBudgetDefault  = 10
)

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c BufferConfig) WithDefaults() BufferConfig {
	if c.Capacity <= 0 {
		c.Capacity = CapacityDefault
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = FlushIntervalDefault
	}
	if c.BatchSize <= 0 {
		c.BatchSize = BatchSizeDefault
	}
	if c.PerKeyBudget <= 0 {
		c.PerKeyBudget = PerKeyBudgetDefault
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Buffer writes entries asynchronously in batches, so a flood of rejected requests costs one
// statement per FlushInterval instead of one per request. No entry is dropped: beyond
// PerKeyBudget similar entries (same action, reason and source address) per flush, or when
// Capacity entries are already waiting, they are counted and written as one summary row per
// flush and key: the first such entry's fields, with details {"suppressed": n}. Add never blocks.
type Buffer struct {
	cfg     BufferConfig
	q       Querier
	mu      sync.Mutex
	pending []Entry
	over    map[overflowKey]*overflow
	spent   map[overflowKey]int // entries written one by one per key since the last flush
	writing int                 // entries taken by the writer and not yet written
	kick    chan struct{}
	flushed chan struct{} // closed and replaced after every flush (for Flush waiters)
	done    chan struct{}
	stop    func()
	wg      sync.WaitGroup
}

type overflowKey struct{ action, reason, source string }

type overflow struct {
	first Entry
	n     int
}

var (
	metricWritten = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_audit_entries_written_total", Help: "Audit rows written by the buffered writer."})
	metricSuppressed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_audit_entries_summarized_total", Help: "Audit entries folded into summary rows because the buffer was full."})
	metricFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_audit_write_failures_total", Help: "Failed batched audit writes (entries are retried once)."})
)

// Collectors returns the package's Prometheus collectors, for the sidecar's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{metricWritten, metricSuppressed, metricFailed}
}

// NewBuffer starts a buffered writer on q (normally a *pgxpool.Pool). Call Close to flush and stop.
func NewBuffer(q Querier, cfg BufferConfig) *Buffer {
	cfg = cfg.WithDefaults()
	stop := make(chan struct{})
	b := &Buffer{cfg: cfg, q: q, over: map[overflowKey]*overflow{}, spent: map[overflowKey]int{}, kick: make(chan struct{}, 1),
		flushed: make(chan struct{}), done: make(chan struct{}), stop: sync.OnceFunc(func() { close(stop) })}
	b.wg.Add(1)
	go b.run(stop)
	return b
}

// Add queues e. It never blocks.
func (b *Buffer) Add(e Entry) {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	k := overflowKey{e.Action, e.Reason, addrOnly(e.SourceIP)}
	b.mu.Lock()
	if len(b.pending) < b.cfg.Capacity && b.spent[k] < b.cfg.PerKeyBudget {
		b.spent[k]++
		b.pending = append(b.pending, e)
		full := len(b.pending) >= b.cfg.BatchSize
		b.mu.Unlock()
		if full {
			b.wake()
		}
		return
	}
	if o, ok := b.over[k]; ok {
		o.n++
	} else {
		b.over[k] = &overflow{first: e, n: 1}
	}
	b.mu.Unlock()
	metricSuppressed.Inc()
}

func addrOnly(s string) string {
	if a := ParseIP(s); a != nil {
		return a.String()
	}
	return s
}

func (b *Buffer) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Flush writes everything queued so far and returns when it is written (or ctx ends).
func (b *Buffer) Flush(ctx context.Context) error {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 && len(b.over) == 0 && b.writing == 0 {
			b.mu.Unlock()
			return nil
		}
		// The flush that closes ch takes its batch after this point, so it sees our entries.
		ch := b.flushed
		b.mu.Unlock()
		b.wake()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return nil
		}
	}
}

// Close flushes what is queued and stops the writer.
func (b *Buffer) Close() {
	b.stop()
	b.wg.Wait()
}

func (b *Buffer) run(stop <-chan struct{}) {
	defer b.wg.Done()
	defer close(b.done)
	t := time.NewTicker(b.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			for b.flushOnce() {
			}
			return
		case <-t.C:
		case <-b.kick:
		}
		for b.flushOnce() {
		}
	}
}

// writeTimeout bounds one batched write.
const writeTimeout = 10 * time.Second

// flushOnce writes one batch; it reports whether more is waiting.
func (b *Buffer) flushOnce() bool {
	b.mu.Lock()
	n := min(len(b.pending), b.cfg.BatchSize)
	batch := append([]Entry(nil), b.pending[:n]...)
	b.pending = append(b.pending[:0], b.pending[n:]...)
	if len(b.pending) == 0 {
		for _, o := range b.over {
			e := o.first
			d := make(map[string]any, len(e.Details)+1)
			for k, v := range e.Details {
				d[k] = v
			}
			d["suppressed"] = o.n
			e.Details = d
			batch = append(batch, e)
		}
		clear(b.over)
		clear(b.spent)
	}
	more := len(b.pending) > 0
	done := b.flushed
	b.flushed = make(chan struct{})
	b.writing = len(batch)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.writing = 0
		b.mu.Unlock()
		close(done)
	}()
	if len(batch) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	err := CopyRows(ctx, b.q, batch)
	if err != nil && ctx.Err() == nil {
		metricFailed.Inc()
		err = CopyRows(ctx, b.q, batch)
	}
	if err != nil {
		b.cfg.Logger.Error("audit: batched write failed; entries lost", "entries", len(batch), "err", err)
		return more
	}
	metricWritten.Add(float64(len(batch)))
	return more
}
