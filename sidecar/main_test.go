package sidecar_test

import (
	"testing"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// TestMain gives the package's tests one ephemeral Postgres, stopped when they end.
func TestMain(m *testing.M) { pgtest.Main(m) }
