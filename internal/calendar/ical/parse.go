// Package ical pulls iCalendar (RFC 5545) feeds of any URL — Light Blue's password-protected
// shoot calendar, or any vendor's published calendar — with conditional requests (ETag /
// If-None-Match, Last-Modified / If-Modified-Since; 304 means nothing changed) and expands
// recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) within a window into busy
// events. Parsing uses github.com/emersion/go-ical and recurrence github.com/teambition/rrule-go.
//
// Feeds are untrusted: Parse enforces the caps of limits.go (bytes, lines, line length,
// nesting, events, occurrences and recurrence steps) with counters and context checks, and
// starts each expansion near the window, so a hostile feed fails fast with a *LimitError.
package ical

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"

	"github.com/wedsync/vendorhub/internal/calendar"
)

// ParseError reports a feed that is not iCalendar.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return "ical: feed is not valid iCalendar: " + e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// PublicMessage is the fixed text stored where members read it (the decoder's message may
// quote the feed).
func (e *ParseError) PublicMessage() string { return "the feed is not valid iCalendar" }

// Result is what Parse read.
type Result struct {
	// Events are the busy events overlapping the window, recurrences expanded.
	Events []calendar.Event
	// Invalid counts events that could not be read (missing UID or DTSTART, bad dates, bad
	// RRULE); they are skipped, not fatal.
	Invalid int
	// Stats counts the work done, also when Parse fails.
	Stats Stats
}

// Parse reads a feed and returns its busy events overlapping [from, to), recurrences expanded.
// Floating times and all-day dates are in the feed's X-WR-TIMEZONE, else in loc (the vendor's
// zone). Cancelled and transparent events are left out. A feed over a cap is a *LimitError,
// one that is not iCalendar a *ParseError; ctx ending stops it.
func Parse(ctx context.Context, r io.Reader, from, to time.Time, loc *time.Location) (res Result, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFeedBytes+1))
	res.Stats.Bytes = len(data)
	if err != nil {
		return res, err
	}
	if len(data) > MaxFeedBytes {
		return res, &LimitError{Limit: "feed size in bytes", Max: MaxFeedBytes}
	}
	if err := scan(ctx, data, &res.Stats); err != nil {
		return res, err
	}
	cal, err := goical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		return res, &ParseError{Err: err}
	}
	var events []calendar.Event
	invalid := 0
	defer func() { res.Events, res.Invalid = events, invalid }()
	add := func(ev calendar.Event) error {
		if len(events) >= MaxEvents {
			return &LimitError{Limit: "event count", Max: MaxEvents}
		}
		events = append(events, ev)
		return nil
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
				if err := add(base); err != nil {
					return res, err
				}
			}
			continue
		}
		starts, err := occurrences(ctx, e, from, to, end.Sub(start), loc, &res.Stats)
		var limit *LimitError
		if errors.As(err, &limit) || ctx.Err() != nil {
			return res, cmp.Or(ctx.Err(), err)
		}
		if err != nil {
			invalid++
			continue
		}
		for _, s := range starts {
			id := occurrenceID(uid, s)
			if o, ok := overrides[id]; ok {
				used[id] = true
				if !o.cancelled && o.ev.Start.Before(to) && o.ev.End.After(from) {
					if err := add(o.ev); err != nil {
						return res, err
					}
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
			if err := add(ev); err != nil {
				return res, err
			}
		}
	}
	// Overrides whose original occurrence is outside the window (moved into it) still count.
	for id, o := range overrides {
		if !used[id] && !o.cancelled && o.ev.Start.Before(to) && o.ev.End.After(from) {
			if err := add(o.ev); err != nil {
				return res, err
			}
		}
	}
	return res, nil
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
// DST changes. The rule starts near the window (skipForward); more than MaxIterations steps
// or MaxOccurrences occurrences is a *LimitError.
func occurrences(ctx context.Context, e goical.Event, from, to time.Time, dur time.Duration, loc *time.Location, st *Stats) ([]time.Time, error) {
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
		moved, live := skipForward(*opt, from.Add(-dur).In(local.Location()))
		if live && neverInWindow(moved, from.Add(-dur), to) {
			live = false
			st.Unmatchable++
		}
		if live {
			rule, err := rrule.NewRRule(moved)
			if err != nil {
				return nil, err
			}
			set.RRule(rule)
		}
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
	steps := 0
	defer func() {
		st.Iterations += steps
		st.MaxExpansion = max(st.MaxExpansion, steps)
	}()
	next := set.Iterator()
	for {
		if steps%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if steps == MaxIterations {
			return nil, &LimitError{Limit: "recurrence steps per event", Max: MaxIterations}
		}
		steps++
		t, ok := next()
		if !ok || !t.Before(to) {
			break
		}
		if t.Add(dur).After(from) {
			if len(out) == MaxOccurrences {
				return nil, &LimitError{Limit: "occurrences per event", Max: MaxOccurrences}
			}
			out = append(out, t)
		}
	}
	return out, nil
}
