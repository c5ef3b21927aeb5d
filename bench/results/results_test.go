package results_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/bench/results"
)

func TestFlushMergesAndStamps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"other_area_figure": 5, "test_a": 0}`), 0o644))
	results.Record("test_a", 1.5)
	results.Record("test_b", 2)
	require.NoError(t, results.Flush(path))

	var got map[string]any
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, 1.5, got["test_a"])
	require.Equal(t, 2.0, got["test_b"])
	require.Equal(t, 5.0, got["other_area_figure"], "figures of areas not run must be kept")
	require.NotEmpty(t, got["measured_at"])
	require.Contains(t, got["machine"], "cores")
}

func TestFlushRejectsBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, os.WriteFile(path, []byte(`[1,2]`), 0o644))
	require.Error(t, results.Flush(path), "an existing file that is not an object must not be overwritten")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "[1,2]", string(b))

	path2 := filepath.Join(t.TempDir(), "results.json")
	results.Record("test_nan", math.NaN())
	require.Error(t, results.Flush(path2))
	results.Record("test_nan", 0)
}
