// Package tests holds the black-box tests of vendorhub: the SQL through pg_prove and the real
// Supabase CLI here, the built binary end to end in later files.
//
// This file holds the package's only TestMain: one ephemeral Postgres for the whole binary
// (see internal/pgtest). Other setup belongs in sync.Once helpers, not in a second TestMain.
package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// repoRoot returns the repository root (the directory holding go.mod).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
