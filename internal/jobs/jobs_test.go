package jobs_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/jobs"
)

var update = flag.Bool("update", false, "rewrite the generated River migrations")

// TestMigrationFiles checks that the committed River migrations are exactly what River's
// migrator generates for schema "river" (run with -update after upgrading River).
func TestMigrationFiles(t *testing.T) {
	t.Parallel()
	files, err := jobs.MigrationFiles()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 2, "River's enum addition must split the migration")
	require.Equal(t, "supabase/migrations/20261125000200_river.sql", files[0].Name)
	for _, f := range files {
		path := filepath.Join("..", "..", f.Name)
		if *update {
			require.NoError(t, os.WriteFile(path, []byte(f.SQL), 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, "missing generated migration: run go test ./internal/jobs -run TestMigrationFiles -update")
		require.Equal(t, f.SQL, string(got), "%s is stale: run go test ./internal/jobs -run TestMigrationFiles -update", f.Name)
	}
}
