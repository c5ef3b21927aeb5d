// Package ical pulls iCalendar (RFC 5545) feeds of any URL — Light Blue's password-protected
// shoot calendar, or any vendor's published calendar — with conditional requests (ETag /
// If-None-Match, Last-Modified / If-Modified-Since; 304 means nothing changed) and expands
// recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) within a window into busy
// events. Parsing uses github.com/emersion/go-ical and recurrence github.com/teambition/rrule-go.
package ical

import (
	"fmt"
	"io"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"

	"github.com/wedsync/vendorhub/internal/calendar"
)

// MaxOccurrences caps the occurrences expanded from one recurring event within the window.
const MaxOccurrences = 5000

// ParseError reports a feed that is not iCalendar.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return "ical: feed is not valid iCalendar: " + e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads a feed and returns its busy events overlapping [from, to), recurrences expanded.
// Floating times and all-day dates are in the feed's X-WR-TIMEZONE, else in loc (the vendor's
// zone). Cancelled and transparent events are left out. invalid counts events that could not
// be read (missing UID or DTSTART, bad dates, bad RRULE); they are skipped, not fatal.
func Parse(r io.Reader, from, to time.Time, loc *time.Location) (events []calendar.Event, invalid int, err error) {
	cal, err := goical.NewDecoder(r).Decode()
	if err != nil {
		return nil, 0, &ParseError{Err: err}
	}
	if tz := propText(cal.Props, "X-WR-TIMEZONE"); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	type override struct {
		ev        calendar.Event
		cancelled bool
	}
	masters := []goical.Event{}
	overrides := map[string]override{} // UID + "@" + original start (UTC) → replacement
	for _, e := range cal.Events() {
		if e.Props.Get(goical.PropRecurrenceID) == nil {
			masters = append(masters, e)
			continue
		}
		uid := propText(e.Props, goical.PropUID)
		rid, _, err := propTime(e.Props.Get(goical.PropRecurrenceID), loc)
		if uid == "" || err != nil {
			invalid++
			continue
		}
		key := occurrenceID(uid, rid)
		if !busy(e) {
			overrides[key] = override{cancelled: true}
			continue
		}
		start, end, allDay, tz, err := span(e, loc)
		if err != nil {
			invalid++
			continue
		}
		overrides[key] = override{ev: calendar.Event{ExternalID: key, Start: start, End: end, AllDay: allDay, TimeZone: tz, Tentative: tentative(e)}}
	}
	used := map[string]bool{}
	for _, e := range masters {
		uid := propText(e.Props, goical.PropUID)
		if uid == "" {
			invalid++
			continue
		}
		if !busy(e) {
			continue
		}
		start, end, allDay, tz, err := span(e, loc)
		if err != nil {
			invalid++
			continue
		}
		base := calendar.Event{ExternalID: uid, Start: start, End: end, AllDay: allDay, TimeZone: tz, Tentative: tentative(e)}
		if e.Props.Get(goical.PropRecurrenceRule) == nil && e.Props.Get(goical.PropRecurrenceDates) == nil {
			if base.Start.Before(to) && base.End.After(from) {
				events = append(events, base)
			}
			continue
		}
		starts, err := occurrences(e, from, to, end.Sub(start), loc)
		if err != nil {
			invalid++
			continue
		}
		for _, s := range starts {
			id := occurrenceID(uid, s)
			if o, ok := overrides[id]; ok {
				used[id] = true
				if !o.cancelled && o.ev.Start.Before(to) && o.ev.End.After(from) {
					events = append(events, o.ev)
				}
				continue
			}
			ev := base
			ev.ExternalID = id
			ev.Start = s.UTC()
			if allDay {
				// Whole days in local time: keep the day count, not the hour count, across DST.
				days := int(end.Sub(start).Round(24*time.Hour) / (24 * time.Hour))
				ev.End = s.In(loc).AddDate(0, 0, max(days, 1)).UTC()
			} else {
				ev.End = s.Add(end.Sub(start)).UTC()
			}
			events = append(events, ev)
		}
	}
	// Overrides whose original occurrence is outside the window (moved into it) still count.
	for id, o := range overrides {
		if !used[id] && !o.cancelled && o.ev.Start.Before(to) && o.ev.End.After(from) {
			events = append(events, o.ev)
		}
	}
	return events, invalid, nil
}

func occurrenceID(uid string, start time.Time) string {
	return uid + "@" + start.UTC().Format("20060102T150405Z")
}

func propText(props goical.Props, name string) string {
	p := props.Get(name)
	if p == nil {
		return ""
	}
	return strings.TrimSpace(p.Value)
}

func busy(e goical.Event) bool {
	status := strings.ToUpper(propText(e.Props, goical.PropStatus))
	transp := strings.ToUpper(propText(e.Props, goical.PropTransparency))
	return status != "CANCELLED" && transp != "TRANSPARENT"
}

func tentative(e goical.Event) bool {
	return strings.ToUpper(propText(e.Props, goical.PropStatus)) == "TENTATIVE"
}

// propTime reads a DATE or DATE-TIME property: UTC ("Z"), TZID, or floating (loc). It reports
// whether the value is a date, and the zone name it was given in.
func propTime(p *goical.Prop, loc *time.Location) (time.Time, bool, error) {
	if p == nil {
		return time.Time{}, false, fmt.Errorf("missing")
	}
	return parseValue(p.Value, p.ValueType() == goical.ValueDate, p.Params.Get(goical.PropTimezoneID), loc)
}

func parseValue(v string, isDate bool, tzid string, loc *time.Location) (time.Time, bool, error) {
	v = strings.TrimSpace(v)
	if isDate || len(v) == len("20060102") {
		t, err := time.ParseInLocation("20060102", v, loc)
		return t, true, err
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.Parse("20060102T150405Z", v)
		return t, false, err
	}
	if tzid != "" {
		// Unknown zone names (e.g. Windows names) fall back to the feed's zone.
		if l, err := time.LoadLocation(strings.Trim(tzid, `"`)); err == nil {
			loc = l
		}
	}
	t, err := time.ParseInLocation("20060102T150405", v, loc)
	return t, false, err
}

// span returns an event's start and end (DTEND, else DTSTART + DURATION, else one day for a
// date and zero length for a date-time, widened to one minute so it still blocks).
func span(e goical.Event, loc *time.Location) (start, end time.Time, allDay bool, tz string, err error) {
	sp := e.Props.Get(goical.PropDateTimeStart)
	start, allDay, err = propTime(sp, loc)
	if err != nil {
		return start, end, false, "", fmt.Errorf("DTSTART: %w", err)
	}
	tz = sp.Params.Get(goical.PropTimezoneID)
	if allDay || (tz == "" && !strings.HasSuffix(sp.Value, "Z")) {
		tz = loc.String()
	} else if strings.HasSuffix(sp.Value, "Z") {
		tz = "UTC"
	}
	switch {
	case e.Props.Get(goical.PropDateTimeEnd) != nil:
		end, _, err = propTime(e.Props.Get(goical.PropDateTimeEnd), loc)
		if err != nil {
			return start, end, allDay, tz, fmt.Errorf("DTEND: %w", err)
		}
	case e.Props.Get(goical.PropDuration) != nil:
		d, derr := e.Props.Get(goical.PropDuration).Duration()
		if derr != nil {
			return start, end, allDay, tz, fmt.Errorf("DURATION: %w", derr)
		}
		if allDay && d%(24*time.Hour) == 0 {
			end = start.AddDate(0, 0, int(d/(24*time.Hour)))
		} else {
			end = start.Add(d)
		}
	case allDay:
		end = start.AddDate(0, 0, 1)
	default:
		end = start.Add(time.Minute)
	}
	if !end.After(start) {
		if allDay {
			end = start.AddDate(0, 0, 1)
		} else {
			return start, end, allDay, tz, fmt.Errorf("DTEND %s not after DTSTART %s", end, start)
		}
	}
	return start.UTC(), end.UTC(), allDay, tz, nil
}

// occurrences expands RRULE/RDATE minus EXDATE, returning the starts of occurrences that
// overlap [from, to). Recurrence runs in the start's own zone, so wall-clock times hold across
// DST changes.
func occurrences(e goical.Event, from, to time.Time, dur time.Duration, loc *time.Location) ([]time.Time, error) {
	sp := e.Props.Get(goical.PropDateTimeStart)
	local, isDate, err := propTime(sp, loc)
	if err != nil {
		return nil, err
	}
	set := &rrule.Set{}
	set.DTStart(local)
	if opt, err := e.Props.RecurrenceRule(); err != nil {
		return nil, err
	} else if opt != nil {
		opt.Dtstart = local
		rule, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, err
		}
		set.RRule(rule)
	} else {
		set.RDate(local)
	}
	for _, name := range []string{goical.PropRecurrenceDates, goical.PropExceptionDates} {
		for _, p := range e.Props.Values(name) {
			for _, v := range strings.Split(p.Value, ",") {
				if strings.Contains(v, "/") { // RDATE periods: take the start
					v, _, _ = strings.Cut(v, "/")
				}
				t, _, err := parseValue(v, isDate || p.ValueType() == goical.ValueDate, p.Params.Get(goical.PropTimezoneID), local.Location())
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				if name == goical.PropExceptionDates {
					set.ExDate(t)
				} else {
					set.RDate(t)
				}
			}
		}
	}
	var out []time.Time
	next := set.Iterator()
	for {
		t, ok := next()
		if !ok || !t.Before(to) || len(out) >= MaxOccurrences {
			break
		}
		if t.Add(dur).After(from) {
			out = append(out, t)
		}
	}
	return out, nil
}
