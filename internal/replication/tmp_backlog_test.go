package replication_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestTmpBacklog(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	slot := slotName(t)
	_, err := db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
	require.NoError(t, err)
	began := time.Now()
	ids := emitEvents(ctx, t, db.Pool, 20000, 100)
	t.Logf("backlog in %s", time.Since(began))
	began = time.Now()
	p := startPipeline(t, db, pipelineOpts{slot: slot})
	require.Eventually(t, func() bool { return p.counting.Count() >= len(ids) }, 60*time.Second, 10*time.Millisecond)
	t.Logf("drained in %s", time.Since(began))
}
