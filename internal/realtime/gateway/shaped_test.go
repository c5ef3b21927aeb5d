package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
)

// TestShapedAuthorizationProbe runs the authorization probe as the demoted postgres role of a
// Supabase-shaped database (partitioned realtime.messages owned by supabase_realtime_admin,
// migrations pushed by the Supabase CLI): the policies decide reads and writes per user, and
// the probe leaves no row behind.
func TestShapedAuthorizationProbe(t *testing.T) {
	t.Parallel()
	db := pgtest.NewShapedDB(t, false)
	b := setupOn(t, db, nil)
	ctx := t.Context()
	var super bool
	require.NoError(t, db.Pool.QueryRow(ctx, "select rolsuper from pg_roles where rolname = current_user").Scan(&super))
	require.False(t, super, "the probe must run as the non-superuser postgres")

	v := verifier(t)
	probeOn := func(topic, tok string) gateway.Probe {
		c, err := v.Verify(tok)
		require.NoError(t, err)
		return gateway.Probe{Topic: topic, Claims: c}
	}
	probe := func(tok string) gateway.Probe { return probeOn("conversation:"+b.fx.conversation, tok) }
	chatter := func(tok string) gateway.Probe { return probeOn("conversation:"+b.fx.conversation+":chatter", tok) }
	a := &gateway.PGAuthorizer{Pool: db.Pool}
	read, err := a.CanRead(ctx, probe(b.fx.aliceTok), "broadcast", "presence")
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"broadcast": true, "presence": true}, read, "a participant reads")
	read, err = a.CanRead(ctx, probe(b.fx.eveTok), "broadcast", "presence")
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"broadcast": false, "presence": false}, read, "an outsider does not")
	ok, err := a.CanWrite(ctx, chatter(b.fx.bobTok), "broadcast")
	require.NoError(t, err)
	require.True(t, ok, "a participant sends on the chatter topic")
	ok, err = a.CanWrite(ctx, probe(b.fx.bobTok), "broadcast")
	require.NoError(t, err)
	require.False(t, ok, "nobody but the server sends on the conversation topic")
	ok, err = a.CanWrite(ctx, chatter(b.fx.eveTok), "broadcast")
	require.NoError(t, err)
	require.False(t, ok, "an outsider does not")
	var left int
	require.NoError(t, db.Pool.QueryRow(ctx, "select count(*) from realtime.messages").Scan(&left))
	require.Zero(t, left, "probe rows are rolled back")

	// Through the gateway: a participant joins, an outsider is refused.
	c := b.dial(t, "2.0.0")
	b.joinConv(t, c, b.fx.aliceTok, rtclient.JoinConfig{})
	_, err = b.dial(t, "2.0.0").Join(tctx(t), "conversation:"+b.fx.conversation, rtclient.JoinConfig{Private: true, AccessToken: b.fx.eveTok})
	require.Error(t, err)
	require.Contains(t, err.Error(), "You do not have permissions to read from this Channel topic")
}
