package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/migrate"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	t.Parallel()
	code, _, stderr := runCmd(t)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "Usage: vendorhub <command>")

	code, stdout, _ := runCmd(t, "help")
	require.Equal(t, 0, code)
	for _, c := range commands {
		require.Contains(t, stdout, "  "+c.name+" ")
	}

	code, _, stderr = runCmd(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown command "frobnicate"`)

	code, _, stderr = runCmd(t, "migrate", "-no-such-flag")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "no-such-flag")

	code, _, stderr = runCmd(t, "version", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "unexpected arguments")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCmd(t, "version")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(stdout, "vendorhub "), stdout)
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)

	code, _, stderr := runCmd(t, "migrate", "-db-url", db.URL, "-shim", "sometimes")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "-shim must be auto, always or never")

	code, stdout, stderr := runCmd(t, "migrate", "-db-url", db.URL, "-seed")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "applied "+vendorhub.ShimPath, "auto must apply the shim on plain Postgres")
	require.Contains(t, stdout, "applied "+vendorhub.SeedPath)

	all, err := migrate.List(vendorhub.SQL)
	require.NoError(t, err)
	var n int
	require.NoError(t, db.Pool.QueryRow(t.Context(), "select count(*) from supabase_migrations.schema_migrations").Scan(&n))
	require.Equal(t, len(all), n)

	// Again: the Supabase objects exist now, so auto skips the shim; nothing else is applied.
	code, stdout, stderr = runCmd(t, "migrate", "-db-url", db.URL, "-seed")
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stdout, "applied ")
}

func TestMigrateWithoutDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	code, _, stderr := runCmd(t, "migrate")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "set DATABASE_URL")
}

func TestMigrateUnreachableDatabase(t *testing.T) {
	t.Parallel()
	code, _, stderr := runCmd(t, "migrate", "-db-url", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "connect")
}
