package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// helperEnv selects the behaviour of TestHelperProcess in a child test binary.
const helperEnv = "PGTEST_HELPER"

func TestNewDBIsMigratedAndLogical(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	var walLevel string
	require.NoError(t, db.Pool.QueryRow(ctx, "select current_setting('wal_level')").Scan(&walLevel))
	require.Equal(t, "logical", walLevel)
	var current string
	require.NoError(t, db.Pool.QueryRow(ctx, "select current_database()").Scan(&current))
	require.Equal(t, db.Name, current)
	var recorded int
	require.NoError(t, db.Pool.QueryRow(ctx, "select count(*) from supabase_migrations.schema_migrations").Scan(&recorded))
	require.Positive(t, recorded, "migrations must be recorded like the Supabase CLI records them")
	var roles int
	require.NoError(t, db.Pool.QueryRow(ctx,
		"select count(*) from pg_roles where rolname in ('anon','authenticated','service_role')").Scan(&roles))
	require.Equal(t, 3, roles, "the shim must have created the Supabase roles")
	var seeded bool
	require.NoError(t, db.Pool.QueryRow(ctx, "select exists (select from supabase_migrations.seed_files)").Scan(&seeded))
	require.False(t, seeded, "NewDB has no seed")
}

func TestNewSeededDB(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSeededDB(t)
	var seeded bool
	require.NoError(t, db.Pool.QueryRow(t.Context(), "select exists (select from supabase_migrations.seed_files)").Scan(&seeded))
	require.True(t, seeded)
}

// TestParallelDatabasesAreIsolated creates databases concurrently and checks that what one
// writes is invisible to the others.
func TestParallelDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	const n = 6
	names := make(chan string, n)
	for i := range n {
		t.Run(fmt.Sprintf("db%d", i), func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			names <- db.Name
			ctx := t.Context()
			_, err := db.Pool.Exec(ctx, "create table mine(v int)")
			require.NoError(t, err)
			_, err = db.Pool.Exec(ctx, "insert into mine values ($1)", i)
			require.NoError(t, err)
			var vs []int
			rows, err := db.Pool.Query(ctx, "select v from mine")
			require.NoError(t, err)
			vs, err = pgx.CollectRows(rows, pgx.RowTo[int])
			require.NoError(t, err)
			require.Equal(t, []int{i}, vs)
		})
	}
	t.Cleanup(func() { // after the parallel subtests
		close(names)
		seen := map[string]bool{}
		for name := range names {
			require.False(t, seen[name], "database name %s reused", name)
			seen[name] = true
		}
		require.Len(t, seen, n)
	})
}

// TestDatabaseDroppedAtCleanup checks a test's database, including one with an active logical
// replication slot, is gone after its cleanup.
func TestDatabaseDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		db := pgtest.NewDB(t)
		name = db.Name
		ctx := t.Context()
		_, err := db.Pool.Exec(ctx, "select pg_create_logical_replication_slot('pgtest_slot_'||pg_backend_pid(), 'test_decoding')")
		require.NoError(t, err)
		// An active walsender on the slot: the drop must end it.
		rconn, err := pgx.Connect(ctx, db.URL)
		require.NoError(t, err)
		t.Cleanup(func() { _ = rconn.Close(context.Background()) })
		_, err = rconn.Exec(ctx, "select pg_create_logical_replication_slot('pgtest_slot_b', 'test_decoding')")
		require.NoError(t, err)
	})
	admin := pgtest.Cluster(t)
	url := os.Getenv(pgtest.EnvDatabaseURL)
	if admin != nil {
		url = admin.URL("postgres")
	}
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var dbs, slots int
	require.NoError(t, conn.QueryRow(t.Context(), "select count(*) from pg_database where datname = $1", name).Scan(&dbs))
	require.NoError(t, conn.QueryRow(t.Context(), "select count(*) from pg_replication_slots where database = $1", name).Scan(&slots))
	require.Zero(t, dbs, "database %s not dropped", name)
	require.Zero(t, slots, "slots of %s not dropped", name)
}

func TestAsUserAndAsRole(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)

	const uid = "6f1b0e7e-0000-4000-8000-000000000001"
	require.NoError(t, pgtest.AsUser(ctx, tx, uid))
	var role, sub, claimRole string
	require.NoError(t, tx.QueryRow(ctx, `select current_user,
		current_setting('request.jwt.claims')::jsonb->>'sub',
		current_setting('request.jwt.claims')::jsonb->>'role'`).Scan(&role, &sub, &claimRole))
	require.Equal(t, "authenticated", role)
	require.Equal(t, uid, sub)
	require.Equal(t, "authenticated", claimRole)

	require.NoError(t, pgtest.AsRole(ctx, tx, "anon", nil))
	require.NoError(t, tx.QueryRow(ctx, "select current_user").Scan(&role))
	require.Equal(t, "anon", role)

	require.Error(t, pgtest.AsRole(ctx, tx, "no_such_role", nil), "unknown roles must fail")
}

func TestAsRoleEndsWithTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, pgtest.AsRole(ctx, tx, "service_role", map[string]any{"iss": "test"}))
	require.NoError(t, tx.Commit(ctx))
	var role string
	require.NoError(t, conn.QueryRow(ctx, "select current_user").Scan(&role))
	require.Equal(t, "postgres", role, "the role must not leak past the transaction")
}

func TestReplicationURL(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	require.Contains(t, db.ReplicationURL(), "replication=database")
	conn, err := pgx.Connect(t.Context(), db.ReplicationURL())
	require.NoError(t, err, "a replication connection must be accepted")
	require.NoError(t, conn.Close(t.Context()))
}

// TestNewClusterRestart shows the pattern for crash tests: a dedicated cluster, a migrated
// database on it, a restart that keeps committed rows.
func TestNewClusterRestart(t *testing.T) {
	t.Parallel()
	c := pgtest.NewCluster(t)
	db := pgtest.NewDBOn(t, c, false)
	ctx := t.Context()
	_, err := db.Pool.Exec(ctx, "create table kept(v int)")
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, "insert into kept values (7)")
	require.NoError(t, err)
	require.NoError(t, c.Restart(ctx))
	var v int
	require.Eventually(t, func() bool { return db.Pool.QueryRow(ctx, "select v from kept").Scan(&v) == nil },
		10*time.Second, 20*time.Millisecond)
	require.Equal(t, 7, v)
}

// runHelper runs this test binary's TestHelperProcess in mode, returning its output and error.
func runHelper(t *testing.T, mode string, env ...string) (string, error) {
	t.Helper()
	info := filepath.Join(t.TempDir(), "info")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "PGTEST_INFO="+info)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out) + "\ninfo: " + readFile(info), err
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// clusterDirOf extracts "dir=<path> pid=<n>" written by the helper.
func clusterDirOf(t *testing.T, out string) (string, int) {
	t.Helper()
	i := strings.Index(out, "dir=")
	require.GreaterOrEqual(t, i, 0, "helper did not report its cluster:\n%s", out)
	var dir string
	var pid int
	_, err := fmt.Sscanf(out[i:], "dir=%s pid=%d", &dir, &pid)
	require.NoError(t, err)
	return dir, pid
}

func requireGone(t *testing.T, dir string, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := os.Stat(dir)
		return errors.Is(err, os.ErrNotExist) && syscall.Kill(pid, 0) != nil
	}, 30*time.Second, 20*time.Millisecond, "cluster %s (postmaster %d) outlived the test binary", dir, pid)
}

func TestCleanupAfterFailedTest(t *testing.T) {
	t.Parallel()
	if os.Getenv(pgtest.EnvDatabaseURL) != "" {
		t.Skip("no cluster is started when " + pgtest.EnvDatabaseURL + " is set")
	}
	out, err := runHelper(t, "fail")
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "the failing helper must exit non-zero:\n%s", out)
	require.Contains(t, out, "--- FAIL: TestHelperProcess")
	dir, pid := clusterDirOf(t, out)
	requireGone(t, dir, pid)
}

func TestCleanupAfterPanic(t *testing.T) {
	t.Parallel()
	if os.Getenv(pgtest.EnvDatabaseURL) != "" {
		t.Skip("no cluster is started when " + pgtest.EnvDatabaseURL + " is set")
	}
	out, err := runHelper(t, "panic")
	require.Error(t, err)
	require.Contains(t, out, "panic: pgtest helper panics")
	dir, pid := clusterDirOf(t, out)
	requireGone(t, dir, pid) // Main never returned: the watchdog cleaned up
}

func TestOverrideURLStartsNoCluster(t *testing.T) {
	t.Parallel()
	// The override points at this binary's server; the child must not start one of its own.
	c := pgtest.Cluster(t)
	url := os.Getenv(pgtest.EnvDatabaseURL)
	if c != nil {
		url = c.URL("postgres")
	}
	out, err := runHelper(t, "override", pgtest.EnvDatabaseURL+"="+url)
	require.NoError(t, err, out)
	require.Contains(t, out, "override ok")
	require.NotContains(t, out, "dir=")
	// The child's database was created on our server and dropped again.
	name := strings.TrimSpace(out[strings.LastIndex(out, "db=")+3:])
	name = strings.Fields(name)[0]
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), "select count(*) from pg_database where datname = $1", name).Scan(&n))
	require.Zero(t, n, "the child's database %s must be dropped", name)
}

func TestInvalidOverrideURL(t *testing.T) {
	t.Parallel()
	out, err := runHelper(t, "override", pgtest.EnvDatabaseURL+"=postgres://bad host:x/")
	require.Error(t, err)
	require.Contains(t, out, "is not a valid connection string")
}

// TestHelperProcess is run as a child by the tests above; alone it does nothing.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper for the subprocess tests")
	}
	db := pgtest.NewDB(t)
	info := os.Getenv("PGTEST_INFO")
	if c := pgtest.Cluster(t); c != nil {
		line := "dir=" + c.Dir() + " pid=" + strconv.Itoa(c.PID()) + "\n"
		fmt.Print(line)
		require.NoError(t, os.WriteFile(info, []byte(line), 0o644))
	}
	switch mode {
	case "fail":
		t.Fatal("pgtest helper fails on purpose")
	case "panic":
		panic("pgtest helper panics")
	case "override":
		require.Nil(t, pgtest.Cluster(t))
		require.NoError(t, db.Pool.Ping(t.Context()))
		fmt.Printf("override ok db=%s\n", db.Name)
	}
}
