package providerfake_test

// The Google Calendar fake against Google's documents, through the real
// google.golang.org/api/calendar/v3 client:
//   events.list:  https://developers.google.com/calendar/api/v3/reference/events/list
//                 (singleEvents expands recurring events into instances; timeMin is an exclusive
//                 bound on an event's end, timeMax on its start, both RFC 3339 with an offset;
//                 syncToken cannot be combined with timeMin/timeMax)
//   sync:         https://developers.google.com/calendar/api/guides/sync (nextSyncToken on the
//                 last page only; deletions as status "cancelled"; 410 fullSyncRequired)
//   recurrence:   https://developers.google.com/calendar/api/concepts/events-calendars#recurring_events
//                 (RRULE/EXDATE lines in "recurrence"; instances carry recurringEventId and
//                 originalStartTime)
//   push:         https://developers.google.com/calendar/api/guides/push (events.watch: HTTPS
//                 address, resourceId, expiration in ms, default ttl 604800 s; channels.stop)
//   errors:       https://developers.google.com/calendar/api/guides/errors ({error: {code,
//                 message, errors: [{domain, reason, message}]}}, 429 rateLimitExceeded)

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func googleService(t *testing.T, g *providerfake.GoogleCalendar) *gcal.Service {
	t.Helper()
	svc, err := gcal.NewService(t.Context(), option.WithEndpoint(g.Endpoint()), option.WithoutAuthentication())
	require.NoError(t, err)
	return svc
}

func ids(evs []*gcal.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Id
	}
	return out
}

func TestGoogleEventsListRecurrenceAndWindow(t *testing.T) {
	t.Parallel()
	g := providerfake.NewGoogleCalendar()
	defer g.Close()
	svc := googleService(t, g)
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	// Weekly on Saturdays 10:00 London, 4 times, across the end of British Summer Time, one skipped.
	start := time.Date(2026, 10, 17, 10, 0, 0, 0, london)
	g.Put("cal", providerfake.GoogleEvent{ID: "weekly", Summary: "Studio", Start: start, End: start.Add(2 * time.Hour),
		TimeZone: "Europe/London", Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/London:20261031T100000"}})
	g.Put("cal", providerfake.GoogleEvent{ID: "once", Start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)})
	g.Put("cal", providerfake.GoogleEvent{ID: "later", Start: time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), End: time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)})

	// Without singleEvents: the series itself, with its recurrence lines.
	res, err := svc.Events.List("cal").Do()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"weekly", "once", "later"}, ids(res.Items))
	for _, e := range res.Items {
		if e.Id == "weekly" {
			require.Equal(t, []string{"RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/London:20261031T100000"}, e.Recurrence)
		}
	}

	// singleEvents=true: instances, the EXDATE left out, wall-clock 10:00 on both sides of the change.
	res, err = svc.Events.List("cal").SingleEvents(true).Do()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"weekly_20261017T090000Z", "weekly_20261024T090000Z", "weekly_20261107T100000Z", "once", "later"}, ids(res.Items))
	for _, e := range res.Items {
		if e.RecurringEventId == "" {
			continue
		}
		require.Equal(t, "weekly", e.RecurringEventId)
		require.NotNil(t, e.OriginalStartTime)
		require.Empty(t, e.Recurrence, "instances carry no recurrence")
		s, err := time.Parse(time.RFC3339, e.Start.DateTime)
		require.NoError(t, err)
		require.Equal(t, 10, s.In(london).Hour(), e.Id)
		require.Equal(t, e.Start.DateTime, e.OriginalStartTime.DateTime)
	}

	// timeMin (exclusive, on the end) and timeMax (exclusive, on the start).
	res, err = svc.Events.List("cal").SingleEvents(true).
		TimeMin("2026-10-24T12:00:00+01:00").TimeMax("2026-11-20T09:00:00Z").Do()
	require.NoError(t, err)
	require.Equal(t, []string{"weekly_20261107T100000Z"}, ids(res.Items),
		"the 24 Oct instance ends exactly at timeMin, 'once' starts exactly at timeMax")
	_, err = svc.Events.List("cal").TimeMin("2026-10-24").Do()
	var ge *googleapi.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, 400, ge.Code, "timeMin needs a full RFC 3339 timestamp")

	// The sync token keeps the full sync's window and singleEvents; a change comes back alone.
	full, err := svc.Events.List("cal").SingleEvents(true).TimeMin("2026-11-01T00:00:00Z").TimeMax("2027-01-01T00:00:00Z").Do()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"weekly_20261107T100000Z", "once"}, ids(full.Items))
	require.NotEmpty(t, full.NextSyncToken)
	_, err = svc.Events.List("cal").SyncToken(full.NextSyncToken).TimeMin("2026-11-01T00:00:00Z").Do()
	require.ErrorAs(t, err, &ge)
	require.Equal(t, 400, ge.Code, "syncToken with timeMin is refused")
	g.Delete("cal", "weekly")
	inc, err := svc.Events.List("cal").SingleEvents(true).SyncToken(full.NextSyncToken).Do()
	require.NoError(t, err)
	require.Equal(t, []string{"weekly_20261107T100000Z"}, ids(inc.Items), "only the instances inside the window")
	require.Equal(t, "cancelled", inc.Items[0].Status)
}

func TestGoogleEventsListPagingSyncAndErrors(t *testing.T) {
	t.Parallel()
	g := providerfake.NewGoogleCalendar()
	defer g.Close()
	svc := googleService(t, g)
	base := time.Date(2027, 5, 1, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		g.Put("primary", providerfake.GoogleEvent{ID: "e" + strconv.Itoa(i), Start: base.Add(time.Duration(i) * time.Hour), End: base.Add(time.Duration(i+1) * time.Hour)})
	}
	var all []string
	var syncTok string
	call := svc.Events.List("primary").MaxResults(2)
	for pageToken := ""; ; {
		res, err := call.PageToken(pageToken).Do()
		require.NoError(t, err)
		all = append(all, ids(res.Items)...)
		if res.NextPageToken == "" {
			syncTok = res.NextSyncToken
			break
		}
		require.Empty(t, res.NextSyncToken, "nextSyncToken only on the last page")
		pageToken = res.NextPageToken
	}
	require.Len(t, all, 5)
	require.NotEmpty(t, syncTok)

	g.ExpireSyncTokens()
	_, err := svc.Events.List("primary").SyncToken(syncTok).Do()
	var ge *googleapi.Error
	require.True(t, errors.As(err, &ge))
	require.Equal(t, http.StatusGone, ge.Code)
	require.Equal(t, "fullSyncRequired", ge.Errors[0].Reason)

	g.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 9 * time.Second})
	_, err = svc.Events.List("primary").Do()
	require.ErrorAs(t, err, &ge)
	require.Equal(t, 429, ge.Code)
	require.Equal(t, "9", ge.Header.Get("Retry-After"))
	require.NotEmpty(t, ge.Errors)
	require.Equal(t, "rateLimitExceeded", ge.Errors[0].Reason)
}

func TestGoogleWatchChannels(t *testing.T) {
	t.Parallel()
	g := providerfake.NewGoogleCalendar()
	defer g.Close()
	svc := googleService(t, g)
	ch, err := svc.Events.Watch("primary", &gcal.Channel{Id: "0f0e5b7a-7d0c-4f5e-9d5f-3a3f8f1a2b3c", Type: "web_hook",
		Address: "https://hub.example.com/webhooks/google/c1", Token: "chan-secret"}).Do()
	require.NoError(t, err)
	require.NotEmpty(t, ch.ResourceId)
	require.InDelta(t, time.Now().Add(604800*time.Second).UnixMilli(), ch.Expiration, 60_000, "default ttl 7 days, in ms")
	_, err = svc.Events.Watch("primary", &gcal.Channel{Id: ch.Id, Type: "web_hook", Address: "https://hub.example.com/x"}).Do()
	var ge *googleapi.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, "channelIdNotUnique", ge.Errors[0].Reason)
	_, err = svc.Events.Watch("primary", &gcal.Channel{Id: "other", Type: "web_hook", Address: "http://hub.example.com/x"}).Do()
	require.ErrorAs(t, err, &ge)
	require.Equal(t, "push.webhookUrlNotHttps", ge.Errors[0].Reason)
	require.NoError(t, svc.Channels.Stop(&gcal.Channel{Id: ch.Id, ResourceId: ch.ResourceId}).Do())
	chans := g.Channels()
	require.Len(t, chans, 1)
	require.True(t, chans[0].Stopped)
	require.Equal(t, "chan-secret", chans[0].Token)
}
