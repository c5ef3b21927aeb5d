package crm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDecide: Apply's rule without a database — what a record writes on the state it finds.
func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2027, 6, d, 0, 0, 0, 0, time.UTC) }
	booked := state{bookingID: "b1", bookingStatus: "booked", bookingStart: day(12), bookingEnd: day(13)}
	wedding := state{wedding: "w1", weddingStatus: "inquiry", weddingStart: day(20), weddingEnd: day(21)}
	both := booked
	both.wedding, both.weddingStatus, both.weddingStart, both.weddingEnd = "w1", "booked", day(12), day(13)
	for _, tc := range []struct {
		name          string
		rec           Record
		st            state
		op            int
		status        string
		start, end    time.Time
		title         string
		weddingStatus string
	}{
		{"new project with a date inserts", Record{Trigger: NewInquiry, ProjectName: "A & B", Start: day(1), End: day(2), BookingStatus: "inquiry", Upgrade: true},
			state{}, bookingInsert, "inquiry", day(1), day(2), "A & B", ""},
		{"new project without a date or wedding writes nothing", Record{Trigger: NewInquiry, BookingStatus: "inquiry", Upgrade: true},
			state{}, bookingNone, "", time.Time{}, time.Time{}, "", ""},
		{"new project takes the wedding's day and moves it", Record{Trigger: ProjectBooked, WeddingStatus: "booked", BookingStatus: "booked", Upgrade: true},
			wedding, bookingInsert, "booked", day(20), day(21), "", "booked"},
		{"insert without a status is an inquiry", Record{Trigger: StatusChanged, Stage: "Odd", Start: day(1), End: day(2)},
			state{}, bookingInsert, "inquiry", day(1), day(2), "", ""},
		{"late lesser trigger keeps the booking", Record{Trigger: NewInquiry, ProjectName: "late", Start: day(3), End: day(4), BookingStatus: "inquiry", WeddingStatus: "inquiry", Upgrade: true},
			both, bookingUpdate, "booked", day(12), day(13), "", ""},
		{"explicit stage change moves back", Record{Trigger: StatusChanged, Stage: "Lost", BookingStatus: "cancelled", WeddingStatus: "declined"},
			both, bookingUpdate, "cancelled", day(12), day(13), "", "declined"},
		{"new dates update the booking", Record{Trigger: ProjectBooked, Start: day(14), End: day(15), BookingStatus: "booked", Upgrade: true},
			booked, bookingUpdate, "booked", day(14), day(15), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := decide(tc.rec, tc.st, now)
			require.Equal(t, tc.op, pl.booking.op)
			require.Equal(t, tc.status, pl.booking.status)
			if tc.op != bookingNone {
				require.Equal(t, tc.start, pl.booking.start)
				require.Equal(t, tc.end, pl.booking.end)
				require.Equal(t, tc.title, pl.booking.title)
			}
			require.Equal(t, tc.weddingStatus, pl.weddingStatus)
		})
	}

	// A payment adds its amount and stamps now when it has no date; long titles are cut.
	long := string(make([]byte, 400))
	pl := decide(Record{Trigger: PaymentReceived, Amount: "1250.00", Currency: "USD", ProjectName: long, BookingStatus: "booked", Upgrade: true}, booked, now)
	require.Equal(t, "1250.00", pl.booking.amount)
	require.Equal(t, now, *pl.booking.paid)
	require.Equal(t, "USD", *pl.booking.currency)
	require.Len(t, pl.booking.title, 300)
	pl = decide(Record{Trigger: ContractSigned, ContractSignedAt: day(1)}, booked, now)
	require.Equal(t, "0", pl.booking.amount)
	require.Nil(t, pl.booking.paid)
	require.Equal(t, day(1), *pl.booking.contract)
}
