package jobs_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// River's own migrator finds nothing to do on a migrated database: the committed SQL is
// River's schema, recorded as River records it.
func TestRiverMigratorSeesEveryMigrationApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	m, err := rivermigrate.New(riverpgxv5.New(db.Pool), &rivermigrate.Config{Schema: jobs.Schema})
	require.NoError(t, err)
	res, err := m.Validate(ctx, &rivermigrate.ValidateOpts{})
	require.NoError(t, err)
	require.True(t, res.OK, "pending River migrations: %v", res.Messages)
	existing, err := m.ExistingVersions(ctx)
	require.NoError(t, err)
	require.Len(t, existing, len(m.AllVersions()))
}

// River's tables and the replication cursor are private to the sidecar: RLS on, nothing
// granted to the API roles, and in no publication.
func TestRiverAndCursorTablesArePrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	rows, err := db.Pool.Query(ctx, `
select format('%I.%I', n.nspname, c.relname), c.relrowsecurity,
       has_table_privilege('anon', c.oid, 'select,insert,update,delete'),
       has_table_privilege('authenticated', c.oid, 'select,insert,update,delete'),
       exists (select 1 from pg_publication_tables p where p.schemaname = n.nspname and p.tablename = c.relname)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r' and (n.nspname = 'river' or (n.nspname = 'vendorhub' and c.relname = 'replication_cursor'))`)
	require.NoError(t, err)
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var name string
		var rls, anon, authenticated, published bool
		require.NoError(t, rows.Scan(&name, &rls, &anon, &authenticated, &published))
		require.True(t, rls, "%s: RLS must be enabled", name)
		require.False(t, anon, "%s: anon must have no privilege", name)
		require.False(t, authenticated, "%s: authenticated must have no privilege", name)
		require.False(t, published, "%s: must not be published (feedback loop)", name)
		seen++
	}
	require.NoError(t, rows.Err())
	require.GreaterOrEqual(t, seen, 6, "river_job, river_leader, river_migration, river_queue, river_notification, replication_cursor")

	var usage bool
	require.NoError(t, db.Pool.QueryRow(ctx, `select has_schema_privilege('authenticated', 'river', 'usage')`).Scan(&usage))
	require.False(t, usage)
}

// The reindexer's list matches the migrated schema: every index it rebuilds exists, and the
// args index the migrations drop is neither there nor listed.
func TestReindexerIndexNamesExist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	names := jobs.ReindexerIndexNames()
	require.NotContains(t, names, "river_job_args_index")
	require.Contains(t, names, "river_job_prioritized_fetching_index")
	var missing []string
	require.NoError(t, db.Pool.QueryRow(ctx, `
select coalesce(array_agg(n), '{}') from unnest($1::text[]) n
where to_regclass(format('%I.%I', $2::text, n)) is null`, names, jobs.Schema).Scan(&missing))
	require.Empty(t, missing, "indexes the reindexer would look for in vain")
	var args *string
	require.NoError(t, db.Pool.QueryRow(ctx, `select to_regclass('river.river_job_args_index')::text`).Scan(&args))
	require.Nil(t, args, "river_job_args_index is dropped by 20261125000420")
}
