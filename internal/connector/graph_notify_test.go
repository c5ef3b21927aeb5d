package connector_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

// TestOutlookChangeNotificationDrivesSync: the Graph fake posts a change notification carrying
// the subscription's clientState to the ingress (/webhooks/outlook/<connection>); the ingress
// stores it, the hand-off enqueues the inbox job, which enqueues the sync; the sync's delta
// round brings the new event in as a busy block.
func TestOutlookChangeNotificationDrivesSync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	conn := b.graphConn(t)
	b.insert(t, connector.RenewArgs{ConnectionID: conn, ConnKind: integration.Outlook})
	b.eventually(t, func() bool { return len(b.graph.Subscriptions()) == 1 }, "subscribed")
	sub := b.graph.Subscriptions()[0]
	require.NotEmpty(t, sub.ClientState)

	start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	b.graph.Put(providerfake.GraphEvent{ID: "AAMk-1", Subject: "Tasting", Start: start, End: start.Add(90 * time.Minute)})
	status, err := b.graph.Notify(ctx, sub.ID, "created", "AAMk-1")
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status, "queued, answered within Graph's 3 s")
	b.handOff(t, b.received(t, conn))
	b.eventually(t, func() bool { return len(b.runStatus(t, conn)) == 1 }, "the notification leads to a sync")
	var ext string
	var s, e time.Time
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select external_id, starts_at, ends_at from public.availability_blocks where connection_id = $1`, conn).Scan(&ext, &s, &e))
	require.Equal(t, "AAMk-1", ext)
	require.True(t, s.Equal(start), "%s != %s", s, start)
	require.True(t, e.Equal(start.Add(90*time.Minute)))
}
