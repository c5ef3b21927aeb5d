package webhook_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/denotest"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// TestEdgeFunction type-checks the webhook-inbox edge function and runs its Deno tests with the
// pinned Deno, offline: supabase-js comes from the repository's node_modules (denotest).
func TestEdgeFunction(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"check", "index.ts"}, {"test", "."}} {
		cmd := denotest.Command(t, "webhook-inbox", args[0], args[1:]...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "deno %v:\n%s", args, out)
	}
}

// The function the edge function calls: service_role stores once, API users cannot call it.
func TestWebhookInboxInsertFunction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	call := func(role string) (string, error) {
		var out string
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			if err := pgtest.AsRole(ctx, tx, role, nil); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `select public.webhook_inbox_insert('standard', 'msg_edge_1', '{"a": 1}'::jsonb)`).Scan(&out)
		})
		return out, err
	}
	out, err := call("service_role")
	require.NoError(t, err)
	require.Equal(t, "stored", out)
	out, err = call("service_role")
	require.NoError(t, err)
	require.Equal(t, "duplicate", out)
	for _, role := range []string{"authenticated", "anon"} {
		_, err = call(role)
		require.ErrorContains(t, err, "permission denied", role)
	}
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.webhook_inbox`).Scan(&n))
	require.Equal(t, 1, n)
}
