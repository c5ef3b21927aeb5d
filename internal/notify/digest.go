package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// DigestWorker sends a thread's held messages as one notification when the thread's
// flush time has come; earlier, it snoozes until then (later messages move the flush time).
type DigestWorker struct {
	river.WorkerDefaults[DigestArgs]
	pool *pgxpool.Pool
	cfg  Config
}

// NewDigestWorker returns the digest worker. It inserts its delivery jobs through the
// River client of the job's context.
func NewDigestWorker(pool *pgxpool.Pool, cfg Config) (*DigestWorker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &DigestWorker{pool: pool, cfg: cfg}, nil
}

// Work implements river.Worker.
func (w *DigestWorker) Work(ctx context.Context, job *river.Job[DigestArgs]) error {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	st, err := scanThread(tx.QueryRow(ctx, `
select user_id::text, thread, window_started_at, (last_lsn - '0/0')::bigint, last_index, pending_count,
       pending_first_at, pending_last_at, pending_senders, pending_wedding_id::text, flush_at
from vendorhub.notify_threads where user_id = $1 and thread = $2 for update`, job.Args.UserID, job.Args.Thread))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && st.pending == 0) {
		return nil // flushed by an earlier run, or the user is gone
	}
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	if wait := st.flushAt.Sub(now); wait > 0 {
		return river.JobSnooze(wait)
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("notify: digest: %w", err)
	}
	var allVendors bool
	if err := tx.QueryRow(ctx, `
select count(*) = cardinality($1::uuid[])
from unnest($1::uuid[]) s(id) where exists (select 1 from public.vendor_members vm where vm.user_id = s.id)`,
		st.senders).Scan(&allVendors); err != nil {
		return fmt.Errorf("notify: digest senders: %w", err)
	}
	r, err := LoadRecipient(ctx, tx, st.userID)
	if err != nil {
		return err
	}
	plan := Decide(r, CategoryNewMessage, now)
	if plan.Notify {
		conv := st.thread[len("conversation:"):]
		title := digestTitle(st.pending, max(len(st.senders), 1), allVendors && len(st.senders) > 0)
		data := fmt.Appendf(nil, `{"event_type":"digest","thread":%q,"conversation_id":%q,"messages":%d,"senders":%d}`,
			st.thread, conv, st.pending, len(st.senders))
		key := fmt.Sprintf("digest/%s/%s/%d", st.thread, pglogrepl.LSN(st.lastKey.CommitLSN), st.lastKey.Index)
		n := &notice{category: CategoryNewMessage, title: title, eventKey: key, weddingID: st.weddingID, data: data}
		if _, err := writeNotifications(ctx, tx, client, w.cfg, []item{{userID: st.userID, notice: n, plan: plan}}); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `
update vendorhub.notify_threads set pending_count = 0, pending_senders = '{}', pending_first_at = null,
  pending_last_at = null, flush_at = null, window_started_at = $3, updated_at = now()
where user_id = $1 and thread = $2`, st.userID, st.thread, now); err != nil {
		return fmt.Errorf("notify: digest reset: %w", err)
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("notify: digest complete: %w", err)
	}
	return tx.Commit(ctx)
}

// Timeout implements river.Worker: a digest is a few local queries.
func (w *DigestWorker) Timeout(*river.Job[DigestArgs]) time.Duration { return 30 * time.Second }
