package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/channel"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func hm(h, m int) int { return h*60 + m }

// TestDecideMatrix covers preferences × quiet hours (five time zones, across both DST
// changes of both hemispheres) × criticality with a fixed clock per case.
func TestDecideMatrix(t *testing.T) {
	t.Parallel()
	all := map[channel.Kind]bool{channel.Push: true, channel.Email: true, channel.SMS: true}
	type prefs map[string]bool
	var (
		defaults  = prefs{}
		pushOff   = prefs{"new_message/push": false}
		smsOn     = prefs{"booking/sms": true}
		remoteOff = prefs{"new_message/push": false, "new_message/email": false, "new_message/sms": false}
		muted     = prefs{"new_message/push": false, "new_message/email": false, "new_message/sms": false, "new_message/in_app": false}
		dayOfOff  = prefs{"day_of_change/push": false, "day_of_change/email": false, "day_of_change/sms": false, "day_of_change/in_app": false}
	)
	P, E, S := channel.Push, channel.Email, channel.SMS
	cases := []struct {
		name        string
		tz          string
		quiet       [2]int // start, end minutes; {-1,-1} = none
		now         string
		prefs       prefs
		category    string
		reach       map[channel.Kind]bool
		notify      bool
		chain       []channel.Kind
		notBefore   string // "" = not deferred
		description string
	}{
		// New York, spring forward (2026-03-08 02:00 EST → 03:00 EDT).
		{name: "NY spring-forward night, push deferred to 07:00 EDT", tz: "America/New_York", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-03-08T06:30:00Z", prefs: defaults, category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-03-08T11:00:00Z"},
		{name: "NY quiet end inside the DST gap ends at the transition", tz: "America/New_York", quiet: [2]int{hm(22, 0), hm(2, 30)},
			now: "2026-03-08T06:30:00Z", prefs: defaults, category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-03-08T07:00:00Z"},
		// New York, fall back (2026-11-01 02:00 EDT → 01:00 EST).
		{name: "NY fall-back night, push deferred to 07:00 EST", tz: "America/New_York", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-11-01T05:30:00Z", prefs: defaults, category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-11-01T12:00:00Z"},
		{name: "NY daytime is not quiet", tz: "America/New_York", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-03-08T15:00:00Z", prefs: defaults, category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E}},
		{name: "NY just before quiet starts", tz: "America/New_York", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-07-01T01:59:00Z", prefs: defaults, category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E}},
		{name: "NY quiet starts, wraps to next morning", tz: "America/New_York", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-07-01T02:00:00Z", prefs: defaults, category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-07-01T11:00:00Z"},
		// London, spring forward (2026-03-29 01:00 GMT → 02:00 BST).
		{name: "London spring-forward night, deferred to 08:00 BST", tz: "Europe/London", quiet: [2]int{hm(23, 0), hm(8, 0)},
			now: "2026-03-29T00:30:00Z", prefs: defaults, category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-03-29T07:00:00Z"},
		{name: "London, email first is never deferred", tz: "Europe/London", quiet: [2]int{hm(23, 0), hm(8, 0)},
			now: "2026-03-29T00:30:00Z", prefs: pushOff, category: CategoryNewMessage, notify: true, chain: []channel.Kind{E}},
		{name: "London, SMS enabled for bookings, push first deferred", tz: "Europe/London", quiet: [2]int{hm(23, 0), hm(8, 0)},
			now: "2026-03-29T00:30:00Z", prefs: smsOn, category: CategoryBooking, notify: true, chain: []channel.Kind{P, E, S},
			notBefore: "2026-03-29T07:00:00Z"},
		{name: "London, SMS only reachable channel, deferred", tz: "Europe/London", quiet: [2]int{hm(23, 0), hm(8, 0)},
			now: "2026-03-29T00:30:00Z", prefs: smsOn, category: CategoryBooking, reach: map[channel.Kind]bool{S: true},
			notify: true, chain: []channel.Kind{S}, notBefore: "2026-03-29T07:00:00Z"},
		// Sydney, DST ends (2026-04-05 03:00 AEDT → 02:00 AEST).
		{name: "Sydney DST-end night, deferred to 07:00 AEST", tz: "Australia/Sydney", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-04-04T12:00:00Z", prefs: defaults, category: CategoryStatusChange, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-04-04T21:00:00Z"},
		// Tokyo: no DST, half-hour end.
		{name: "Tokyo wraps midnight, 06:30 end", tz: "Asia/Tokyo", quiet: [2]int{hm(21, 0), hm(6, 30)},
			now: "2026-06-01T13:00:00Z", prefs: defaults, category: CategoryTask, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-06-01T21:30:00Z"},
		// Madrid: a window that does not wrap midnight.
		{name: "Madrid siesta window", tz: "Europe/Madrid", quiet: [2]int{hm(14, 0), hm(16, 0)},
			now: "2026-08-10T12:30:00Z", prefs: defaults, category: CategoryAvailability, notify: true, chain: []channel.Kind{P, E},
			notBefore: "2026-08-10T14:00:00Z"},
		{name: "Madrid after the window", tz: "Europe/Madrid", quiet: [2]int{hm(14, 0), hm(16, 0)},
			now: "2026-08-10T14:00:00Z", prefs: defaults, category: CategoryAvailability, notify: true, chain: []channel.Kind{P, E}},
		// No quiet hours at all.
		{name: "no quiet hours", tz: "UTC", quiet: [2]int{-1, -1}, now: "2026-03-08T03:00:00Z", prefs: defaults,
			category: CategoryNewMessage, notify: true, chain: []channel.Kind{P, E}},
		// Preferences.
		{name: "remote channels off: in-app only", tz: "UTC", quiet: [2]int{-1, -1}, now: "2026-03-08T03:00:00Z", prefs: remoteOff,
			category: CategoryNewMessage, notify: true},
		{name: "muted category: nothing", tz: "UTC", quiet: [2]int{-1, -1}, now: "2026-03-08T03:00:00Z", prefs: muted,
			category: CategoryNewMessage, notify: false},
		{name: "unreachable push skipped", tz: "UTC", quiet: [2]int{-1, -1}, now: "2026-03-08T03:00:00Z", prefs: defaults,
			category: CategoryNewMessage, reach: map[channel.Kind]bool{E: true, S: true}, notify: true, chain: []channel.Kind{E}},
		{name: "nothing reachable: in-app only", tz: "UTC", quiet: [2]int{-1, -1}, now: "2026-03-08T03:00:00Z", prefs: defaults,
			category: CategoryNewMessage, reach: map[channel.Kind]bool{}, notify: true},
		// Critical: cannot be muted, ignores quiet hours, every reachable channel.
		{name: "critical during NY spring-forward quiet hours", tz: "America/New_York", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-03-08T06:30:00Z", prefs: defaults, category: CategoryDayOfChange, notify: true, chain: []channel.Kind{P, E, S}},
		{name: "critical ignores a full mute", tz: "Australia/Sydney", quiet: [2]int{hm(22, 0), hm(7, 0)},
			now: "2026-04-04T12:00:00Z", prefs: dayOfOff, category: CategoryDayOfChange, notify: true, chain: []channel.Kind{P, E, S}},
		{name: "critical still needs reachability", tz: "Asia/Tokyo", quiet: [2]int{hm(21, 0), hm(6, 30)},
			now: "2026-06-01T13:00:00Z", prefs: dayOfOff, category: CategoryDayOfChange, reach: map[channel.Kind]bool{S: true},
			notify: true, chain: []channel.Kind{S}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(tc.tz)
			require.NoError(t, err)
			reach := tc.reach
			if reach == nil {
				reach = all
			}
			r := &Recipient{UserID: "u", Location: loc, Reachable: reach, Prefs: tc.prefs}
			if tc.quiet[0] >= 0 {
				r.QuietStart, r.QuietEnd, r.HasQuiet = tc.quiet[0], tc.quiet[1], true
			}
			p := Decide(r, tc.category, utc(tc.now))
			require.Equal(t, tc.notify, p.Notify)
			require.Equal(t, tc.chain, p.Chain)
			require.Equal(t, Critical(tc.category), p.Critical)
			if tc.notBefore == "" {
				require.True(t, p.NotBefore.IsZero(), "deferred to %s", p.NotBefore)
			} else {
				require.Equal(t, utc(tc.notBefore), p.NotBefore.UTC())
				require.True(t, p.NotBefore.After(utc(tc.now)))
			}
		})
	}
}

func TestQuietUntilLocalWallClock(t *testing.T) {
	t.Parallel()
	// The deferral lands on 07:00 local on both sides of a DST change: the UTC instants
	// differ by one hour, the wall clock does not.
	loc, _ := time.LoadLocation("America/New_York")
	r := &Recipient{Location: loc, QuietStart: hm(22, 0), QuietEnd: hm(7, 0), HasQuiet: true}
	before, ok1 := r.QuietUntil(utc("2026-03-07T06:30:00Z"))
	after, ok2 := r.QuietUntil(utc("2026-03-08T06:30:00Z"))
	require.True(t, ok1 && ok2)
	require.Equal(t, 7, before.In(loc).Hour())
	require.Equal(t, 7, after.In(loc).Hour())
	require.Equal(t, 23*time.Hour, after.Sub(before), "the night of the change is an hour shorter")
}

func TestDigestTitle(t *testing.T) {
	t.Parallel()
	require.Equal(t, "4 new messages from 3 vendors", digestTitle(4, 3, true))
	require.Equal(t, "1 new message from 1 vendor", digestTitle(1, 1, true))
	require.Equal(t, "19 new messages from 2 people", digestTitle(19, 2, false))
}
