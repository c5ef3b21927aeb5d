package webhook_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestEdgeFunction runs the webhook-inbox edge function's Deno tests with the pinned Deno from
// node_modules (npm "deno"), offline: no remote or npm imports.
func TestEdgeFunction(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	deno := filepath.Join(root, "node_modules", ".bin", "deno")
	_, err := os.Stat(deno)
	require.NoError(t, err, "deno missing: run `make deps` (npm ci installs the pinned deno)")
	dir := filepath.Join(root, "supabase", "functions", "webhook-inbox")
	for _, args := range [][]string{
		{"check", "--no-remote", "--no-npm", "index.ts"},
		{"test", "--no-remote", "--no-npm", "."},
	} {
		cmd := exec.Command(deno, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DENO_DIR="+t.TempDir(), "NO_COLOR=1", "DENO_NO_UPDATE_CHECK=1")
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
