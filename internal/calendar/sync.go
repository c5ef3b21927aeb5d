package calendar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/wedsync/vendorhub/internal/integration"
)

var (
	metricRuns = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_calendar_sync_runs_total",
		Help: "Calendar sync runs by connection kind and status (ok, not_modified, failed, superseded).",
	}, []string{"kind", "status"})
	metricEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_calendar_sync_events_total",
		Help: "Calendar entries processed by sync runs, by kind and outcome (created, updated, skipped, failed, deleted).",
	}, []string{"kind", "outcome"})
	metricResets = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_calendar_sync_resets_total",
		Help: "Full resyncs forced by an expired sync cursor (Google 410, Graph syncStateNotFound), by kind.",
	}, []string{"kind"})
)

// ErrInactive reports a connection that is not active (needs re-authorization, disabled):
// nothing is fetched until the vendor reconnects it.
var ErrInactive = errors.New("calendar: connection is not active")

// Syncer runs sync rounds: fetch from the connection's Source outside any transaction, then
// apply the batch, move the cursor and record the run in one transaction.
type Syncer struct {
	// Pool is the application database.
	Pool *pgxpool.Pool
	// Sources serve connection kinds.
	Sources map[integration.Kind]Source
	// Logger receives failures. Defaults to slog.Default().
	Logger *slog.Logger
}

// LoadCursor reads the stored cursor of a connection (zero when none).
func LoadCursor(ctx context.Context, q integration.Querier, connectionID string) (Cursor, error) {
	c, err := scanCursor(q.QueryRow(ctx, cursorSQL, connectionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("calendar: load cursor of %s: %w", connectionID, err)
	}
	return c, nil
}

const cursorSQL = `select coalesce(sync_token, ''), coalesce(delta_link, ''), coalesce(etag, ''), coalesce(last_modified, ''), window_end
from vendorhub.calendar_sync where connection_id = $1`

func scanCursor(row pgx.Row) (Cursor, error) {
	var c Cursor
	var end *time.Time
	if err := row.Scan(&c.SyncToken, &c.DeltaLink, &c.ETag, &c.LastModified, &end); err != nil {
		return Cursor{}, err
	}
	if end != nil {
		c.WindowEnd = end.UTC()
	}
	return c, nil
}

// Sync runs one round for connectionID and records it in public.sync_runs, failures included.
func (s *Syncer) Sync(ctx context.Context, connectionID string) (Result, error) {
	started := time.Now()
	conn, err := integration.Load(ctx, s.Pool, connectionID)
	if err != nil {
		return Result{}, err
	}
	if conn.Status != integration.StatusActive {
		return Result{}, fmt.Errorf("%w: %s is %s", ErrInactive, conn.ID, conn.Status)
	}
	src, ok := s.Sources[conn.Kind]
	if !ok {
		return Result{}, fmt.Errorf("calendar: no source for connection kind %q", conn.Kind)
	}
	cur, err := LoadCursor(ctx, s.Pool, conn.ID)
	if err != nil {
		return Result{}, err
	}
	batch, next, err := src.Fetch(ctx, conn, cur)
	if errors.Is(err, ErrCursorExpired) {
		metricResets.WithLabelValues(string(conn.Kind)).Inc()
		batch, next, err = src.Fetch(ctx, conn, Cursor{})
	}
	if errors.Is(err, ErrNotModified) {
		res := Result{NotModified: true}
		return res, s.record(ctx, conn, started, integration.RunNotModified, res, nil)
	}
	if err != nil {
		if rerr := s.record(ctx, conn, started, integration.RunFailed, Result{}, err); rerr != nil {
			return Result{}, errors.Join(err, rerr)
		}
		return Result{}, err
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return Result{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	// Lock the cursor row: a concurrent run that moved it first wins, and this batch (fetched
	// from an older cursor) is dropped rather than applied over newer data.
	if _, err := tx.Exec(ctx, `insert into vendorhub.calendar_sync (connection_id) values ($1) on conflict do nothing`, conn.ID); err != nil {
		return Result{}, fmt.Errorf("calendar: cursor row of %s: %w", conn.ID, err)
	}
	locked, err := scanCursor(tx.QueryRow(ctx, cursorSQL+` for update`, conn.ID))
	if err != nil {
		return Result{}, fmt.Errorf("calendar: lock cursor of %s: %w", conn.ID, err)
	}
	if !locked.Equal(cur) {
		_ = tx.Rollback(ctx)
		return Result{}, s.record(ctx, conn, started, integration.RunSuperseded, Result{}, nil)
	}
	res, err := Apply(ctx, tx, conn, batch)
	if err != nil {
		return res, err
	}
	var windowEnd *time.Time
	if !next.WindowEnd.IsZero() {
		windowEnd = &next.WindowEnd
	}
	if _, err := tx.Exec(ctx, `update vendorhub.calendar_sync
set sync_token = nullif($2, ''), delta_link = nullif($3, ''), etag = nullif($4, ''), last_modified = nullif($5, ''),
    window_end = $7, full_syncs = full_syncs + case when $6 then 1 else 0 end,
    last_full_sync_at = case when $6 then now() else last_full_sync_at end, updated_at = now()
where connection_id = $1`, conn.ID, next.SyncToken, next.DeltaLink, next.ETag, next.LastModified, batch.Full, windowEnd); err != nil {
		return res, fmt.Errorf("calendar: store cursor of %s: %w", conn.ID, err)
	}
	if err := integration.RecordRun(ctx, tx, runOf(conn, started, integration.RunOK, res, nil)); err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("calendar: commit sync of %s: %w", conn.ID, err)
	}
	metricRuns.WithLabelValues(string(conn.Kind), integration.RunOK).Inc()
	for outcome, n := range map[string]int{"created": res.Created, "updated": res.Updated, "skipped": res.Skipped, "failed": res.Failed, "deleted": res.Deleted} {
		metricEvents.WithLabelValues(string(conn.Kind), outcome).Add(float64(n))
	}
	return res, nil
}

func runOf(conn integration.Connection, started time.Time, status string, res Result, err error) integration.Run {
	return integration.Run{Connection: conn, StartedAt: started, Status: status, Full: res.Full,
		Created: res.Created, Updated: res.Updated, Skipped: res.Skipped, Failed: res.Failed, Deleted: res.Deleted, Error: err}
}

func (s *Syncer) record(ctx context.Context, conn integration.Connection, started time.Time, status string, res Result, err error) error {
	metricRuns.WithLabelValues(string(conn.Kind), status).Inc()
	// Record even when the job's context is ending, so failures stay visible.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return integration.RecordRun(rctx, s.Pool, runOf(conn, started, status, res, err))
}
