package ical

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/calendar"
)

func feed(events ...string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Light Blue//Shoots//EN\r\n" +
		strings.Join(events, "") + "END:VCALENDAR\r\n"
}

func vevent(lines ...string) string {
	return "BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VEVENT\r\n"
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

func byStart(evs []calendar.Event) []calendar.Event {
	sort.Slice(evs, func(i, j int) bool { return evs[i].Start.Before(evs[j].Start) })
	return evs
}

func TestParseSingleAndAllDay(t *testing.T) {
	t.Parallel()
	london := mustLoc(t, "Europe/London")
	ics := feed(
		vevent("UID:shoot-1", "SUMMARY:Smith wedding", "DTSTART;TZID=Europe/London:20260613T130000", "DTEND;TZID=Europe/London:20260613T230000"),
		vevent("UID:allday-1", "DTSTART;VALUE=DATE:20260329", "DTEND;VALUE=DATE:20260330"), // UK DST starts: a 23-hour day
		vevent("UID:cancelled", "STATUS:CANCELLED", "DTSTART:20260601T100000Z", "DTEND:20260601T110000Z"),
		vevent("UID:free", "TRANSP:TRANSPARENT", "DTSTART:20260602T100000Z", "DTEND:20260602T110000Z"),
		vevent("UID:bad-dates", "DTSTART:20260603T100000Z", "DTEND:20260603T090000Z"),
		vevent("SUMMARY:no uid", "DTSTART:20260604T100000Z", "DTEND:20260604T110000Z"),
	)
	res, err := Parse(t.Context(), strings.NewReader(ics), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), london)
	require.NoError(t, err)
	evs := res.Events
	require.Equal(t, 2, res.Invalid)
	evs = byStart(evs)
	require.Len(t, evs, 2)

	require.Equal(t, "allday-1", evs[0].ExternalID)
	require.True(t, evs[0].AllDay)
	require.Equal(t, time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), evs[0].Start) // GMT midnight
	require.Equal(t, time.Date(2026, 3, 29, 23, 0, 0, 0, time.UTC), evs[0].End)  // BST midnight
	require.Equal(t, 23*time.Hour, evs[0].End.Sub(evs[0].Start))

	require.Equal(t, "shoot-1", evs[1].ExternalID)
	require.Equal(t, time.Date(2026, 6, 13, 12, 0, 0, 0, time.UTC), evs[1].Start) // 13:00 BST
	require.Equal(t, "Europe/London", evs[1].TimeZone)
}

func TestParseRecurringAcrossDST(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	// Weekly Saturday 10:00-12:00 New York time, 5 times, across the 2026-03-08 DST change;
	// the second occurrence is excluded, the fourth moved to 14:00.
	ics := feed(
		vevent("UID:weekly", "DTSTART;TZID=America/New_York:20260228T100000", "DTEND;TZID=America/New_York:20260228T120000",
			"RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=America/New_York:20260307T100000"),
		vevent("UID:weekly", "RECURRENCE-ID;TZID=America/New_York:20260321T100000",
			"DTSTART;TZID=America/New_York:20260321T140000", "DTEND;TZID=America/New_York:20260321T160000"),
	)
	res, err := Parse(t.Context(), strings.NewReader(ics), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC)
	require.NoError(t, err)
	evs := res.Events
	require.Zero(t, res.Invalid)
	evs = byStart(evs)
	var got []string
	for _, e := range evs {
		got = append(got, e.Start.In(ny).Format("2006-01-02 15:04 MST")+" "+e.End.Sub(e.Start).String())
	}
	require.Equal(t, []string{
		"2026-02-28 10:00 EST 2h0m0s",
		"2026-03-14 10:00 EDT 2h0m0s", // wall clock kept across DST: 14:00 UTC, not 15:00
		"2026-03-21 14:00 EDT 2h0m0s", // the override
		"2026-03-28 10:00 EDT 2h0m0s",
	}, got)
	require.Equal(t, "weekly@20260314T140000Z", evs[1].ExternalID)
	require.Equal(t, "weekly@20260321T140000Z", evs[2].ExternalID, "an override keeps the id of the occurrence it replaces")
}

func TestParseRecurringAllDayAndWindow(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	// Yearly two-day booking, infinite; only occurrences inside the window are expanded.
	ics := feed(vevent("UID:fair", "DTSTART;VALUE=DATE:20200324", "DTEND;VALUE=DATE:20200326", "RRULE:FREQ=YEARLY"))
	from, to := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	res, err := Parse(t.Context(), strings.NewReader(ics), from, to, berlin)
	require.NoError(t, err)
	evs := byStart(res.Events)
	require.Len(t, evs, 2)
	for _, e := range evs {
		require.True(t, e.AllDay)
		require.Equal(t, "00:00", e.Start.In(berlin).Format("15:04"))
		require.Equal(t, "00:00", e.End.In(berlin).Format("15:04"))
		require.Equal(t, 2, int(e.End.In(berlin).Sub(e.Start.In(berlin)).Round(24*time.Hour)/(24*time.Hour)))
	}
	require.Equal(t, "2026-03-24", evs[0].Start.In(berlin).Format(time.DateOnly))
	// 2026-03-24..26 is before Berlin's DST change (29 March): 48 h; 2027 likewise.
	require.Equal(t, 48*time.Hour, evs[0].End.Sub(evs[0].Start))
}

func TestParseRejectsNonICalendar(t *testing.T) {
	t.Parallel()
	_, err := Parse(t.Context(), strings.NewReader("<html>login</html>"), time.Now(), time.Now().Add(time.Hour), time.UTC)
	var pe *ParseError
	require.True(t, errors.As(err, &pe), "got %v", err)
}
