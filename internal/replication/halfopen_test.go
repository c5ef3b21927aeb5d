package replication_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
)

// viaProxy rewrites a database URL to go through addr.
func viaProxy(t *testing.T, dbURL, addr string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.Host = addr
	q := u.Query()
	q.Del("host") // a unix-socket host would bypass the proxy
	u.RawQuery = q.Encode()
	return u.String()
}

func TestHalfOpenConnectionIsDetectedAndReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	px := newProxy(t, "127.0.0.1:"+strconv.Itoa(portOf(t, u)))
	p := startPipeline(t, db, pipelineOpts{
		connString: viaProxy(t, db.URL, px.addr()),
		cfg:        replication.Config{StatusInterval: time.Second, ReceiveTimeout: 3 * time.Second},
	})
	p.waitLeader(t)

	before := emitEvents(ctx, t, db.Pool, 500, 10)
	requireExactlyOnce(ctx, t, db.Pool, before)

	// The connection hangs: no RST, no FIN, nothing forwarded.
	px.blackhole()
	during := emitEvents(ctx, t, db.Pool, 500, 10)

	require.Eventually(t, func() bool {
		st := p.stream.Status()
		return px.conns.Load() >= 2 && st.Role == replication.RoleLeader && containsAll(st.LastError, "no message from the server")
	}, 30*time.Second, 50*time.Millisecond, "the half-open connection was not replaced: %+v", p.stream.Status())

	after := emitEvents(ctx, t, db.Pool, 500, 10)
	requireExactlyOnce(ctx, t, db.Pool, append(append(before, during...), after...))
}

func portOf(t *testing.T, u *url.URL) int {
	t.Helper()
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	return port
}
