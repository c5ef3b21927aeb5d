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

const ingestSQL = `select ord, outcome, inbox_id::text from vendorhub.webhook_ingest($1, $2, $3, $4, $5, $6, $7, $8)`

func (ib *inbox) exec(batch []*storeItem) ([]storeResult, error) {
	n := len(batch)
	srcs := make([]string, n)
	conns := make([]*string, n)
	ids := make([]string, n)
	hdrs := make([]string, n)
	payloads := make([]string, n)
	ips := make([]*netip.Addr, n)
	for i, it := range batch {
		srcs[i], conns[i], ids[i], hdrs[i], payloads[i], ips[i] = it.source, it.connectionID, it.eventID, string(it.headers), string(it.payload), it.ip
	}
	ctx, cancel := context.WithTimeout(context.Background(), ib.timeout)
	defer cancel()
	rows, err := ib.pool.Query(ctx, ingestSQL, srcs, conns, ids, hdrs, payloads, ips, ib.connLimit, ib.ipLimit)
	if err != nil {
		return nil, err
	}
	out := make([]storeResult, n)
	seen := 0
	for rows.Next() {
		var ord int
		var oc string
		var id *string
		if err := rows.Scan(&ord, &oc, &id); err != nil {
			rows.Close()
			return nil, err
		}
		if ord < 1 || ord > n {
			rows.Close()
			return nil, fmt.Errorf("webhook: ingest returned position %d of %d", ord, n)
		}
		out[ord-1].outcome = outcome(oc)
		if id != nil {
			out[ord-1].inboxID = *id
		}
		seen++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if seen != n {
		return nil, fmt.Errorf("webhook: ingest answered %d of %d requests", seen, n)
	}
	return out, nil
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
