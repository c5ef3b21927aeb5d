// Package availability answers when vendors are busy. The busy set of a vendor is merged in
// Postgres (migration 20261125000610_availability.sql) from every calendar and CRM source
// (availability_blocks), its bookings that hold time and the wedding days it is booked for,
// each widened by the vendor's buffers; conflicts are detected there too, by statement-level
// triggers in the writing transaction, one public.availability_conflicts row and one
// conflict.detected event per new overlap. A block whose range is exactly that of one of the
// vendor's commitments (a held/booked booking, or the day of a wedding it is booked for) is that
// commitment mirrored into the vendor's calendar (20261125000610_availability.sql, "Mirrors"): it
// is left out of the busy set, so it neither conflicts with what it mirrors nor doubles a
// genuine conflict. This package is the Go side: the frontend's
// question for a wedding (VendorsFree, public.vendor_availability), a vendor's busy set
// (Busy), open conflicts (Conflicts) and an explicit re-check (Refresh).
//
// Instants are UTC; a vendor's zone (vendors.timezone) is returned for display.
package availability

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wedsync/vendorhub/internal/integration"
)

// Interval is a half-open busy period [Start, End).
type Interval struct {
	Start, End time.Time
}

// VendorAvailability is one connected vendor of a wedding over the asked range.
type VendorAvailability struct {
	VendorID, Name, Kind string
	// TimeZone is the vendor's zone, for display.
	TimeZone string
	// Status is the wedding_vendors status.
	Status string
	// Free is nil when unknown (the caller may not see this vendor's availability).
	Free *bool
	// Busy are the busy periods inside the range (buffers applied, merged).
	Busy []Interval
}

func intervals(m pgtype.Multirange[pgtype.Range[pgtype.Timestamptz]]) []Interval {
	out := make([]Interval, 0, len(m))
	for _, r := range m {
		out = append(out, Interval{Start: r.Lower.Time.UTC(), End: r.Upper.Time.UTC()})
	}
	return out
}

// VendorsFree returns the wedding's connected vendors (not declined or cancelled) and whether
// each is free in [from, to), under the caller's RLS when q runs as an API role.
func VendorsFree(ctx context.Context, q integration.Querier, weddingID string, from, to time.Time) ([]VendorAvailability, error) {
	rows, err := q.Query(ctx, `select vendor_id::text, vendor_name, vendor_kind, vendor_timezone, connection_status, free, busy
from public.vendor_availability($1, $2, $3)`, weddingID, from, to)
	if err != nil {
		return nil, fmt.Errorf("availability: vendors of %s: %w", weddingID, err)
	}
	defer rows.Close()
	var out []VendorAvailability
	for rows.Next() {
		var v VendorAvailability
		var busy pgtype.Multirange[pgtype.Range[pgtype.Timestamptz]]
		if err := rows.Scan(&v.VendorID, &v.Name, &v.Kind, &v.TimeZone, &v.Status, &v.Free, &busy); err != nil {
			return nil, err
		}
		v.Busy = intervals(busy)
		out = append(out, v)
	}
	return out, rows.Err()
}

// Busy returns vendorID's merged busy set within [from, to), buffers applied.
func Busy(ctx context.Context, q integration.Querier, vendorID string, from, to time.Time) ([]Interval, error) {
	var busy pgtype.Multirange[pgtype.Range[pgtype.Timestamptz]]
	var null bool
	err := q.QueryRow(ctx, `select b, b is null from vendorhub.vendor_busy($1, $2, $3) b`, vendorID, from, to).Scan(&busy, &null)
	if err != nil {
		return nil, fmt.Errorf("availability: busy set of %s: %w", vendorID, err)
	}
	if null {
		return nil, fmt.Errorf("availability: busy set of %s: not visible to the caller", vendorID)
	}
	return intervals(busy), nil
}

// Conflict is an open conflict of a vendor.
type Conflict struct {
	ID, VendorID       string
	AKind, AID         string
	BKind, BID         string
	Overlap            Interval
	DetectedAt         time.Time
	AWedding, BWedding *string
}

// Conflicts returns vendorID's open conflicts, oldest first.
func Conflicts(ctx context.Context, q integration.Querier, vendorID string) ([]Conflict, error) {
	rows, err := q.Query(ctx, `select id::text, vendor_id::text, a_kind, a_id::text, b_kind, b_id::text,
  lower(overlap), upper(overlap), detected_at, a_wedding_id::text, b_wedding_id::text
from public.availability_conflicts where vendor_id = $1 and resolved_at is null order by detected_at, id`, vendorID)
	if err != nil {
		return nil, fmt.Errorf("availability: conflicts of %s: %w", vendorID, err)
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		if err := rows.Scan(&c.ID, &c.VendorID, &c.AKind, &c.AID, &c.BKind, &c.BID, &c.Overlap.Start, &c.Overlap.End,
			&c.DetectedAt, &c.AWedding, &c.BWedding); err != nil {
			return nil, err
		}
		c.Overlap.Start, c.Overlap.End, c.DetectedAt = c.Overlap.Start.UTC(), c.Overlap.End.UTC(), c.DetectedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// Refresh re-checks vendorID's conflicts (triggers do this on every change; this is for
// repair jobs) and returns how many new conflicts it opened.
func Refresh(ctx context.Context, q integration.Querier, vendorID string) (int, error) {
	var n int
	if err := q.QueryRow(ctx, `select vendorhub.refresh_conflicts($1)`, vendorID).Scan(&n); err != nil {
		return 0, fmt.Errorf("availability: refresh conflicts of %s: %w", vendorID, err)
	}
	return n, nil
}
