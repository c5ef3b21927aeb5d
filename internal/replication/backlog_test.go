package replication_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// A slot that exists without a cursor row (created by hand, or the cursor table restored
// from an older backup) is streamed from its confirmed position, which becomes the cursor.
func TestExistingSlotWithoutCursorDrainsItsBacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	slot := slotName(t)
	_, err := db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
	require.NoError(t, err)
	ids := emitEvents(ctx, t, db.Pool, 20000, 100)

	p := startPipeline(t, db, pipelineOpts{slot: slot})
	requireExactlyOnce(ctx, t, db.Pool, ids)
	confirmed, cursor := slotState(ctx, t, db.Pool, slot)
	require.NotZero(t, cursor)
	require.LessOrEqual(t, confirmed, cursor)
	require.NotZero(t, p.stream.Frontier())
}
