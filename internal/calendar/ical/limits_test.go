package ical

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/teambition/rrule-go"
)

var (
	winFrom = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	winTo   = winFrom.Add(WindowFutureDefault)
)

func requireLimit(t *testing.T, err error, limit string) *LimitError {
	t.Helper()
	var le *LimitError
	require.True(t, errors.As(err, &le), "want a *LimitError, got %v", err)
	require.Equal(t, limit, le.Limit)
	return le
}

// Year-1 SECONDLY (2 January: rrule-go reads the zero time.Time, 1 January 00:00 UTC, as "now"): expansion starts near the window (skipForward), so the steps taken are
// about one day of seconds, not two thousand years of them; the occurrence cap then fails it.
func TestHostileSecondlyFromYearOne(t *testing.T) {
	t.Parallel()
	ics := feed(vevent("UID:storm", "DTSTART:00010102T000000Z", "DTEND:00010102T000001Z", "RRULE:FREQ=SECONDLY"))
	res, err := Parse(t.Context(), strings.NewReader(ics), winFrom, winTo, time.UTC)
	requireLimit(t, err, "occurrences per event")
	t.Logf("year-1 SECONDLY: %+v", res.Stats)
	require.LessOrEqual(t, res.Stats.Iterations, 86400+MaxOccurrences+1, "steps from one day before the window")
	require.Greater(t, res.Stats.Iterations, MaxOccurrences)

	// COUNT with BY parts cannot be moved (COUNT counts from DTSTART): the step cap stops it.
	ics = feed(vevent("UID:counted", "DTSTART:00010102T000000Z", "DTEND:00010102T000001Z", "RRULE:FREQ=MINUTELY;COUNT=100000000;BYSECOND=0"))
	res, err = Parse(t.Context(), strings.NewReader(ics), winFrom, winTo, time.UTC)
	requireLimit(t, err, "recurrence steps per event")
	t.Logf("year-1 MINUTELY with COUNT and BY parts: %+v", res.Stats)
	require.Equal(t, MaxIterations, res.Stats.Iterations)

	// A cancelled context stops expansion at the next check.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err = Parse(ctx, strings.NewReader(ics), winFrom, winTo, time.UTC)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, res.Stats.Iterations)
}

func TestHostileEventCount(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\nVERSION:2.0\n")
	for i := range 100_000 {
		fmt.Fprintf(&b, "BEGIN:VEVENT\nUID:%d\nEND:VEVENT\n", i)
	}
	b.WriteString("END:VCALENDAR\n")
	require.Less(t, b.Len(), MaxFeedBytes, "the size cap is not what stops it")
	res, err := Parse(t.Context(), strings.NewReader(b.String()), winFrom, winTo, time.UTC)
	requireLimit(t, err, "event count")
	t.Logf("100,000 events: %+v", res.Stats)
	require.Equal(t, MaxEvents+1, res.Stats.Events, "scanning stopped at the first event over the cap")
	require.Less(t, res.Stats.Lines, 3*(MaxEvents+1)+3)
}

func TestHostileNesting(t *testing.T) {
	t.Parallel()
	ics := "BEGIN:VCALENDAR\r\n" + strings.Repeat("BEGIN:VEVENT\r\n", 100_000) + strings.Repeat("END:VEVENT\r\n", 100_000) + "END:VCALENDAR\r\n"
	res, err := Parse(t.Context(), strings.NewReader(ics), winFrom, winTo, time.UTC)
	requireLimit(t, err, "component nesting")
	t.Logf("deep nesting: %+v", res.Stats)
	require.Equal(t, MaxDepth+1, res.Stats.MaxDepth)
	require.Equal(t, MaxDepth+1, res.Stats.Lines)
}

func TestHostileSize(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("X-PAD:0123456789012345678901234567890123456789012345678901234567890\r\n"), (10<<20)/60)
	ics := append(append([]byte("BEGIN:VCALENDAR\r\n"), big...), "END:VCALENDAR\r\n"...)
	require.Greater(t, len(ics), 10<<20)
	res, err := Parse(t.Context(), bytes.NewReader(ics), winFrom, winTo, time.UTC)
	requireLimit(t, err, "feed size in bytes")
	t.Logf("10 MiB: %+v", res.Stats)
	require.Equal(t, MaxFeedBytes+1, res.Stats.Bytes, "reading stopped one byte past the cap")
	require.Zero(t, res.Stats.Lines, "nothing was scanned")
}

func TestHostileLines(t *testing.T) {
	t.Parallel()
	long := "BEGIN:VCALENDAR\r\nX-LONG:" + strings.Repeat("a", 70) + strings.Repeat("\r\n "+strings.Repeat("a", 74), MaxLineBytes/74+1) + "\r\nEND:VCALENDAR\r\n"
	res, err := Parse(t.Context(), strings.NewReader(long), winFrom, winTo, time.UTC)
	requireLimit(t, err, "line length")
	require.Equal(t, 1, res.Stats.Lines, "one line scanned before the folded one ran over")

	many := "BEGIN:VCALENDAR\n" + strings.Repeat("X:\n", MaxLines+10) + "END:VCALENDAR\n"
	res, err = Parse(t.Context(), strings.NewReader(many), winFrom, winTo, time.UTC)
	requireLimit(t, err, "line count")
	require.Equal(t, MaxLines+1, res.Stats.Lines)
}

// Starting near the window changes nothing: every rule gives the same occurrences as a full
// expansion from its DTSTART.
func TestSkipForwardMatchesFullExpansion(t *testing.T) {
	t.Parallel()
	london := mustLoc(t, "Europe/London")
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	dur := 90 * time.Minute
	rules := []struct {
		rule  string
		start time.Time
	}{
		{"FREQ=DAILY;INTERVAL=3", time.Date(1990, 5, 17, 9, 30, 0, 0, london)},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", time.Date(2001, 1, 2, 18, 0, 0, 0, london)},
		{"FREQ=WEEKLY;BYDAY=SA;BYSETPOS=1", time.Date(2010, 7, 3, 12, 0, 0, 0, london)},
		{"FREQ=HOURLY;INTERVAL=7", time.Date(2024, 1, 1, 5, 0, 0, 0, london)},
		{"FREQ=MINUTELY;INTERVAL=1439;BYHOUR=10,11", time.Date(2025, 12, 30, 10, 7, 0, 0, london)},
		{"FREQ=DAILY;COUNT=500", time.Date(2025, 6, 1, 8, 0, 0, 0, london)},
		{"FREQ=DAILY;COUNT=50", time.Date(2025, 6, 1, 8, 0, 0, 0, london)},
		{"FREQ=DAILY;UNTIL=20260601T000000Z", time.Date(2000, 6, 1, 8, 0, 0, 0, london)},
		{"FREQ=MONTHLY;BYMONTHDAY=31", time.Date(2003, 1, 31, 20, 0, 0, 0, london)},
	}
	for _, r := range rules {
		opt, err := rrule.StrToROptionInLocation(r.rule, london)
		require.NoError(t, err)
		opt.Dtstart = r.start
		full, err := rrule.NewRRule(*opt)
		require.NoError(t, err)
		want := full.Between(from.Add(-dur), to, false)
		moved, live := skipForward(*opt, from.Add(-dur).In(london))
		var got []time.Time
		if live {
			rule, err := rrule.NewRRule(moved)
			require.NoError(t, err)
			got = rule.Between(from.Add(-dur), to, false)
		}
		require.Equal(t, len(want), len(got), r.rule)
		for i := range want {
			require.True(t, want[i].Equal(got[i]), "%s: %v vs %v", r.rule, want[i], got[i])
		}
		require.False(t, neverInWindow(moved, from.Add(-dur), to), "%s can occur in the window", r.rule)
		if r.start.Year() < 2020 && r.rule != "FREQ=MONTHLY;BYMONTHDAY=31" {
			require.True(t, moved.Dtstart.After(from.AddDate(0, 0, -30)), "%s moved to %v", r.rule, moved.Dtstart)
		}
	}
}

// Rules that can never match are not handed to rrule-go (which would scan to year 9999 without
// yielding, uncounted): 200 of each cost no expansion step at all.
func TestUnmatchableRulesAreNotExpanded(t *testing.T) {
	t.Parallel()
	rules := []string{"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
		"FREQ=DAILY;BYSETPOS=3", "FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=-31", "FREQ=HOURLY;BYYEARDAY=366;BYMONTH=1"}
	var evs []string
	for i := range 200 {
		for j, r := range rules {
			evs = append(evs, vevent(fmt.Sprintf("UID:never-%d-%d", i, j), "DTSTART:20200102T000000Z", "DTEND:20200102T000001Z", "RRULE:"+r))
		}
	}
	evs = append(evs, vevent("UID:leap", "DTSTART:20200102T090000Z", "DTEND:20200102T100000Z", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29"))
	res, err := Parse(t.Context(), strings.NewReader(feed(evs...)), winFrom, time.Date(2028, 6, 1, 0, 0, 0, 0, time.UTC), time.UTC)
	require.NoError(t, err)
	require.Equal(t, 200*len(rules), res.Stats.Unmatchable)
	require.Len(t, res.Events, 1, "29 February 2028 is in the window")
	require.Equal(t, "2028-02-29", res.Events[0].Start.Format(time.DateOnly))
	require.LessOrEqual(t, res.Stats.MaxExpansion, 3, "only the leap-day rule was expanded")
}
