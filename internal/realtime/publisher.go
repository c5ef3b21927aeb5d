package realtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/realtime/broadcast"
	"github.com/wedsync/vendorhub/internal/route"
)

// Defaults of Config.
const (
	QueueSizeDefault       = 10_000
	BatchSizeDefault       = 100
	MaxPayloadBytesDefault = 256 * 1024
	MaxAttemptsDefault     = 5
	RetryMinDefault        = 200 * time.Millisecond
	RetryMaxDefault        = 10 * time.Second
	RateLimitWaitDefault   = time.Second
	SendTimeoutDefault     = 10 * time.Second
)

// Config configures a Publisher.
type Config struct {
	// Transport delivers batches: a *RESTTransport, or the embedded gateway. Required.
	Transport Transport
	// QueueSize bounds the messages waiting to be sent; Publish drops (and counts) beyond it.
	// Default: 10,000.
	QueueSize int
	// BatchSize is the most messages sent in one request. Default: 100.
	BatchSize int
	// MaxPayloadBytes is the largest payload sent as is; a larger one is replaced by a
	// refetch message. Supabase allows 256 KB on the Free plan, 3,000 KB on Pro.
	// Default: 256 KiB.
	MaxPayloadBytes int
	// MaxAttempts bounds the tries of one batch (429s included). Default: 5.
	MaxAttempts int
	// RetryMin is the first back-off after a failure; it doubles up to RetryMax
	// (provider.Backoff, with its jitter).
	// Default: 200 ms.
	RetryMin time.Duration
	// RetryMax caps the back-off and any Retry-After the server asks for. Default: 10 s.
	RetryMax time.Duration
	// RateLimitWait is the wait after a 429 that carries no Retry-After (Supabase's rate is a
	// rolling one-second window). Default: 1 s.
	RateLimitWait time.Duration
	// SendTimeout bounds one request. Default: 10 s.
	SendTimeout time.Duration
	// Logger receives failures (never the key). Default: slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.QueueSize = cmp.Or(c.QueueSize, QueueSizeDefault)
	c.BatchSize = cmp.Or(c.BatchSize, BatchSizeDefault)
	c.MaxPayloadBytes = cmp.Or(c.MaxPayloadBytes, MaxPayloadBytesDefault)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, MaxAttemptsDefault)
	c.RetryMin = cmp.Or(c.RetryMin, RetryMinDefault)
	c.RetryMax = cmp.Or(c.RetryMax, RetryMaxDefault)
	c.RateLimitWait = cmp.Or(c.RateLimitWait, RateLimitWaitDefault)
	c.SendTimeout = cmp.Or(c.SendTimeout, SendTimeoutDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Transport == nil:
		return errors.New("realtime: Config.Transport is required")
	case c.QueueSize < 1, c.BatchSize < 1, c.MaxAttempts < 1:
		return errors.New("realtime: Config.QueueSize, BatchSize and MaxAttempts must be positive")
	case c.MaxPayloadBytes < 1024:
		return fmt.Errorf("realtime: Config.MaxPayloadBytes %d is below 1 KiB: the refetch message itself would not fit", c.MaxPayloadBytes)
	}
	return nil
}

// Stats counts what a Publisher did, for tests and the dashboard.
type Stats struct {
	Published   int64 // messages accepted by the transport
	Batches     int64 // successful requests
	Queued      int64 // messages waiting now
	Dropped     map[string]int64
	Oversized   int64 // payloads replaced by a refetch message
	RateLimited int64 // 429 answers
	Retries     int64
}

// Publisher is the best-effort Broadcaster to Realtime. Publish never blocks; Run sends.
type Publisher struct {
	cfg  Config
	wake chan struct{}

	mu    sync.Mutex
	queue []Message
	limit int // current batch limit: halved after a 429, doubled back after successes

	published, batches, oversized, rateLimited, retries atomic.Int64
	dropMu                                              sync.Mutex
	dropped                                             map[string]int64
}

// New returns a Publisher; call Run to start sending.
func New(cfg Config) (*Publisher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Publisher{cfg: cfg, wake: make(chan struct{}, 1), limit: cfg.BatchSize, dropped: map[string]int64{}}, nil
}

// Name identifies the broadcaster in logs.
func (p *Publisher) Name() string { return "realtime" }

// Publish queues one message per topic of each event. It never blocks: when the queue is
// full the newest messages are dropped and counted.
func (p *Publisher) Publish(events []route.Routed) {
	msgs, errs := Messages(events)
	for _, err := range errs {
		p.cfg.Logger.Warn("realtime: event not broadcast", "err", err)
	}
	p.Enqueue(msgs)
}

// Enqueue queues msgs as Publish does.
func (p *Publisher) Enqueue(msgs []Message) {
	if len(msgs) == 0 {
		return
	}
	for i := range msgs {
		p.fitSize(&msgs[i])
	}
	p.mu.Lock()
	room := p.cfg.QueueSize - len(p.queue)
	n := min(room, len(msgs))
	p.queue = append(p.queue, msgs[:n]...)
	metricQueue.Set(float64(len(p.queue)))
	p.mu.Unlock()
	if n < len(msgs) {
		p.drop(DropQueueFull, len(msgs)-n)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// fitSize replaces an oversized payload by its refetch message.
func (p *Publisher) fitSize(m *Message) {
	if FitPayload(m, p.cfg.MaxPayloadBytes) {
		p.oversized.Add(1)
	}
}

// Run sends queued messages until ctx ends. Messages still queued then are dropped and counted.
func (p *Publisher) Run(ctx context.Context) error {
	for {
		batch := p.take()
		if batch == nil {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				p.mu.Lock()
				n := len(p.queue)
				p.queue = nil
				metricQueue.Set(0)
				p.mu.Unlock()
				if n > 0 {
					p.drop(DropShutdown, n)
				}
				return nil
			}
		}
		p.send(ctx, coalesce(batch), 0)
	}
}

// take removes up to the current batch limit of messages from the queue.
func (p *Publisher) take() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	n := min(p.limit, len(p.queue))
	batch := make([]Message, n)
	copy(batch, p.queue)
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	metricQueue.Set(float64(rest))
	return batch
}

var coalesceSeed = maphash.MakeSeed()

// coalesce drops repeats of the same event on the same topic (replays), keeping order.
func coalesce(batch []Message) []Message {
	if len(batch) < 2 {
		return batch
	}
	type key struct {
		topic, event string
		payload      uint64
	}
	seen := make(map[key]struct{}, len(batch))
	out := batch[:0]
	for _, m := range batch {
		k := key{m.Topic, m.Event, maphash.Bytes(coalesceSeed, m.Payload)}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, m)
	}
	return out
}

// send delivers batch with bounded retries. depth guards the split recursion.
func (p *Publisher) send(ctx context.Context, batch []Message, depth int) {
	failures := 0 // failures retried with back-off (not 429s)
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, p.cfg.SendTimeout)
		start := time.Now()
		err := p.cfg.Transport.Send(sctx, batch)
		cancel()
		metricSendSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			p.published.Add(int64(len(batch)))
			p.batches.Add(1)
			metricPublished.Add(float64(len(batch)))
			metricBatch.Observe(float64(len(batch)))
			p.mu.Lock()
			p.limit = min(p.cfg.BatchSize, p.limit*2)
			p.mu.Unlock()
			return
		}
		if ctx.Err() != nil {
			p.drop(DropShutdown, len(batch))
			return
		}
		var wait time.Duration
		he, isHTTP := provider.As(err)
		isHTTP = isHTTP && he.Status != 0
		switch {
		case isHTTP && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden):
			p.cfg.Logger.Error("realtime: broadcast refused: check SUPABASE_SERVICE_ROLE_KEY", "status", he.Status, "messages", len(batch))
			p.drop(DropUnauthorized, len(batch))
			return
		case isHTTP && oversized(he.Status):
			p.sendSmaller(ctx, batch, depth)
			return
		case isHTTP && he.RateLimited:
			p.rateLimited.Add(1)
			metricRateLimited.Inc()
			wait = cmp.Or(he.RetryAfter, p.cfg.RateLimitWait)
			p.mu.Lock()
			p.limit = max(1, p.limit/2)
			p.mu.Unlock()
		case isHTTP && !he.Retryable:
			p.cfg.Logger.Error("realtime: broadcast rejected", "status", he.Status, "body", he.Message, "messages", len(batch))
			p.drop(DropRejected, len(batch))
			return
		default:
			failures++
			wait = provider.Backoff(p.cfg.RetryMin, p.cfg.RetryMax, failures)
		}
		if attempt >= p.cfg.MaxAttempts {
			p.cfg.Logger.Warn("realtime: broadcast batch dropped after retries", "err", err, "messages", len(batch), "attempts", attempt)
			p.drop(DropFailed, len(batch))
			return
		}
		p.retries.Add(1)
		metricRetries.Inc()
		t := time.NewTimer(min(wait, p.cfg.RetryMax))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			p.drop(DropShutdown, len(batch))
			return
		}
		p.mu.Lock()
		limit := p.limit
		p.mu.Unlock()
		if len(batch) > limit && depth < 32 {
			// A 429 halved the batch limit: send this batch in smaller pieces.
			for i := 0; i < len(batch); i += limit {
				p.send(ctx, batch[i:min(i+limit, len(batch))], depth+1)
			}
			return
		}
	}
}

// sendSmaller handles a size refusal: a batch is split in halves; a single message is
// replaced by its refetch message once.
func (p *Publisher) sendSmaller(ctx context.Context, batch []Message, depth int) {
	if len(batch) > 1 && depth < 32 {
		half := len(batch) / 2
		p.send(ctx, batch[:half], depth+1)
		p.send(ctx, batch[half:], depth+1)
		return
	}
	m := batch[0]
	small, err := broadcast.RefetchPayload(m)
	if err != nil || depth >= 32 || string(small) == string(m.Payload) {
		p.drop(DropOversized, len(batch))
		return
	}
	p.oversized.Add(1)
	broadcast.CountOversized()
	m.Payload = small
	p.send(ctx, []Message{m}, 32)
}

func (p *Publisher) drop(reason string, n int) {
	metricDropped.WithLabelValues(reason).Add(float64(n))
	p.dropMu.Lock()
	p.dropped[reason] += int64(n)
	p.dropMu.Unlock()
}

// Stats returns the counts so far.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	q := len(p.queue)
	p.mu.Unlock()
	p.dropMu.Lock()
	d := make(map[string]int64, len(p.dropped))
	for k, v := range p.dropped {
		d[k] = v
	}
	p.dropMu.Unlock()
	return Stats{Published: p.published.Load(), Batches: p.batches.Load(), Queued: int64(q), Dropped: d,
		Oversized: p.oversized.Load(), RateLimited: p.rateLimited.Load(), Retries: p.retries.Load()}
}
