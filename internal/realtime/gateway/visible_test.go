package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// awaitVisible returns once a transaction is visible to a new snapshot, and not before: while
// it runs (whether the snapshot's xmax is at or below it, or a later transaction finished
// and it is listed as running) and for an xid not yet assigned.
func TestAwaitVisible(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	xidOf := func() (uint32, func() error) {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(ctx) })
		var xid int64
		require.NoError(t, tx.QueryRow(ctx, `select txid_current() % 4294967296`).Scan(&xid))
		return uint32(xid), func() error { return tx.Commit(ctx) }
	}
	notYet := func(xid uint32, why string) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, awaitVisible(c, db.Pool, xid, new(atomic.Int64)), context.DeadlineExceeded, why)
	}
	first, commitFirst := xidOf()
	notYet(first, "running, at the snapshot's xmax")
	second, commitSecond := xidOf()
	require.NoError(t, commitSecond())
	notYet(first, "running, listed in the snapshot")
	require.NoError(t, awaitVisible(ctx, db.Pool, second, new(atomic.Int64)))
	require.NoError(t, commitFirst())
	require.NoError(t, awaitVisible(ctx, db.Pool, first, new(atomic.Int64)))
	notYet(second+1000, "not assigned yet")
}
