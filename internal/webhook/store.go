package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// outcome of storing one request.
type outcome string

const (
	outcomeStored       outcome = "stored"
	outcomeDuplicate    outcome = "duplicate"
	outcomeLimitedConn  outcome = "limited_connection"
	outcomeLimitedIP    outcome = "limited_ip"
	outcomeUnstorable   outcome = "unstorable" // Postgres refused the data (class 22)
	outcomeStoreFailure outcome = "store_failure"
)

type storeItem struct {
	source       string
	connectionID *string
	eventID      string
	headers      []byte
	payload      []byte
	ip           *netip.Addr
	reply        chan storeResult
}

type storeResult struct {
	outcome outcome
	inboxID string
	err     error
}

// inbox stores verified requests in batches: each writer takes the first waiting request and
// whatever else is already queued (up to batchSize) and stores them with one statement. A
// lone request is written at once; under load requests share statements and commits.
type inbox struct {
	pool      *pgxpool.Pool
	queue     chan *storeItem
	batchSize int
	connLimit int
	ipLimit   int
	timeout   time.Duration
	log       *slog.Logger
	wg        sync.WaitGroup
	stop      chan struct{}
	stopOnce  sync.Once
}

func newInbox(pool *pgxpool.Pool, cfg Config) *inbox {
	ib := &inbox{pool: pool, queue: make(chan *storeItem, cfg.BatchSize*cfg.Writers*2), batchSize: cfg.BatchSize,
		connLimit: windowLimit(cfg.ConnectionRate), ipLimit: windowLimit(cfg.IPRate), timeout: cfg.WriteTimeout,
		log: cfg.Logger, stop: make(chan struct{})}
	for range cfg.Writers {
		ib.wg.Add(1)
		go ib.writer()
	}
	return ib
}

// errClosed: the ingress is shutting down.
var errClosed = errors.New("webhook: ingress closed")

// store queues it and waits for its outcome (or ctx).
func (ib *inbox) store(ctx context.Context, it *storeItem) storeResult {
	it.reply = make(chan storeResult, 1)
	select {
	case ib.queue <- it:
	case <-ctx.Done():
		return storeResult{outcome: outcomeStoreFailure, err: ctx.Err()}
	case <-ib.stop:
		return storeResult{outcome: outcomeStoreFailure, err: errClosed}
	}
	select {
	case r := <-it.reply:
		return r
	case <-ctx.Done():
		// It may still be stored: the sender's retry then gets "duplicate".
		return storeResult{outcome: outcomeStoreFailure, err: ctx.Err()}
	}
}

func (ib *inbox) close() {
	ib.stopOnce.Do(func() { close(ib.stop) })
	ib.wg.Wait()
}

func (ib *inbox) writer() {
	defer ib.wg.Done()
	batch := make([]*storeItem, 0, ib.batchSize)
	for {
		select {
		case <-ib.stop:
			// Answer what is still queued.
			for {
				select {
				case it := <-ib.queue:
					it.reply <- storeResult{outcome: outcomeStoreFailure, err: errClosed}
				default:
					return
				}
			}
		case it := <-ib.queue:
			batch = append(batch[:0], it)
		fill:
			for len(batch) < ib.batchSize {
				select {
				case more := <-ib.queue:
					batch = append(batch, more)
				default:
					break fill
				}
			}
			ib.write(batch)
		}
	}
}

func (ib *inbox) write(batch []*storeItem) {
	metricBatchSize.Observe(float64(len(batch)))
	results, err := ib.exec(batch)
	if err != nil && len(batch) > 1 && retryAlone(err) {
		// Isolate the request Postgres refused (or retry after a deadlock) one by one.
		for _, it := range batch {
			ib.write([]*storeItem{it})
		}
		return
	}
	for i, it := range batch {
		switch {
		case err == nil:
			it.reply <- results[i]
		case isDataException(err):
			it.reply <- storeResult{outcome: outcomeUnstorable, err: err}
		default:
			ib.log.Error("webhook: inbox write failed", "requests", len(batch), "err", err)
			it.reply <- storeResult{outcome: outcomeStoreFailure, err: err}
		}
	}
}

const (
	rateSQL  = `select key, hits from vendorhub.webhook_rate_hit($1, $2)`
	storeSQL = `select ord, outcome, inbox_id::text from vendorhub.webhook_store($1, $2, $3, $4, $5)`
)

// exec stores a batch: first the shared per-second counters (a transaction of its own, so the
// hot counter rows are locked only briefly), then the allowed requests in one statement.
func (ib *inbox) exec(batch []*storeItem) ([]storeResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ib.timeout)
	defer cancel()
	out := make([]storeResult, len(batch))
	allowed, err := ib.limit(ctx, batch, out)
	if err != nil {
		return nil, err
	}
	if len(allowed) == 0 {
		return out, nil
	}
	srcs := make([]string, len(allowed))
	conns := make([]*string, len(allowed))
	ids := make([]string, len(allowed))
	hdrs := make([]string, len(allowed))
	payloads := make([]string, len(allowed))
	for j, i := range allowed {
		it := batch[i]
		srcs[j], conns[j], ids[j], hdrs[j], payloads[j] = it.source, it.connectionID, it.eventID, string(it.headers), string(it.payload)
	}
	rows, err := ib.pool.Query(ctx, storeSQL, srcs, conns, ids, hdrs, payloads)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var ord int
		var oc string
		var id *string
		if err := rows.Scan(&ord, &oc, &id); err != nil {
			return nil, err
		}
		if ord < 1 || ord > len(allowed) {
			return nil, fmt.Errorf("webhook: store returned position %d of %d", ord, len(allowed))
		}
		r := &out[allowed[ord-1]]
		r.outcome = outcome(oc)
		if id != nil {
			r.inboxID = *id
		}
		seen++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if seen != len(allowed) {
		return nil, fmt.Errorf("webhook: store answered %d of %d requests", seen, len(allowed))
	}
	return out, nil
}

// limit counts the batch in the shared windows and marks the requests over a limit in out; it
// returns the positions of the others. Within a batch, earlier requests are counted first.
func (ib *inbox) limit(ctx context.Context, batch []*storeItem, out []storeResult) ([]int, error) {
	type keyed struct{ conn, ip string }
	keys := make([]keyed, len(batch))
	counts := map[string]int{}
	for i, it := range batch {
		if ib.connLimit > 0 && it.connectionID != nil {
			keys[i].conn = "conn:" + *it.connectionID
			counts[keys[i].conn]++
		}
		if ib.ipLimit > 0 && it.ip != nil {
			keys[i].ip = "ip:" + it.ip.String()
			counts[keys[i].ip]++
		}
	}
	all := make([]int, 0, len(batch))
	if len(counts) == 0 {
		for i := range batch {
			all = append(all, i)
		}
		return all, nil
	}
	names := make([]string, 0, len(counts))
	ns := make([]int32, 0, len(counts))
	for k, n := range counts {
		names = append(names, k)
		ns = append(ns, int32(n))
	}
	rows, err := ib.pool.Query(ctx, rateSQL, names, ns)
	if err != nil {
		return nil, err
	}
	total := make(map[string]int, len(counts))
	for rows.Next() {
		var k string
		var hits int
		if err := rows.Scan(&k, &hits); err != nil {
			rows.Close()
			return nil, err
		}
		total[k] = hits
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// hits - counts[k] requests were counted before this batch; the r-th of this batch is
	// within the limit when that plus r stays at or below it.
	rank := make(map[string]int, len(counts))
	over := func(k string, limit int) bool {
		if k == "" {
			return false
		}
		rank[k]++
		return total[k]-counts[k]+rank[k] > limit
	}
	for i := range batch {
		overConn := over(keys[i].conn, ib.connLimit)
		overIP := over(keys[i].ip, ib.ipLimit)
		switch {
		case overConn:
			out[i].outcome = outcomeLimitedConn
		case overIP:
			out[i].outcome = outcomeLimitedIP
		default:
			all = append(all, i)
		}
	}
	return all, nil
}

func isDataException(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && len(pg.Code) == 5 && pg.Code[:2] == "22"
}

// retryAlone: errors worth retrying request by request (bad data in one request, a deadlock or
// serialization failure, a connection deleted meanwhile).
func retryAlone(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	return pg.Code[:2] == "22" || pg.Code == "40P01" || pg.Code == "40001" || pg.Code == "23503"
}

var _ = pgx.ErrNoRows
