package handoff

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/route"
)

// CountingSink counts the events handed to it, for tests. It counts every HandOff call,
// including calls whose transaction is later rolled back, and keeps the events.
type CountingSink struct {
	mu      sync.Mutex
	events  []route.Routed
	changed chan struct{}
}

// Name implements Sink.
func (*CountingSink) Name() string { return "counting" }

// HandOff implements Sink.
func (c *CountingSink) HandOff(_ context.Context, _ pgx.Tx, events []route.Routed) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, events...)
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	return nil
}

// Count returns the number of events handed off so far.
func (c *CountingSink) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// Events returns a copy of the events handed off so far, in order.
func (c *CountingSink) Events() []route.Routed {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]route.Routed(nil), c.events...)
}

// Changed returns a channel closed at the next HandOff call.
func (c *CountingSink) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// ProbeQueue is the River queue of EventJobArgs jobs. No sidecar works it by default: the
// jobs exist to prove that every event was handed off exactly once.
const ProbeQueue = "handoff_probe"

// EventJobArgs is the job JobSink inserts for each event; it is unique on Key, so a replay
// of the same event inserts nothing.
type EventJobArgs struct {
	// Key is event.Key.String(), e.g. "16B3748/3".
	Key string `json:"key" river:"unique"`
	// EventID is the envelope id.
	EventID string `json:"event_id"`
	// Type is the event type.
	Type event.Type `json:"type"`
}

// Kind implements river.JobArgs.
func (EventJobArgs) Kind() string { return "handoff.event" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (EventJobArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: ProbeQueue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EventJobWorker completes EventJobArgs jobs without doing anything. It is registered so
// River accepts the kind; the probe queue is only worked when a test asks for it.
type EventJobWorker struct {
	river.WorkerDefaults[EventJobArgs]
}

// Work implements river.Worker.
func (EventJobWorker) Work(context.Context, *river.Job[EventJobArgs]) error { return nil }

// JobSink inserts one River job (EventJobArgs) per event, unique on the event key
// (InsertUniqueJobs: COPY for large batches, a replay skipped by the unique index). It skips
// heartbeats, the sidecar's own keep-the-slot-moving events. Tests and benchmarks use it to
// prove that every event is handed off exactly once; `vendorhub run` adds it when
// VENDORHUB_HANDOFF_PROBE is set.
type JobSink struct {
	// Jobs inserts the jobs: the sidecar's River client, with EventJobWorker on its Workers.
	Jobs Inserter
}

// Inserter inserts River jobs inside a transaction; *river.Client[pgx.Tx] is one.
type Inserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	InsertManyFastTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) (int, error)
}

// Name implements Sink.
func (*JobSink) Name() string { return "probe_jobs" }

// HandOff implements Sink.
func (s *JobSink) HandOff(ctx context.Context, tx pgx.Tx, events []route.Routed) error {
	if s.Jobs == nil {
		return errors.New("no River client")
	}
	params := make([]river.InsertManyParams, 0, len(events))
	for i := range events {
		ev := &events[i]
		if ev.Type == event.Heartbeat {
			continue
		}
		params = append(params, river.InsertManyParams{Args: EventJobArgs{Key: ev.Key.String(), EventID: ev.ID, Type: ev.Type}})
	}
	if len(params) == 0 {
		return nil
	}
	return InsertUniqueJobs(ctx, s.Jobs, tx, params)
}

// CopyMinJobs is the smallest batch InsertUniqueJobs inserts with COPY: below it the two
// extra round trips of the savepoint cost more than COPY saves (hand-off latency at low
// rates), above it COPY saves CPU on both sides (backlogs).
const CopyMinJobs = 64

// InsertUniqueJobs inserts jobs unique on their args (River UniqueOpts) inside tx and skips
// those that exist already, as InsertManyTx does. Batches of CopyMinJobs or more go the fast
// way: COPY (InsertManyFastTx) under a savepoint, which neither sends nor returns job rows.
// A job that exists already (a replay) makes the COPY fail on River's unique index; the
// savepoint is then rolled back and InsertManyTx inserts the batch, skipping the existing
// jobs. The unique index decides in every case, so neither a replay nor a deposed leader
// racing its successor creates a second job.
func InsertUniqueJobs(ctx context.Context, client Inserter, tx pgx.Tx, params []river.InsertManyParams) error {
	if len(params) < CopyMinJobs {
		_, err := client.InsertManyTx(ctx, tx, params)
		return err
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	_, err = client.InsertManyFastTx(ctx, sp, params)
	if err == nil {
		return sp.Commit(ctx)
	}
	if !isUniqueViolation(err) {
		return err
	}
	if err := sp.Rollback(ctx); err != nil {
		return err
	}
	uniqueFallbacks.Inc()
	_, err = client.InsertManyTx(ctx, tx, params)
	return err
}

// isUniqueViolation reports a unique violation on River's job table.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation && pgErr.TableName == "river_job"
}

var uniqueFallbacks = promauto.NewCounter(prometheus.CounterOpts{
	Name: "vendorhub_handoff_job_replays_total",
	Help: "Job batches whose fast insert (COPY) met an existing job (a replay) and were inserted again skipping the existing ones.",
})
