package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// minPgTAPAssertions is the floor the foundation issue sets for supabase/tests.
const minPgTAPAssertions = 60

// TestPgTAP runs every supabase/tests/*.test.sql file with pg_prove against a freshly migrated
// database (shim + migrations, no seed: each file makes its own fixtures and rolls back).
func TestPgTAP(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	prepareLikeSupabase(t, db)
	runPgTAP(t, db)
}

// runPgTAP creates pgTAP in db and runs every supabase/tests file with pg_prove as db.URL's role.
func runPgTAP(t *testing.T, db *pgtest.DB) {
	t.Helper()
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "supabase", "tests", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no pgTAP files in supabase/tests")
	pgProve, err := exec.LookPath("pg_prove")
	require.NoError(t, err, "pg_prove not found: run make deps (apt-get install libtap-parser-sourcehandler-pgtap-perl)")

	_, err = db.Pool.Exec(t.Context(), "create extension if not exists pgtap schema extensions")
	require.NoError(t, err, "pgTAP extension missing: apt-get install postgresql-15-pgtap")

	args := append([]string{"--ext", ".sql", "--failures"}, files...)
	cmd := exec.CommandContext(t.Context(), pgProve, args...)
	cmd.Env = append(os.Environ(), libpqEnv(t, db.URL)...)
	out, err := cmd.CombinedOutput()
	t.Logf("pg_prove output:\n%s", out)
	require.NoError(t, err, "pg_prove failed")

	m := regexp.MustCompile(`Files=(\d+), Tests=(\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "pg_prove printed no summary")
	nFiles, _ := strconv.Atoi(string(m[1]))
	nTests, _ := strconv.Atoi(string(m[2]))
	require.Equal(t, len(files), nFiles)
	require.GreaterOrEqual(t, nTests, minPgTAPAssertions, "too few pgTAP assertions")
	require.Contains(t, string(out), "Result: PASS")
}

// prepareLikeSupabase gives the test database Supabase's search_path for the postgres role
// ("$user", public, extensions), so unqualified extension functions (pgTAP, plpgsql_check)
// resolve as they do on Supabase.
func prepareLikeSupabase(t *testing.T, db *pgtest.DB) {
	t.Helper()
	_, err := db.Pool.Exec(t.Context(),
		"alter database "+pgx.Identifier{db.Name}.Sanitize()+` set search_path = "$user", public, extensions`)
	require.NoError(t, err)
	db.Pool.Reset() // connections opened before the change keep the old search_path
}

// libpqEnv turns a connection URL into PG* variables for libpq tools (psql, pg_prove).
func libpqEnv(t *testing.T, url string) []string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	env := []string{
		"PGHOST=" + cfg.Host, "PGPORT=" + strconv.Itoa(int(cfg.Port)), "PGUSER=" + cfg.User,
		"PGDATABASE=" + cfg.Database, "PGCONNECT_TIMEOUT=10",
	}
	if cfg.TLSConfig == nil {
		env = append(env, "PGSSLMODE=disable")
	}
	if cfg.Password != "" {
		env = append(env, "PGPASSWORD="+cfg.Password)
	}
	return env
}
