package tests

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/migrate"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// TestShapedSupabaseCLIPush applies supabase/migrations with the real Supabase CLI, connected
// as the demoted postgres role of a Supabase-shaped database (see internal/pgtest and
// docs/supabase.md): what would fail on hosted Supabase for lack of superuser (CREATE
// EXTENSION of a superuser-only extension, ALTER on auth tables, event triggers, policies on
// tables postgres cannot own) fails here too. Then `migration list` and `db lint` as postgres.
func TestShapedSupabaseCLIPush(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	all, err := migrate.List(vendorhub.SQL)
	require.NoError(t, err)
	db := pgtest.NewShapedEmptyDB(t)
	var super bool
	require.NoError(t, db.Pool.QueryRow(ctx, "select rolsuper from pg_roles where rolname = current_user").Scan(&super))
	require.False(t, super, "the CLI must connect as a non-superuser")
	// plpgsql_check for `db lint`: created by the superuser, as Supabase's allow-list would.
	admin, err := pgx.Connect(ctx, db.AdminURL)
	require.NoError(t, err)
	defer admin.Close(context.Background())
	_, err = admin.Exec(ctx, "create extension if not exists plpgsql_check schema extensions")
	require.NoError(t, err, "plpgsql_check missing: apt-get install postgresql-15-plpgsql-check")

	out, err := supabaseCLI(t, "db", "push", "--db-url", db.URL, "--include-all", "--yes")
	require.NoError(t, err, "supabase db push as postgres failed")
	require.Contains(t, out, "Finished supabase db push")
	for _, m := range all {
		require.Contains(t, out, "Applying migration "+filepath.Base(m.Path))
	}
	out, err = supabaseCLI(t, "migration", "list", "--db-url", db.URL)
	require.NoError(t, err)
	requireListed(t, out, all)

	// Everything the migrations made in the project's schemas belongs to postgres.
	var foreign []string
	rows, err := db.Pool.Query(ctx, `select c.oid::regclass::text from pg_class c
		where c.relnamespace in ('public'::regnamespace, 'vendorhub'::regnamespace) and c.relowner <> 'postgres'::regrole`)
	require.NoError(t, err)
	foreign, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, foreign, "relations not owned by postgres")

	out, err = supabaseCLI(t, "db", "lint", "--db-url", db.URL, "--level", "error", "--fail-on", "error")
	require.NoError(t, err, "supabase db lint reported errors")
	require.Contains(t, out, "No schema errors found")
}

// TestShapedPgTAP runs supabase/tests with pg_prove as the demoted postgres role on a database
// the CLI migrated (pgTAP needs no superuser: postgres creates it).
func TestShapedPgTAP(t *testing.T) {
	t.Parallel()
	db := pgtest.NewShapedDB(t, false)
	runPgTAP(t, db)
}
