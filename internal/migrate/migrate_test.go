package migrate_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/migrate"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	db := pgtest.NewEmptyDB(t)
	conn, err := pgx.Connect(t.Context(), db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func versions(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	v, err := migrate.Applied(t.Context(), conn)
	require.NoError(t, err)
	return v
}

func TestAppliesInOrderAndRecordsLikeTheCLI(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	ctx := t.Context()
	fsys := fstest.MapFS{
		// Out of lexical order on purpose: 2_ must run before 10_.
		"supabase/migrations/10_second.sql": file("insert into steps values ('second');"),
		"supabase/migrations/2_first.sql":   file("create table steps(name text);\ninsert into steps values ('first');"),
		"supabase/migrations/README.md":     file("not SQL: ignored"),
		"supabase/seed.sql":                 file("insert into steps values ('seed');"),
	}
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, f) }
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{FS: fsys, Seed: true, Logf: logf}))
	require.NotEmpty(t, logged)

	rows, err := conn.Query(ctx, "select name from steps")
	require.NoError(t, err)
	steps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"first", "second", "seed"}, steps)

	var name string
	var stmts []string
	require.NoError(t, conn.QueryRow(ctx,
		"select name, statements from supabase_migrations.schema_migrations where version = '2'").Scan(&name, &stmts))
	require.Equal(t, "first", name)
	require.Len(t, stmts, 1)
	require.Contains(t, stmts[0], "create table steps")
	require.Equal(t, []string{"2", "10"}, versions(t, conn))

	// Running again applies nothing: no duplicate rows, seed included.
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{FS: fsys, Seed: true}))
	var n int
	require.NoError(t, conn.QueryRow(ctx, "select count(*) from steps").Scan(&n))
	require.Equal(t, 3, n)

	// A new migration is applied alone.
	fsys["supabase/migrations/11_third.sql"] = file("insert into steps values ('third');")
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{FS: fsys}))
	require.NoError(t, conn.QueryRow(ctx, "select count(*) from steps").Scan(&n))
	require.Equal(t, 4, n)
	require.Equal(t, []string{"2", "10", "11"}, versions(t, conn))
}

func TestFailedMigrationRollsBackItselfOnly(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	ctx := t.Context()
	fsys := fstest.MapFS{
		"supabase/migrations/1_ok.sql":     file("create table a(x int);"),
		"supabase/migrations/2_broken.sql": file("create table b(x int);\n\ninsert into nowhere values (1);\n"),
		"supabase/migrations/3_never.sql":  file("create table c(x int);"),
	}
	err := migrate.Apply(ctx, conn, migrate.Options{FS: fsys})
	var fe *migrate.FileError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "supabase/migrations/2_broken.sql", fe.Path)
	require.Equal(t, 3, fe.Line, "the error must point at the failing line")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42P01", pgErr.Code)

	require.Equal(t, []string{"1"}, versions(t, conn))
	var a, b, c bool
	require.NoError(t, conn.QueryRow(ctx,
		"select to_regclass('a') is not null, to_regclass('b') is not null, to_regclass('c') is not null").Scan(&a, &b, &c))
	require.True(t, a)
	require.False(t, b, "the failed file must leave nothing behind")
	require.False(t, c, "files after a failure must not run")
}

func TestBadFileNames(t *testing.T) {
	t.Parallel()
	_, err := migrate.List(fstest.MapFS{"supabase/migrations/init.sql": file("select 1;")})
	require.ErrorIs(t, err, migrate.ErrBadFileName)
	_, err = migrate.List(fstest.MapFS{
		"supabase/migrations/1_a.sql": file("select 1;"),
		"supabase/migrations/1_b.sql": file("select 2;"),
	})
	require.ErrorIs(t, err, migrate.ErrDuplicateVersion)
	ms, err := migrate.List(fstest.MapFS{})
	require.NoError(t, err)
	require.Empty(t, ms)
}

func TestChangedSeedIsAppliedAgain(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	ctx := t.Context()
	fsys := fstest.MapFS{
		"supabase/migrations/1_t.sql": file("create table s(v int);"),
		"supabase/seed.sql":           file("insert into s values (1);"),
	}
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{FS: fsys, Seed: true}))
	fsys["supabase/seed.sql"] = file("insert into s values (2);")
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{FS: fsys, Seed: true}))
	var sum int
	require.NoError(t, conn.QueryRow(ctx, "select sum(v) from s").Scan(&sum))
	require.Equal(t, 3, sum)
}

func TestFileResettingSessionDoesNotLeak(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	fsys := fstest.MapFS{"supabase/migrations/1_t.sql": file("create schema x; set search_path = x; create table t(v int);")}
	require.NoError(t, migrate.Apply(t.Context(), conn, migrate.Options{FS: fsys}))
	var path string
	require.NoError(t, conn.QueryRow(t.Context(), "show search_path").Scan(&path))
	require.Equal(t, `"$user", public`, path)
}

// TestEmbeddedSQLAppliesToPlainPostgres applies the real shim, migrations and seed to an empty
// database, twice.
func TestEmbeddedSQLAppliesToPlainPostgres(t *testing.T) {
	t.Parallel()
	conn := connect(t)
	ctx := t.Context()
	need, err := migrate.NeedsShim(ctx, conn)
	require.NoError(t, err)
	require.True(t, need, "a plain Postgres lacks the Supabase objects")
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{Shim: true, Seed: true}))
	need, err = migrate.NeedsShim(ctx, conn)
	require.NoError(t, err)
	require.False(t, need)
	all, err := migrate.List(vendorhub.SQL)
	require.NoError(t, err)
	require.Len(t, versions(t, conn), len(all))
	require.NoError(t, migrate.Apply(ctx, conn, migrate.Options{Shim: true, Seed: true}), "Apply must be re-runnable")
}
