package results_test

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/bench/results"
)

func TestNewFigureWorksOutRatioAndPass(t *testing.T) {
	f := results.NewFigure("realtime.p99", 30, "ms", "WAL", 12, &results.Goal{Of: "ratio", AtMost: true, Limit: 3}, "")
	require.InDelta(t, 2.5, *f.Ratio, 1e-9)
	require.True(t, *f.Pass)

	f = results.NewFigure("webhook.rps", 500, "req/s", "net/http", 1000, &results.Goal{Of: "ratio", Limit: 0.6}, "")
	require.False(t, *f.Pass)

	f = results.NewFigure("idle.rss", 600, "MiB", "", 0, &results.Goal{Of: "value", AtMost: true, Limit: 512}, "")
	require.Nil(t, f.Ratio)
	require.False(t, *f.Pass)

	f = results.NewFigure("x", 1, "ms", "", 0, &results.Goal{Of: "ratio", AtMost: true, Limit: 3}, "")
	require.Nil(t, f.Pass, "a ratio goal without a floor is not judged")
}

func TestRunFilesAreNeverMergedAndLatestSkipsPartial(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	full := &results.Run{StartedAt: t0}
	full.Add(results.NewFigure("a", 1, "ms", "", 0, nil, ""))
	p1, err := full.Write(dir)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "20261207T200000Z.json"), p1)
	_, err = full.Write(dir)
	require.Error(t, err, "a run file is never overwritten")

	partial := &results.Run{StartedAt: t0.Add(time.Hour), Partial: true}
	partial.Add(results.NewFigure("b", 2, "ms", "", 0, nil, ""))
	_, err = partial.Write(dir)
	require.NoError(t, err)

	latest, err := results.LatestFull(dir)
	require.NoError(t, err)
	require.Equal(t, p1, latest)
	got, err := results.Read(latest)
	require.NoError(t, err)
	require.Len(t, got.Figures, 1)
	require.Equal(t, "a", got.Figures[0].Name)

	_, err = results.LatestFull(t.TempDir())
	require.Error(t, err)
}

func TestReconciliationFailsTheRun(t *testing.T) {
	r := &results.Run{}
	r.AddReconciliation(results.Reconciliation{Name: "ok", Expected: 3})
	r.AddReconciliation(results.Reconciliation{Name: "dup", Expected: 3, Duplicated: 2, AllowedDuplicates: 1})
	require.True(t, r.Reconciliations[0].OK)
	require.False(t, r.Reconciliations[1].OK)
	require.Len(t, r.Failures, 1)
}

func TestWriteRejectsNaNAndReportRenders(t *testing.T) {
	r := &results.Run{StartedAt: time.Now()}
	r.Add(results.NewFigure("bad", math.NaN(), "ms", "", 0, nil, ""))
	_, err := r.Write(t.TempDir())
	require.Error(t, err)

	r = &results.Run{StartedAt: time.Now(), Configuration: map[string]string{"VENDORHUB_GATEWAY": "on"}}
	r.Add(results.NewFigure("realtime.p99", 30, "ms", "WAL floor", 10, &results.Goal{Of: "ratio", AtMost: true, Limit: 3}, ""))
	r.Add(results.NewFigure("stage.decide_per_s", 1e6, "1/s", "", 0, nil, ""))
	r.NotDone("fan-out")
	md := results.Report(r, "bench/results/x.json")
	require.Contains(t, md, "| `realtime.p99` | 30.0 ms | 10.0 ms (WAL floor) | 3.00× | ratio ≤ 3 | pass |")
	require.Contains(t, md, "stage.decide_per_s")
	require.Contains(t, md, "- fan-out")
	require.Contains(t, md, "`VENDORHUB_GATEWAY=on`")
}
