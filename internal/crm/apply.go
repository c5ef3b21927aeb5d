package crm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/wedsync/vendorhub/internal/integration"
)

var metricRecords = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "vendorhub_crm_records_total",
	Help: "CRM trigger payloads processed, by connection kind and outcome (created, updated, skipped, failed).",
}, []string{"kind", "outcome"})

// Outcome is what processing one inbox row did.
type Outcome struct {
	// Status is the run status: integration.RunOK or integration.RunFailed.
	Status string
	// Created, Updated, Skipped and Failed count as in public.sync_runs (one record: one of
	// them is 1, except that a new booking for a wedding also moving its status is Created).
	Created, Updated, Skipped, Failed int
	// BookingID is the booking the record touched, if any.
	BookingID string
	// WeddingID is the wedding the record was matched to, if any.
	WeddingID string
	// Err is the mapping error of a failed record.
	Err error
}

// Processor applies stored CRM trigger payloads (vendorhub.webhook_inbox rows).
type Processor struct {
	// Pool is the application database.
	Pool *pgxpool.Pool
	// Mappers map an inbox source (honeybook, dubsado) to its payload mapper.
	Mappers map[string]Mapper
}

// ErrUnknownSource reports an inbox row of a source no mapper serves.
var ErrUnknownSource = errors.New("crm: no mapper for inbox source")

// Process applies inbox row inboxID once: a row already processed, or a payload already
// applied (same dedupe key), is skipped. A payload that cannot be mapped is recorded as failed
// and marked processed (it will not map better on retry); database errors are returned for the
// job to retry.
func (p *Processor) Process(ctx context.Context, inboxID string) (Outcome, error) {
	tx, err := p.Pool.Begin(ctx)
	if err != nil {
		return Outcome{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	var source string
	var connID *string
	var payload []byte
	var processed *time.Time
	err = tx.QueryRow(ctx, `select source, connection_id::text, payload, processed_at from vendorhub.webhook_inbox where id = $1 for update`, inboxID).
		Scan(&source, &connID, &payload, &processed)
	if errors.Is(err, pgx.ErrNoRows) {
		return Outcome{}, fmt.Errorf("crm: inbox row %s not found", inboxID)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("crm: read inbox row %s: %w", inboxID, err)
	}
	if processed != nil {
		return Outcome{Status: integration.RunOK, Skipped: 1}, nil
	}
	mapper, ok := p.Mappers[source]
	if !ok {
		return Outcome{}, fmt.Errorf("%w %q", ErrUnknownSource, source)
	}
	if connID == nil {
		return p.finish(ctx, tx, inboxID, integration.Connection{}, Outcome{Status: integration.RunFailed, Failed: 1,
			Err: errors.New("inbox row has no connection")})
	}
	conn, err := integration.Load(ctx, tx, *connID)
	if err != nil {
		return Outcome{}, err
	}
	started := time.Now()
	rec, err := mapper.Map(payload, conn.Location)
	var me *MappingError
	if errors.As(err, &me) {
		out := Outcome{Status: integration.RunFailed, Failed: 1, Err: err}
		return p.finishRun(ctx, tx, inboxID, conn, started, out)
	}
	if err != nil {
		return Outcome{}, err
	}
	out, err := Apply(ctx, tx, conn, rec, inboxID)
	if err != nil {
		return Outcome{}, err
	}
	return p.finishRun(ctx, tx, inboxID, conn, started, out)
}

func (p *Processor) finishRun(ctx context.Context, tx pgx.Tx, inboxID string, conn integration.Connection, started time.Time, out Outcome) (Outcome, error) {
	if err := integration.RecordRun(ctx, tx, integration.Run{Connection: conn, StartedAt: started, Status: out.Status,
		Created: out.Created, Updated: out.Updated, Skipped: out.Skipped, Failed: out.Failed, Error: out.Err}); err != nil {
		return Outcome{}, err
	}
	return p.finish(ctx, tx, inboxID, conn, out)
}

func (p *Processor) finish(ctx context.Context, tx pgx.Tx, inboxID string, conn integration.Connection, out Outcome) (Outcome, error) {
	var lastErr *string
	if out.Err != nil {
		s := out.Err.Error()
		lastErr = &s
	}
	if _, err := tx.Exec(ctx, `update vendorhub.webhook_inbox set processed_at = now(), attempts = attempts + 1, last_error = left($2, 2000) where id = $1`,
		inboxID, lastErr); err != nil {
		return Outcome{}, fmt.Errorf("crm: mark inbox row %s processed: %w", inboxID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Outcome{}, fmt.Errorf("crm: commit inbox row %s: %w", inboxID, err)
	}
	kind := string(conn.Kind)
	for outcome, n := range map[string]int{"created": out.Created, "updated": out.Updated, "skipped": out.Skipped, "failed": out.Failed} {
		if n > 0 {
			metricRecords.WithLabelValues(kind, outcome).Add(float64(n))
		}
	}
	return out, nil
}

var bookingRank = map[string]int{"cancelled": -1, "inquiry": 0, "held": 1, "booked": 2}
var weddingRank = map[string]int{"declined": -1, "cancelled": -1, "inquiry": 0, "proposal": 1, "booked": 2, "confirmed": 3}

// move returns the status to keep: next when it is set and (not upgrade-only, or ranks higher).
func move(cur, next string, upgrade bool, rank map[string]int) string {
	if next == "" || next == cur {
		return cur
	}
	if cur == "" || !upgrade || rank[next] > rank[cur] {
		return next
	}
	return cur
}

// Apply writes rec for connection conn inside tx: dedupe, match the wedding (couple email,
// else a unique wedding of that date), upsert the booking on the CRM's project id, move the
// wedding_vendors status. The foundation's triggers emit booking.updated and
// vendor.status_changed.
func Apply(ctx context.Context, tx pgx.Tx, conn integration.Connection, rec Record, inboxID string) (Outcome, error) {
	out := Outcome{Status: integration.RunOK}
	tag, err := tx.Exec(ctx, `insert into vendorhub.crm_records (connection_id, dedupe_key, trigger, record_id, inbox_id)
values ($1, $2, $3, $4, $5) on conflict do nothing`, conn.ID, rec.DedupeKey(), string(rec.Trigger), rec.ProjectID, inboxID)
	if err != nil {
		return out, fmt.Errorf("crm: dedupe %s: %w", rec.ProjectID, err)
	}
	if tag.RowsAffected() == 0 || rec.Trigger == NewClient {
		out.Skipped = 1
		return out, nil
	}
	source := conn.Kind.BlockSource()

	// Load: the existing booking of this project and the matched wedding, locked.
	var st state
	var bWedding *string
	err = tx.QueryRow(ctx, `select id::text, status, wedding_id::text, starts_at, ends_at from public.bookings
where vendor_id = $1 and source = $2 and external_id = $3 for update`, conn.VendorID, source, rec.ProjectID).
		Scan(&st.bookingID, &st.bookingStatus, &bWedding, &st.bookingStart, &st.bookingEnd)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return out, fmt.Errorf("crm: read booking %s: %w", rec.ProjectID, err)
	}
	st.wedding, err = matchWedding(ctx, tx, conn.VendorID, rec, bWedding)
	if err != nil {
		return out, err
	}
	out.WeddingID = st.wedding
	if st.wedding != "" {
		if err := tx.QueryRow(ctx, `select lower(d), upper(d), wv.status
from public.wedding_vendors wv join public.weddings w on w.id = wv.wedding_id,
     lateral (select vendorhub.wedding_day(w.wedding_date, w.timezone) as d) x
where wv.wedding_id = $1 and wv.vendor_id = $2 for update of wv`, st.wedding, conn.VendorID).Scan(&st.weddingStart, &st.weddingEnd, &st.weddingStatus); err != nil {
			return out, fmt.Errorf("crm: read wedding %s: %w", st.wedding, err)
		}
	}

	// Decide, then write.
	pl := decide(rec, st, time.Now().UTC())
	var weddingArg *string
	if st.wedding != "" {
		weddingArg = &st.wedding
	}
	b := pl.booking
	switch b.op {
	case bookingUpdate:
		tag, err := tx.Exec(ctx, `update public.bookings set
  status = $2, starts_at = $3, ends_at = $4, wedding_id = coalesce($5::uuid, wedding_id),
  title = coalesce(nullif($6, ''), title), crm_status = coalesce($7, crm_status),
  contract_signed_at = coalesce($8, contract_signed_at), amount_paid = amount_paid + $9::numeric,
  currency = coalesce($10, currency), last_payment_at = greatest(last_payment_at, $11), connection_id = $12, updated_at = now()
where id = $1`, st.bookingID, b.status, b.start, b.end, weddingArg, b.title, b.stage, b.contract, b.amount, b.currency, b.paid, conn.ID)
		if err != nil {
			return out, fmt.Errorf("crm: update booking %s: %w", rec.ProjectID, err)
		}
		if tag.RowsAffected() > 0 {
			out.Updated = 1
		}
		out.BookingID = st.bookingID
	case bookingInsert:
		if err := tx.QueryRow(ctx, `insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, status, source, external_id,
  title, connection_id, crm_status, contract_signed_at, amount_paid, currency, last_payment_at)
values ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), $9, $10, $11, $12::numeric, $13, $14) returning id::text`,
			conn.VendorID, weddingArg, b.start, b.end, b.status, source, rec.ProjectID, b.title, conn.ID, b.stage, b.contract, b.amount, b.currency, b.paid).Scan(&out.BookingID); err != nil {
			return out, fmt.Errorf("crm: insert booking %s: %w", rec.ProjectID, err)
		}
		out.Created = 1
	}
	if pl.weddingStatus != "" {
		if _, err := tx.Exec(ctx, `update public.wedding_vendors set status = $3, updated_at = now() where wedding_id = $1 and vendor_id = $2`,
			st.wedding, conn.VendorID, pl.weddingStatus); err != nil {
			return out, fmt.Errorf("crm: move wedding %s to %s: %w", st.wedding, pl.weddingStatus, err)
		}
		if out.Created == 0 {
			out.Updated = 1
		}
	}
	if out.Created+out.Updated == 0 {
		out.Skipped = 1
	}
	return out, nil
}

// state is what Apply reads before deciding: the project's existing booking (bookingID ""
// when none) and the matched wedding (wedding "" when none) with its day and this vendor's
// status.
type state struct {
	bookingID, bookingStatus string
	bookingStart, bookingEnd time.Time
	wedding, weddingStatus   string
	weddingStart, weddingEnd time.Time
}

// The booking writes of a plan.
const (
	bookingNone = iota
	bookingInsert
	bookingUpdate
)

// bookingWrite is the booking row a plan writes.
type bookingWrite struct {
	op              int
	status, title   string
	start, end      time.Time
	amount          string
	contract, paid  *time.Time
	currency, stage *string
}

// plan is what Apply writes for a record.
type plan struct {
	booking bookingWrite
	// weddingStatus is the wedding_vendors status to move to, "" to leave it.
	weddingStatus string
}

// decide is Apply's rule, without I/O: a record and the state it lands on → the writes. The
// booking is updated when the project has one, inserted when a date is known (the record's,
// else the wedding's), else left alone; its dates are the record's, else the booking's, else
// the wedding's. Statuses move through move (upgrade-only records never move backwards, and a
// late, lesser trigger leaves the booking's dates and title as a later one set them). now
// stamps a payment without a date.
func decide(rec Record, st state, now time.Time) plan {
	start, end := rec.Start, rec.End
	switch {
	case !start.IsZero():
	case st.bookingID != "":
		start, end = st.bookingStart, st.bookingEnd
	case st.wedding != "":
		start, end = st.weddingStart, st.weddingEnd
	}
	b := bookingWrite{start: start, end: end, amount: rec.Amount, title: rec.ProjectName}
	if b.amount == "" {
		b.amount = "0"
	}
	if !rec.ContractSignedAt.IsZero() {
		at := rec.ContractSignedAt
		b.contract = &at
	}
	if rec.Trigger == PaymentReceived {
		t := rec.PaidAt
		if t.IsZero() {
			t = now
		}
		b.paid = &t
	}
	if rec.Currency != "" {
		c := rec.Currency
		b.currency = &c
	}
	if rec.Stage != "" {
		s := rec.Stage
		b.stage = &s
	}
	if len(b.title) > 300 {
		b.title = b.title[:300]
	}
	switch {
	case st.bookingID != "":
		b.op = bookingUpdate
		b.status = move(st.bookingStatus, rec.BookingStatus, rec.Upgrade, bookingRank)
		if rec.Upgrade && rec.BookingStatus != "" && bookingRank[st.bookingStatus] > bookingRank[rec.BookingStatus] {
			// A late, lesser trigger (HoneyBook polls): it must not undo what a later one set.
			b.start, b.end, b.title = st.bookingStart, st.bookingEnd, ""
		}
	case !start.IsZero():
		b.op = bookingInsert
		b.status = move("", rec.BookingStatus, false, bookingRank)
		if b.status == "" {
			b.status = "inquiry"
		}
	}
	pl := plan{booking: b}
	if st.wedding != "" {
		if next := move(st.weddingStatus, rec.WeddingStatus, rec.Upgrade, weddingRank); next != st.weddingStatus {
			pl.weddingStatus = next
		}
	}
	return pl
}

// matchWedding finds the hub wedding a CRM record is about among the vendor's weddings: the one
// already linked to the project's booking, else the one whose couple has the client's email
// (the closest to the record's date when several), else the only one on the record's date.
func matchWedding(ctx context.Context, tx pgx.Tx, vendorID string, rec Record, linked *string) (string, error) {
	if linked != nil {
		return *linked, nil
	}
	var date *string
	if !rec.Start.IsZero() {
		d := rec.Start.Format(time.DateOnly)
		date = &d
	}
	var id string
	if rec.ClientEmail != "" {
		err := tx.QueryRow(ctx, `select wv.wedding_id::text
from public.wedding_vendors wv join public.weddings w on w.id = wv.wedding_id
where wv.vendor_id = $1 and exists (
  select 1 from public.wedding_couples c join auth.users u on u.id = c.user_id
  where c.wedding_id = wv.wedding_id and lower(u.email) = $2)
order by abs(w.wedding_date - coalesce($3::date, w.wedding_date)), w.wedding_date limit 1`, vendorID, rec.ClientEmail, date).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("crm: match wedding by email: %w", err)
		}
	}
	if date == nil {
		return "", nil
	}
	rows, err := tx.Query(ctx, `select wv.wedding_id::text from public.wedding_vendors wv join public.weddings w on w.id = wv.wedding_id
where wv.vendor_id = $1 and w.wedding_date between $2::date - 1 and $2::date + 1
  and vendorhub.wedding_day(w.wedding_date, w.timezone) && tstzrange($3, $4) limit 2`, vendorID, *date, rec.Start, rec.End)
	if err != nil {
		return "", fmt.Errorf("crm: match wedding by date: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	return "", nil
}
