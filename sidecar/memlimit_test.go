package sidecar_test

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/sidecar"
)

// Not parallel: the memory limit is process-wide.
func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	debug.SetMemoryLimit(math.MaxInt64)
	got := sidecar.ApplyMemoryLimit(func(string) string { return "" }, nil)
	require.Equal(t, int64(sidecar.MemoryLimitDefault), got)
	require.Equal(t, int64(sidecar.MemoryLimitDefault), debug.SetMemoryLimit(-1), "the default is set when GOMEMLIMIT is not")

	debug.SetMemoryLimit(1 << 30) // as the runtime does for GOMEMLIMIT=1GiB
	got = sidecar.ApplyMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] }, nil)
	require.Equal(t, int64(1<<30), got)
	require.Equal(t, int64(1<<30), debug.SetMemoryLimit(-1), "GOMEMLIMIT wins")
}
