package calendar_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

// TestGoogleRecurringEventSyncsAsInstances: the connector lists with singleEvents=true, so a
// recurring Google event arrives as its instances (expanded by the fake as Google does) and
// each becomes a busy block; deleting the series cancels every instance on the next round.
func TestGoogleRecurringEventSyncsAsInstances(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.GoogleCalendar, map[string]any{"calendar_id": "studio@example.com"},
		integration.Credential{RefreshToken: b.google.Tokens.IssueRefreshToken()})
	b.google.Put("studio@example.com", providerfake.GoogleEvent{ID: "class", Start: hour(9), End: hour(11), TimeZone: "Europe/London",
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3"}})
	b.google.Put("studio@example.com", providerfake.GoogleEvent{ID: "single", Start: hour(15), End: hour(16)})

	res := b.sync(t, conn)
	require.Equal(t, 4, res.Created)
	bl := b.blocks(t, conn)
	day := 24 * time.Hour
	require.Equal(t, map[string][2]time.Time{
		"class_20260601T090000Z": {hour(9), hour(11)},
		"class_20260602T090000Z": {hour(9).Add(day), hour(11).Add(day)},
		"class_20260603T090000Z": {hour(9).Add(2 * day), hour(11).Add(2 * day)},
		"single":                 {hour(15), hour(16)},
	}, bl)

	b.google.Delete("studio@example.com", "class")
	res = b.sync(t, conn)
	require.False(t, res.Full)
	require.Equal(t, calendar.Result{Deleted: 3}, res)
	require.Equal(t, []string{"single"}, keys(b.blocks(t, conn)))
}

func keys(m map[string][2]time.Time) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
