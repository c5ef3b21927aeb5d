package notify

import (
	"time"

	"github.com/wedsync/vendorhub/internal/channel/kind"
)

// Categories. The SQL domain public.notification_category holds the same list.
const (
	CategoryNewMessage         = "new_message"
	CategoryStatusChange       = "status_change"
	CategoryBooking            = "booking"
	CategoryAvailability       = "availability"
	CategoryTask               = "task"
	CategoryIntegrationFailure = "integration_failure"
	CategoryConflict           = "conflict"
	CategoryDayOfChange        = "day_of_change"
)

// Critical reports whether category cannot be muted and ignores quiet hours.
func Critical(category string) bool { return category == CategoryDayOfChange }

// KnownCategory reports whether category is in the closed list.
func KnownCategory(category string) bool {
	switch category {
	case CategoryNewMessage, CategoryStatusChange, CategoryBooking, CategoryAvailability, CategoryTask,
		CategoryIntegrationFailure, CategoryConflict, CategoryDayOfChange:
		return true
	}
	return false
}

// Order is the fallback order of the remote channels.
var Order = []kind.Kind{kind.Push, kind.Email, kind.SMS}

// InApp names the in-app channel in preferences.
const InApp = "in_app"

// Recipient is what the planner knows about one user.
type Recipient struct {
	// UserID is the auth user id.
	UserID string
	// Location is the user's time zone (UTC when unset or unknown).
	Location *time.Location
	// QuietStart and QuietEnd are the quiet window as minutes after local midnight; the
	// window may wrap midnight. HasQuiet is false when the user set none.
	QuietStart, QuietEnd int
	HasQuiet             bool
	// Reachable says, per channel, whether the user can be reached there now: a live
	// device (push), an address that has not bounced (email), a number neither opted out
	// nor invalid (sms).
	Reachable map[kind.Kind]bool
	// Prefs holds the user's switches, keyed by category + "/" + channel; a missing key
	// means the default.
	Prefs map[string]bool
}

// enabled reports the user's switch for category × ch, or the default: push, email and
// in-app on, SMS off.
func (r *Recipient) enabled(category, ch string) bool {
	if v, ok := r.Prefs[category+"/"+ch]; ok {
		return v
	}
	return ch != string(kind.SMS)
}

// Plan is the decision for one recipient of one notification.
type Plan struct {
	// Notify is false when the user muted the category entirely (every channel, in-app
	// included, switched off); no notification is written then.
	Notify bool
	// Critical is set for categories that cannot be muted.
	Critical bool
	// Chain holds the remote channels to try, first to last; empty means in-app only.
	Chain []kind.Kind
	// NotBefore, when non-zero, defers the first channel to the end of the quiet window.
	NotBefore time.Time
}

// Decide plans category for r at instant now.
func Decide(r *Recipient, category string, now time.Time) Plan {
	p := Plan{Critical: Critical(category)}
	for _, ch := range Order {
		if (p.Critical || r.enabled(category, string(ch))) && r.Reachable[ch] {
			p.Chain = append(p.Chain, ch)
		}
	}
	p.Notify = p.Critical || len(p.Chain) > 0 || r.enabled(category, InApp)
	if !p.Notify {
		return p
	}
	if len(p.Chain) > 0 && !p.Critical && Deferrable(p.Chain[0]) {
		if end, quiet := r.QuietUntil(now); quiet {
			p.NotBefore = end
		}
	}
	return p
}

// Deferrable reports whether quiet hours hold ch back: push and SMS interrupt, email does not.
func Deferrable(ch kind.Kind) bool { return ch == kind.Push || ch == kind.SMS }

// QuietUntil reports whether now falls in r's quiet window and, if so, when the window
// ends: the next local wall-clock QuietEnd in r's time zone. Wall-clock arithmetic makes it
// right across DST changes (a window ending at 07:00 ends at 07:00 local on the morning
// after a change); an end that falls in a DST gap (02:30 on a spring-forward night) ends
// the window at the transition, the first instant the local clock reads past it.
func (r *Recipient) QuietUntil(now time.Time) (time.Time, bool) {
	if !r.HasQuiet {
		return time.Time{}, false
	}
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	tod := local.Hour()*60 + local.Minute()
	y, m, d := local.Date()
	endAt := func(day int) time.Time {
		t := time.Date(y, m, day, r.QuietEnd/60, r.QuietEnd%60, 0, 0, loc)
		if wall := t.Hour()*60 + t.Minute(); wall != r.QuietEnd {
			// The end falls in a DST gap (that wall-clock time does not exist that day):
			// the window ends when the clock jumps past it, at the zone transition.
			start, end := t.ZoneBounds()
			if wall < r.QuietEnd {
				return end
			}
			return start
		}
		return t
	}

	var end time.Time
	switch {
	case r.QuietStart < r.QuietEnd && tod >= r.QuietStart && tod < r.QuietEnd:
		end = endAt(d)
	case r.QuietStart > r.QuietEnd && tod >= r.QuietStart:
		end = endAt(d + 1)
	case r.QuietStart > r.QuietEnd && tod < r.QuietEnd:
		end = endAt(d)
	}
	if !end.After(now) {
		return time.Time{}, false
	}
	return end, true
}
