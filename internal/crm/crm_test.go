package crm_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/crm"
	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/crm/honeybook"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	return b
}

func TestMappersPerTrigger(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	cases := []struct {
		mapper          crm.Mapper
		fixture         string
		trigger         crm.Trigger
		wedding, book   string
		upgrade, allDay bool
		check           func(t *testing.T, r crm.Record)
	}{
		{honeybook.Mapper{}, "honeybook_new_inquiry", crm.NewInquiry, "inquiry", "inquiry", true, true, func(t *testing.T, r crm.Record) {
			require.Equal(t, "ava@example.com", r.ClientEmail, "emails are matched case-insensitively")
			require.Equal(t, time.Date(2026, 9, 12, 0, 0, 0, 0, ny).UTC(), r.Start, "a date alone is the vendor's whole day")
			require.Equal(t, time.Date(2026, 9, 13, 0, 0, 0, 0, ny).UTC(), r.End)
		}},
		{honeybook.Mapper{}, "honeybook_project_booked", crm.ProjectBooked, "booked", "booked", true, false, func(t *testing.T, r crm.Record) {
			require.Equal(t, time.Date(2026, 9, 12, 18, 0, 0, 0, time.UTC), r.Start)
			require.Equal(t, 9*time.Hour, r.End.Sub(r.Start))
		}},
		{honeybook.Mapper{}, "honeybook_payment_received", crm.PaymentReceived, "booked", "booked", true, false, func(t *testing.T, r crm.Record) {
			require.Equal(t, "1250.00", r.Amount)
			require.Equal(t, "USD", r.Currency)
			require.Equal(t, "hb-pay-77", r.PaymentID)
		}},
		{honeybook.Mapper{}, "honeybook_stage_changed", crm.StatusChanged, "booked", "booked", false, false, func(t *testing.T, r crm.Record) {
			require.Equal(t, "Planning", r.Stage)
		}},
		{honeybook.Mapper{}, "honeybook_new_client", crm.NewClient, "", "", false, false, func(t *testing.T, r crm.Record) {
			require.Equal(t, "hb-client-5", r.ProjectID)
		}},
		{dubsado.Mapper{}, "dubsado_new_project_as_lead", crm.NewInquiry, "inquiry", "inquiry", true, false, func(t *testing.T, r crm.Record) {
			require.Equal(t, time.Date(2026, 9, 12, 13, 0, 0, 0, ny).UTC(), r.Start, "a local date-time is in the vendor's zone")
			require.Equal(t, "Ava Thompson", r.ClientName)
		}},
		{dubsado.Mapper{}, "dubsado_new_project_as_job", crm.ProjectBooked, "booked", "booked", true, false, nil},
		{dubsado.Mapper{}, "dubsado_project_status_updated", crm.StatusChanged, "declined", "cancelled", false, false, func(t *testing.T, r crm.Record) {
			require.True(t, r.Start.IsZero(), "no dates in a status update")
		}},
		{dubsado.Mapper{}, "dubsado_contract_signed", crm.ContractSigned, "booked", "booked", true, false, func(t *testing.T, r crm.Record) {
			require.Equal(t, time.Date(2026, 5, 3, 18, 30, 0, 0, time.UTC), r.ContractSignedAt)
		}},
		{dubsado.Mapper{}, "dubsado_new_payment_received", crm.PaymentReceived, "booked", "booked", true, false, func(t *testing.T, r crm.Record) {
			require.Equal(t, "500", r.Amount, "a JSON number is an amount too")
		}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			r, err := c.mapper.Map(fixture(t, c.fixture), ny)
			require.NoError(t, err)
			require.Equal(t, c.trigger, r.Trigger)
			require.Equal(t, c.wedding, r.WeddingStatus)
			require.Equal(t, c.book, r.BookingStatus)
			require.Equal(t, c.upgrade, r.Upgrade)
			require.Equal(t, c.allDay, r.AllDay)
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

func TestMappersRejectBadPayloads(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mapper  crm.Mapper
		payload string
	}{
		"not json":           {honeybook.Mapper{}, `not json`},
		"unknown trigger":    {honeybook.Mapper{}, `{"trigger": "Invoice Viewed", "project_id": "1"}`},
		"no project id":      {dubsado.Mapper{}, `{"trigger": "New Project as Job"}`},
		"bad date":           {dubsado.Mapper{}, `{"trigger": "New Project as Job", "project_id": "1", "start_date": "next tuesday"}`},
		"payment no amount":  {honeybook.Mapper{}, `{"trigger": "Payment Received", "project_id": "1", "payment_id": "p"}`},
		"payment bad amount": {dubsado.Mapper{}, `{"trigger": "New Payment Received", "project_id": "1", "payment_id": "p", "payment_amount": "ten"}`},
		"status no status":   {dubsado.Mapper{}, `{"trigger": "Project Status Updated", "project_id": "1"}`},
		"contract no date":   {dubsado.Mapper{}, `{"trigger": "Contract Signed", "project_id": "1"}`},
	}
	for name, c := range cases {
		_, err := c.mapper.Map([]byte(c.payload), time.UTC)
		var me *crm.MappingError
		require.True(t, errors.As(err, &me), "%s: %v", name, err)
	}
}

type bundle struct {
	db      *pgtest.DB
	proc    *crm.Processor
	slot    string
	vendor  string
	wedding string
	conn    string
}

func setup(t *testing.T, kind integration.Kind) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	pool := db.Pool
	b := &bundle{db: db, proc: &crm.Processor{Pool: pool, Mappers: map[string]crm.Mapper{"honeybook": honeybook.Mapper{}, "dubsado": dubsado.Mapper{}}}}
	b.vendor = it.Vendor(t, pool, "Lumen & Lace", "America/New_York")
	ava := it.User(t, pool, "ava@example.com")
	b.wedding = it.Wedding(t, pool, "2026-09-12", "America/New_York")
	it.Couple(t, pool, b.wedding, ava)
	it.Connect(t, pool, b.wedding, b.vendor, "inquiry")
	other := it.Wedding(t, pool, "2026-09-12", "America/New_York") // same date, other couple: email decides
	it.Connect(t, pool, other, b.vendor, "inquiry")
	b.conn = it.Connection(t, pool, it.Keyring(t), b.vendor, kind, nil, integration.Credential{})
	b.slot = it.Slot(t, pool)
	return b
}

var seq int

func (b *bundle) receive(t *testing.T, source string, payload []byte) string {
	t.Helper()
	seq++
	var id string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `insert into vendorhub.webhook_inbox (source, connection_id, provider_event_id, payload)
values ($1, $2, $3, $4) returning id::text`, source, b.conn, time.Now().Format(time.RFC3339Nano)+"-"+string(rune('a'+seq%26)), payload).Scan(&id))
	return id
}

func (b *bundle) process(t *testing.T, source, name string) (crm.Outcome, []event.Envelope) {
	t.Helper()
	out, err := b.proc.Process(context.Background(), b.receive(t, source, fixture(t, name)))
	require.NoError(t, err)
	return out, it.Events(t, b.db.Pool, b.slot, event.BookingUpdated, event.VendorStatusChanged)
}

type bookingRow struct {
	Status, CRMStatus, Wedding string
	Paid                       float64
	Contract                   bool
	Start, End                 time.Time
}

func (b *bundle) booking(t *testing.T, external string) bookingRow {
	t.Helper()
	var r bookingRow
	var wedding *string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select status, coalesce(crm_status, ''), wedding_id::text, amount_paid::float8,
  contract_signed_at is not null, starts_at, ends_at from public.bookings where external_id = $1`, external).
		Scan(&r.Status, &r.CRMStatus, &wedding, &r.Paid, &r.Contract, &r.Start, &r.End))
	if wedding != nil {
		r.Wedding = *wedding
	}
	r.Start, r.End = r.Start.UTC(), r.End.UTC()
	return r
}

func (b *bundle) weddingStatus(t *testing.T) string {
	t.Helper()
	var s string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select status from public.wedding_vendors where wedding_id = $1 and vendor_id = $2`, b.wedding, b.vendor).Scan(&s))
	return s
}

func types(evs []event.Envelope) []event.Type {
	out := []event.Type{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func statusChange(t *testing.T, evs []event.Envelope) (string, string) {
	t.Helper()
	for _, e := range evs {
		if e.Type == event.VendorStatusChanged {
			var d struct{ OldStatus, NewStatus string }
			require.NoError(t, json.Unmarshal(e.Data, &struct {
				Old *string `json:"old_status"`
				New *string `json:"new_status"`
			}{&d.OldStatus, &d.NewStatus}))
			return d.OldStatus, d.NewStatus
		}
	}
	t.Fatal("no vendor.status_changed")
	return "", ""
}

func TestHoneyBookTriggersToHubEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, integration.HoneyBook)

	out, evs := b.process(t, "honeybook", "honeybook_new_inquiry")
	require.Equal(t, 1, out.Created)
	require.Equal(t, b.wedding, out.WeddingID, "matched by the couple's email, not just the date")
	require.Equal(t, []event.Type{event.BookingUpdated}, types(evs), "already an inquiry: no status change")
	require.Equal(t, bookingRow{Status: "inquiry", Wedding: b.wedding,
		Start: time.Date(2026, 9, 12, 4, 0, 0, 0, time.UTC), End: time.Date(2026, 9, 13, 4, 0, 0, 0, time.UTC)}, b.booking(t, "hb-proj-1001"))

	out, evs = b.process(t, "honeybook", "honeybook_project_booked")
	require.Equal(t, 1, out.Updated)
	require.ElementsMatch(t, []event.Type{event.BookingUpdated, event.VendorStatusChanged}, types(evs))
	old, cur := statusChange(t, evs)
	require.Equal(t, "inquiry", old)
	require.Equal(t, "booked", cur)
	bk := b.booking(t, "hb-proj-1001")
	require.Equal(t, "booked", bk.Status)
	require.Equal(t, time.Date(2026, 9, 12, 18, 0, 0, 0, time.UTC), bk.Start, "the booked trigger's times replace the day")

	// Zapier replays the same trigger (a new delivery id): absorbed.
	out, evs = b.process(t, "honeybook", "honeybook_project_booked")
	require.Equal(t, crm.Outcome{Status: integration.RunOK, Skipped: 1}, out)
	require.Empty(t, evs)

	out, evs = b.process(t, "honeybook", "honeybook_payment_received")
	require.Equal(t, 1, out.Updated)
	require.Equal(t, []event.Type{event.BookingUpdated}, types(evs))
	require.Equal(t, 1250.0, b.booking(t, "hb-proj-1001").Paid)
	out, _ = b.process(t, "honeybook", "honeybook_payment_received")
	require.Equal(t, 1, out.Skipped)
	require.Equal(t, 1250.0, b.booking(t, "hb-proj-1001").Paid, "a payment is counted once")

	_, evs = b.process(t, "honeybook", "honeybook_stage_changed")
	require.Equal(t, []event.Type{event.BookingUpdated}, types(evs), "the CRM stage is recorded; the status was already booked")
	require.Equal(t, "Planning", b.booking(t, "hb-proj-1001").CRMStatus)

	// A late "new inquiry" (HoneyBook polls) never undoes the booking.
	late := map[string]string{}
	require.NoError(t, json.Unmarshal(fixture(t, "honeybook_new_inquiry"), &late))
	late["project_name"] = "Ava & Noah Wedding (late)"
	raw, _ := json.Marshal(late)
	_, err := b.proc.Process(context.Background(), b.receive(t, "honeybook", raw))
	require.NoError(t, err)
	require.Equal(t, "booked", b.booking(t, "hb-proj-1001").Status)
	require.Equal(t, "booked", b.weddingStatus(t))
	require.Equal(t, time.Date(2026, 9, 12, 18, 0, 0, 0, time.UTC), b.booking(t, "hb-proj-1001").Start)
	require.Empty(t, it.Events(t, b.db.Pool, b.slot, event.BookingUpdated, event.VendorStatusChanged))

	out, evs = b.process(t, "honeybook", "honeybook_new_client")
	require.Equal(t, 1, out.Skipped)
	require.Empty(t, evs)

	// The same inbox row twice (a retried job): skipped.
	id := b.receive(t, "honeybook", []byte(`{"trigger": "Invoice Viewed", "project_id": "x"}`))
	out, err = b.proc.Process(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, 1, out.Failed, "an unmappable payload is a failed record, not an error to retry")
	out, err = b.proc.Process(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, 1, out.Skipped)

	var runs, failed int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select count(*), count(*) filter (where status = 'failed') from public.sync_runs where connection_id = $1`, b.conn).Scan(&runs, &failed))
	require.Equal(t, 9, runs)
	require.Equal(t, 1, failed)
}

func TestDubsadoTriggersToHubEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, integration.Dubsado)

	out, evs := b.process(t, "dubsado", "dubsado_new_project_as_lead")
	require.Equal(t, 1, out.Created)
	require.Equal(t, []event.Type{event.BookingUpdated}, types(evs))

	_, evs = b.process(t, "dubsado", "dubsado_new_project_as_job")
	require.ElementsMatch(t, []event.Type{event.BookingUpdated, event.VendorStatusChanged}, types(evs))
	require.Equal(t, "booked", b.weddingStatus(t))

	_, evs = b.process(t, "dubsado", "dubsado_contract_signed")
	require.Equal(t, []event.Type{event.BookingUpdated}, types(evs))
	require.True(t, b.booking(t, "ds-9f2c").Contract)

	_, evs = b.process(t, "dubsado", "dubsado_new_payment_received")
	require.Equal(t, []event.Type{event.BookingUpdated}, types(evs))
	require.Equal(t, 500.0, b.booking(t, "ds-9f2c").Paid)

	_, evs = b.process(t, "dubsado", "dubsado_project_status_updated")
	require.ElementsMatch(t, []event.Type{event.BookingUpdated, event.VendorStatusChanged}, types(evs))
	old, cur := statusChange(t, evs)
	require.Equal(t, "booked", old)
	require.Equal(t, "declined", cur, "an explicit status change may move backwards")
	require.Equal(t, "cancelled", b.booking(t, "ds-9f2c").Status)

	out, evs = b.process(t, "dubsado", "dubsado_project_status_updated")
	require.Equal(t, 1, out.Skipped, "duplicate absorbed")
	require.Empty(t, evs)
}
