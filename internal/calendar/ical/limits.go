package ical

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/teambition/rrule-go"
)

// Caps of Parse. A feed over any of them fails as a whole with a *LimitError (its connection's
// sync fails; other connections are not affected). Each is checked by a counter, never a clock.
const (
	// MaxFeedBytes caps a feed's size.
	MaxFeedBytes = 5 << 20
	// MaxLines caps a feed's unfolded content lines.
	MaxLines = 500_000
	// MaxLineBytes caps one unfolded content line (long DESCRIPTIONs fit).
	MaxLineBytes = 64 << 10
	// MaxDepth caps the nesting of BEGIN/END components (VCALENDAR > VEVENT > VALARM is 3).
	MaxDepth = 8
	// MaxEvents caps the VEVENT components of a feed, and the busy events it expands to.
	MaxEvents = 20_000
	// MaxOccurrences caps the occurrences of one recurring event within the sync window.
	MaxOccurrences = 1_000
	// MaxIterations caps the candidate steps of one recurrence expansion (occurrences the
	// iterator yields, before and inside the window). Expansion starts near the window (see
	// skipForward), so a series begun in year 1 costs no more than one begun last week.
	MaxIterations = 100_000
	// ctxEvery is how many lines or steps run between two checks of the context.
	ctxEvery = 1024
)

// LimitError reports a feed over one of the caps: which, and the cap.
type LimitError struct {
	Limit string
	Max   int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("ical: feed exceeds the %s limit (%d)", e.Limit, e.Max)
}

// PublicMessage is the fixed text stored where members read it.
func (e *LimitError) PublicMessage() string {
	return fmt.Sprintf("the feed exceeds the %s limit (%d)", e.Limit, e.Max)
}

// Stats counts the work Parse did; tests assert the caps through it.
type Stats struct {
	// Bytes read (at most MaxFeedBytes+1), unfolded Lines scanned, deepest component nesting.
	Bytes    int
	Lines    int
	MaxDepth int
	// Events counts the VEVENT components scanned.
	Events int
	// Iterations counts recurrence steps over all expansions; MaxExpansion the most of one.
	Iterations   int
	MaxExpansion int
	// Unmatchable counts rules not expanded because nothing can occur in the window
	// (neverInWindow).
	Unmatchable int
}

// scan checks the raw feed against the line, nesting and event caps before it is decoded.
func scan(ctx context.Context, data []byte, st *Stats) error {
	depth, lineLen := 0, -1
	var first []byte // start of the current unfolded line (up to 16 bytes, for BEGIN/END)
	end := func() error {
		if lineLen < 0 {
			return nil
		}
		st.Lines++
		if st.Lines > MaxLines {
			return &LimitError{Limit: "line count", Max: MaxLines}
		}
		switch {
		case hasPrefixFold(first, "BEGIN:"):
			depth++
			st.MaxDepth = max(st.MaxDepth, depth)
			if depth > MaxDepth {
				return &LimitError{Limit: "component nesting", Max: MaxDepth}
			}
			if hasPrefixFold(first, "BEGIN:VEVENT") {
				st.Events++
				if st.Events > MaxEvents {
					return &LimitError{Limit: "event count", Max: MaxEvents}
				}
			}
		case hasPrefixFold(first, "END:"):
			depth--
		}
		if st.Lines%ctxEvery == 0 {
			return ctx.Err()
		}
		return nil
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && lineLen >= 0 { // folded continuation
			lineLen += len(line) - 1
		} else {
			if err := end(); err != nil {
				return err
			}
			if len(line) == 0 {
				lineLen = -1
				continue
			}
			lineLen = len(line)
			first = line[:min(len(line), 16)]
		}
		if lineLen > MaxLineBytes {
			return &LimitError{Limit: "line length", Max: MaxLineBytes}
		}
	}
	return end()
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

// skipForward moves a rule's start forward by whole periods of its own grid so that
// expansion begins at most about one grid step before the earliest start that can overlap
// the window (notBefore), instead of at a DTSTART decades back. It works in whole days
// (time.AddDate on the start's wall clock), so DST does not shift the grid:
//   - DAILY and WEEKLY step by INTERVAL days or weeks;
//   - HOURLY, MINUTELY and SECONDLY step by the least common multiple of their period and a
//     day, which holds 86400/gcd(period, 86400) ≤ 86400 periods;
//   - MONTHLY and YEARLY are not moved (from year 1 they take at most 24,300 and 2,025 steps).
//
// COUNT counts from the original start: a rule with COUNT is moved only when it has no BY
// parts (one occurrence per period), and its COUNT is reduced by the periods skipped. It
// returns the options to expand and false when nothing can occur any more.
func skipForward(opt rrule.ROption, notBefore time.Time) (rrule.ROption, bool) {
	interval := max(opt.Interval, 1)
	var stepDays, perStep int
	switch opt.Freq {
	case rrule.DAILY:
		stepDays, perStep = interval, 1
	case rrule.WEEKLY:
		stepDays, perStep = 7*interval, 1
	case rrule.HOURLY, rrule.MINUTELY, rrule.SECONDLY:
		unit := map[rrule.Frequency]int{rrule.HOURLY: 3600, rrule.MINUTELY: 60, rrule.SECONDLY: 1}[opt.Freq]
		period := interval * unit
		if period > 1<<30 {
			return opt, true
		}
		l := period / gcd(period, 86400) * 86400
		stepDays, perStep = l/86400, l/period
	default:
		return opt, true
	}
	if opt.Count > 0 && hasByParts(opt) {
		return opt, true
	}
	// In seconds: a time.Duration saturates at 292 years.
	gap, step := notBefore.Unix()-opt.Dtstart.Unix(), int64(stepDays)*86400
	if gap <= step {
		return opt, true
	}
	k := int(gap / step)
	start := opt.Dtstart.AddDate(0, 0, k*stepDays)
	for k > 0 && start.After(notBefore) { // DST or leap adjustments: stay at or before
		k--
		start = opt.Dtstart.AddDate(0, 0, k*stepDays)
	}
	if k == 0 {
		return opt, true
	}
	if opt.Count > 0 {
		skipped := int64(k) * int64(perStep)
		if skipped >= int64(opt.Count) {
			return opt, false
		}
		opt.Count -= int(skipped)
	}
	opt.Dtstart = start
	return opt, true
}

func hasByParts(o rrule.ROption) bool {
	return len(o.Bysetpos)+len(o.Bymonth)+len(o.Bymonthday)+len(o.Byyearday)+len(o.Byweekno)+len(o.Byweekday)+
		len(o.Byhour)+len(o.Byminute)+len(o.Bysecond)+len(o.Byeaster) > 0
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// maxCheckDays bounds neverInWindow's day walk (the sync window is about 760 days).
const maxCheckDays = 1100

// neverInWindow reports whether no occurrence of opt can start in [lo, hi): BYSETPOS can never
// pick from a period's set, or no day there passes the rule's day filters. rrule-go scans
// period after period until year 9999 for a rule that never yields, steps no counter sees, so
// such rules are not expanded at all. The day check is permissive (BYDAY ordinals, BYWEEKNO
// and BYEASTER are not applied), so "false" only means "not proven empty".
func neverInWindow(opt rrule.ROption, lo, hi time.Time) bool {
	if len(opt.Bysetpos) > 0 {
		periodDays := map[rrule.Frequency]int{rrule.YEARLY: 366, rrule.MONTHLY: 31, rrule.WEEKLY: 7}[opt.Freq]
		set := max(periodDays, 1) * max(len(opt.Byhour), 1) * max(len(opt.Byminute), 1) * max(len(opt.Bysecond), 1)
		reachable := false
		for _, p := range opt.Bysetpos {
			reachable = reachable || (p != 0 && p <= set && -p <= set)
		}
		if !reachable {
			return true
		}
	}
	if len(opt.Bymonth)+len(opt.Bymonthday)+len(opt.Byyearday)+len(opt.Byweekday) == 0 {
		return false
	}
	loc := opt.Dtstart.Location()
	if lo.Before(opt.Dtstart) {
		lo = opt.Dtstart
	}
	if !opt.Until.IsZero() && opt.Until.Before(hi) {
		hi = opt.Until.Add(time.Second)
	}
	y, m, d := lo.In(loc).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // calendar days, no zone arithmetic
	y, m, d = hi.In(loc).Date()
	last := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if last.Sub(day) > maxCheckDays*24*time.Hour {
		return false
	}
	for ; !day.After(last); day = day.AddDate(0, 0, 1) {
		if dayPasses(opt, day) {
			return false
		}
	}
	return true
}

func dayPasses(o rrule.ROption, day time.Time) bool {
	monthLen := time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	yearLen := time.Date(day.Year(), 12, 31, 0, 0, 0, 0, time.UTC).YearDay()
	in := func(set []int, vs ...int) bool {
		if len(set) == 0 {
			return true
		}
		for _, s := range set {
			for _, v := range vs {
				if s == v {
					return true
				}
			}
		}
		return false
	}
	if !in(o.Bymonth, int(day.Month())) || !in(o.Bymonthday, day.Day(), day.Day()-monthLen-1) ||
		!in(o.Byyearday, day.YearDay(), day.YearDay()-yearLen-1) {
		return false
	}
	if len(o.Byweekday) == 0 {
		return true
	}
	py := (int(day.Weekday()) + 6) % 7 // rrule-go counts Monday as 0
	for _, w := range o.Byweekday {
		if w.Day() == py {
			return true
		}
	}
	return false
}
