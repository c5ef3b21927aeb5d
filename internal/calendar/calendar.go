package calendar

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wedsync/vendorhub/internal/integration"
)

// Event is one calendar entry, normalised: Start and End are instants (UTC), End exclusive.
type Event struct {
	// ExternalID is the provider's id, unique within the connection (for expanded
	// recurrences, the series id plus the occurrence start).
	ExternalID string
	Start, End time.Time
	// AllDay marks whole-day entries; Start and End are then midnights in the vendor's zone.
	AllDay bool
	// TimeZone is the zone the provider gave the entry in, kept for display ("" if none).
	TimeZone string
	// Tentative marks entries that are not confirmed (Google tentative, Graph showAs
	// tentative): still busy, flagged for the vendor.
	Tentative bool
}

// Change is an event created or updated, or (Deleted) removed. Deleted changes carry only
// ExternalID. Entries that do not block time (cancelled, transparent/free) arrive as Deleted.
type Change struct {
	Event
	Deleted bool
}

// Batch is what one fetch returned.
type Batch struct {
	Changes []Change
	// Full means Changes list every live entry: blocks of the connection not listed are deleted.
	Full bool
	// Invalid counts entries the source could not turn into events (reported as failed).
	Invalid int
}

// Cursor is a connection's sync position, as the provider defines it.
type Cursor struct {
	// SyncToken is Google's nextSyncToken.
	SyncToken string
	// DeltaLink is Graph's @odata.deltaLink.
	DeltaLink string
	// ETag and LastModified are a feed's validators for conditional requests.
	ETag         string
	LastModified string
	// WindowEnd is the end of the time window a windowed delta (Graph calendarView) covers:
	// entries beyond it never come through the DeltaLink, so the source re-bases the window
	// with a new full round before its future horizon shrinks too far. Zero when none.
	WindowEnd time.Time
}

// IsZero reports whether the cursor is empty (the next fetch is a full one).
func (c Cursor) IsZero() bool { return c.Equal(Cursor{}) }

// Equal reports whether c and o are the same position.
func (c Cursor) Equal(o Cursor) bool {
	return c.SyncToken == o.SyncToken && c.DeltaLink == o.DeltaLink && c.ETag == o.ETag &&
		c.LastModified == o.LastModified && c.WindowEnd.Equal(o.WindowEnd)
}

// Source fetches a connection's changes since cur and returns the next cursor.
type Source interface {
	// Fetch returns the changes since cur (all entries when cur is zero, then Batch.Full is
	// set). An expired cursor gives an error matching ErrCursorExpired; the caller then
	// fetches again from the zero cursor.
	Fetch(ctx context.Context, conn integration.Connection, cur Cursor) (Batch, Cursor, error)
}

// ErrCursorExpired reports a sync token or delta link the provider no longer accepts
// (Google 410 fullSyncRequired, Graph 410 syncStateNotFound): a full sync is required.
var ErrCursorExpired = errors.New("calendar: sync cursor expired, full sync required")

// ErrNotModified is returned by sources whose feed did not change (HTTP 304).
var ErrNotModified = errors.New("calendar: not modified")

// AllDay returns the instants of the whole days [startDate, endDate) in loc. endDate is
// exclusive, as in iCalendar and Google ("2026-03-29" to "2026-03-30" is one day, 23 hours long
// in Europe/London).
func AllDay(startDate, endDate string, loc *time.Location) (time.Time, time.Time, error) {
	s, err := time.ParseInLocation(time.DateOnly, startDate, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("calendar: all-day start %q: %w", startDate, err)
	}
	e := s.AddDate(0, 0, 1)
	if endDate != "" {
		if e, err = time.ParseInLocation(time.DateOnly, endDate, loc); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("calendar: all-day end %q: %w", endDate, err)
		}
	}
	if !e.After(s) {
		e = s.AddDate(0, 0, 1)
	}
	return s.UTC(), e.UTC(), nil
}

// Valid reports why e cannot be stored, or nil.
func (e Event) Valid() error {
	switch {
	case e.ExternalID == "":
		return errors.New("missing id")
	case e.Start.IsZero() || e.End.IsZero():
		return errors.New("missing start or end")
	case !e.End.After(e.Start):
		return fmt.Errorf("end %s not after start %s", e.End.Format(time.RFC3339), e.Start.Format(time.RFC3339))
	}
	return nil
}
