package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/migrate"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// supabaseCLI runs the Supabase CLI pinned in package-lock.json (node_modules/.bin/supabase)
// in the repository, with a scratch HOME; it returns the combined output and the error.
func supabaseCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := repoRoot(t)
	bin := filepath.Join(root, "node_modules", ".bin", "supabase")
	_, err := os.Stat(bin)
	require.NoError(t, err, "Supabase CLI missing: run make deps (npm ci)")
	cmd := exec.CommandContext(t.Context(), bin, append(args, "--workdir", root)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "DO_NOT_TRACK=1", "SUPABASE_TELEMETRY_DISABLED=1", "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("supabase %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// cliDB returns an empty database with only the shim applied (the CLI expects Supabase's roles,
// auth and realtime schemas), Supabase's search_path, and plpgsql_check for `db lint`.
func cliDB(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.NewEmptyDB(t)
	shim, err := vendorhub.SQL.ReadFile(vendorhub.ShimPath)
	require.NoError(t, err)
	_, err = db.Pool.Exec(t.Context(), string(shim))
	require.NoError(t, err, "apply the shim")
	_, err = db.Pool.Exec(t.Context(), "create extension if not exists plpgsql_check schema extensions")
	require.NoError(t, err, "plpgsql_check missing: apt-get install postgresql-15-plpgsql-check")
	prepareLikeSupabase(t, db)
	return db
}

// requireListed checks `supabase migration list` shows every local migration as applied remotely.
func requireListed(t *testing.T, out string, all []migrate.Migration) {
	t.Helper()
	for _, m := range all {
		re := regexp.MustCompile("`" + m.Version + "`\\s*\\|\\s*`" + m.Version + "`")
		require.Regexp(t, re, out, "migration %s not shown as applied", m.Version)
	}
}

// TestSupabaseCLI applies supabase/migrations with the real Supabase CLI to a fresh database,
// checks the CLI and vendorhub's migrator agree on the history, and lints the schema.
func TestSupabaseCLI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	all, err := migrate.List(vendorhub.SQL)
	require.NoError(t, err)
	require.NotEmpty(t, all)
	db := cliDB(t)

	out, err := supabaseCLI(t, "db", "push", "--db-url", db.URL, "--include-all", "--yes")
	require.NoError(t, err, "supabase db push failed")
	require.Contains(t, out, "Finished supabase db push")
	for _, m := range all {
		require.Contains(t, out, "Applying migration "+filepath.Base(m.Path))
	}

	out, err = supabaseCLI(t, "migration", "list", "--db-url", db.URL)
	require.NoError(t, err)
	requireListed(t, out, all)

	// vendorhub's migrator reads the CLI's history: nothing left to apply.
	conn, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var applied []string
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{
		Logf: func(f string, a ...any) { applied = append(applied, fmt.Sprintf(f, a...)) }}))
	for _, line := range applied {
		require.True(t, strings.HasPrefix(line, "skipped "), "migrator re-applied after the CLI: %s", line)
	}

	out, err = supabaseCLI(t, "db", "lint", "--db-url", db.URL, "--level", "error", "--fail-on", "error")
	require.NoError(t, err, "supabase db lint reported errors")
	require.Contains(t, out, "No schema errors found")
}

// TestSupabaseCLIReadsMigratorHistory migrates with vendorhub's migrator and checks the CLI
// sees every migration as applied and has nothing to push.
func TestSupabaseCLIReadsMigratorHistory(t *testing.T) {
	t.Parallel()
	all, err := migrate.List(vendorhub.SQL)
	require.NoError(t, err)
	db := pgtest.NewDB(t)

	out, err := supabaseCLI(t, "migration", "list", "--db-url", db.URL)
	require.NoError(t, err)
	requireListed(t, out, all)

	out, err = supabaseCLI(t, "db", "push", "--db-url", db.URL, "--include-all", "--dry-run")
	require.NoError(t, err)
	require.Contains(t, out, "Remote database is up to date")
}
