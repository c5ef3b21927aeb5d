package calendar

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/integration"
)

// Result counts what one sync run did to a connection's blocks.
type Result struct {
	Created, Updated, Skipped, Failed, Deleted int
	// Full is set when the run was a full sync (first sync, or after an expired cursor).
	Full bool
	// NotModified is set when the source reported no change (HTTP 304).
	NotModified bool
}

// Apply writes b into public.availability_blocks for conn inside tx: one upsert per live entry
// (unchanged rows are skipped, not rewritten, so they emit nothing), deletions by external id,
// and for a full batch the deletion of every block of the connection it does not list.
// When an entry appears several times in b, the last change wins.
func Apply(ctx context.Context, tx pgx.Tx, conn integration.Connection, b Batch) (Result, error) {
	res := Result{Full: b.Full, Failed: b.Invalid}
	last := make(map[string]int, len(b.Changes))
	order := make([]string, 0, len(b.Changes))
	for i, c := range b.Changes {
		if _, seen := last[c.ExternalID]; !seen {
			order = append(order, c.ExternalID)
		}
		last[c.ExternalID] = i
	}
	var (
		ids          = []string{} // never nil: a full sweep with nothing live deletes everything
		tzs          []string
		starts, ends []time.Time
		allDay, tent []bool
		deleted      []string
	)
	for _, id := range order {
		c := b.Changes[last[id]]
		if c.Deleted {
			deleted = append(deleted, id)
			continue
		}
		if err := c.Valid(); err != nil {
			res.Failed++
			continue
		}
		ids = append(ids, id)
		starts, ends = append(starts, c.Start.UTC()), append(ends, c.End.UTC())
		allDay, tent, tzs = append(allDay, c.AllDay), append(tent, c.Tentative), append(tzs, c.TimeZone)
	}
	source := conn.Kind.BlockSource()
	if len(ids) > 0 {
		rows, err := tx.Query(ctx, `insert into public.availability_blocks as b
  (vendor_id, connection_id, source, external_id, starts_at, ends_at, all_day, tz, tentative)
select $1, $2, $3, u.external_id, u.starts_at, u.ends_at, u.all_day, nullif(u.tz, ''), u.tentative
from unnest($4::text[], $5::timestamptz[], $6::timestamptz[], $7::boolean[], $8::text[], $9::boolean[])
  as u(external_id, starts_at, ends_at, all_day, tz, tentative)
on conflict (vendor_id, source, external_id) do update
set connection_id = excluded.connection_id, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
    all_day = excluded.all_day, tz = excluded.tz, tentative = excluded.tentative, updated_at = now()
where (b.connection_id, b.starts_at, b.ends_at, b.all_day, b.tz, b.tentative)
  is distinct from (excluded.connection_id, excluded.starts_at, excluded.ends_at, excluded.all_day, excluded.tz, excluded.tentative)
returning (xmax = 0)`, conn.VendorID, conn.ID, source, ids, starts, ends, allDay, tzs, tent)
		if err != nil {
			return res, fmt.Errorf("calendar: upsert blocks of %s: %w", conn.ID, err)
		}
		written := 0
		for rows.Next() {
			var inserted bool
			if err := rows.Scan(&inserted); err != nil {
				rows.Close()
				return res, err
			}
			written++
			if inserted {
				res.Created++
			} else {
				res.Updated++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, fmt.Errorf("calendar: upsert blocks of %s: %w", conn.ID, err)
		}
		res.Skipped = len(ids) - written
	}
	if len(deleted) > 0 {
		tag, err := tx.Exec(ctx, `delete from public.availability_blocks
where vendor_id = $1 and source = $2 and external_id = any($3) and connection_id = $4`, conn.VendorID, source, deleted, conn.ID)
		if err != nil {
			return res, fmt.Errorf("calendar: delete blocks of %s: %w", conn.ID, err)
		}
		res.Deleted += int(tag.RowsAffected())
		res.Skipped += len(deleted) - int(tag.RowsAffected())
	}
	if b.Full {
		tag, err := tx.Exec(ctx, `delete from public.availability_blocks
where connection_id = $1 and not (external_id = any($2))`, conn.ID, ids)
		if err != nil {
			return res, fmt.Errorf("calendar: sweep blocks of %s: %w", conn.ID, err)
		}
		res.Deleted += int(tag.RowsAffected())
	}
	return res, nil
}
