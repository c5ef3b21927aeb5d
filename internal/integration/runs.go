package integration

import (
	"context"
	"fmt"
	"time"
)

// Run status values (public.sync_runs.status).
const (
	RunOK          = "ok"
	RunNotModified = "not_modified"
	RunFailed      = "failed"
	RunSuperseded  = "superseded" // another run moved the cursor first; nothing applied
)

// Run is one sync or processing run of a connection, as recorded in public.sync_runs.
type Run struct {
	Connection                                 Connection
	StartedAt                                  time.Time
	Status                                     string
	Full                                       bool
	Created, Updated, Skipped, Failed, Deleted int
	// Error is the failure, if any; members read PublicMessage(Error): a fixed message and
	// status code, never response bytes or URLs.
	Error error
}

// RecordRun inserts r into public.sync_runs and updates the connection's last_sync_at and
// last_error. The row is visible to the vendor's members.
func RecordRun(ctx context.Context, q Querier, r Run) error {
	var errText *string
	if r.Error != nil {
		s := PublicMessage(r.Error)
		if len(s) > 2000 {
			s = s[:2000]
		}
		errText = &s
	}
	_, err := q.Exec(ctx, `with run as (
  insert into public.sync_runs (connection_id, vendor_id, kind, started_at, finished_at, status, full_sync,
    created, updated, skipped, failed, deleted, error)
  values ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9, $10, $11, $12)
)
update public.integration_connections
set last_sync_at = case when $5 <> 'failed' then now() else last_sync_at end, last_error = $12
where id = $1`,
		r.Connection.ID, r.Connection.VendorID, string(r.Connection.Kind), r.StartedAt, r.Status, r.Full,
		r.Created, r.Updated, r.Skipped, r.Failed, r.Deleted, errText)
	if err != nil {
		return fmt.Errorf("integration: record run of %s: %w", r.Connection.ID, err)
	}
	return nil
}
