// Command bench measures vendorhub as it is deployed and writes each run to its own file,
// bench/results/<UTC timestamp>.json (see package bench/results); a full run (no -only) also
// regenerates docs/benchmarks.md. Run it from the repository root: `make bench`.
//
// The system area (bench/system.go) runs the `vendorhub` binary with its default
// configuration under an open-loop mix (package bench/load) and records each headline figure
// against a floor measured in the same run:
//
//	env.Run.Add(results.NewFigure(name, value, "ms", "what the floor is", floor, &results.Goal{…}, note))
//
// The other areas are stage micro-benchmarks (one stage in isolation with its own settings):
// their env.Record figures are written as stage.<name>, with no floor and no goal. They run
// with -stages or when named with -only.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wedsync/vendorhub/bench/results"
	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// benchmark is one registered benchmark function of an area.
type benchmark struct {
	area string
	run  func(ctx context.Context, env *Env) error
}

var registry []benchmark

// register adds a benchmark of area; call it from an init function.
func register(area string, run func(ctx context.Context, env *Env) error) {
	registry = append(registry, benchmark{area: area, run: run})
}

// Env is what a benchmark gets: a shared Postgres cluster and the run its figures go to.
type Env struct {
	// Cluster is shared by all benchmarks, with durable settings (fsync on), as `vendorhub dev`
	// runs it. Do not restart it: start your own with embeddedpg.Start if you need to.
	Cluster *embeddedpg.Cluster
	// Run collects the figures (results.NewFigure with floor and goal), latency distributions
	// and reconciliations of this run.
	Run   *results.Run
	area  string
	drops []func() error
}

// NewDB returns a fresh database on Cluster holding the shim and migrations (and the seed when
// seeded), dropped after the benchmark.
func (e *Env) NewDB(ctx context.Context, seeded bool) (*pgtest.DB, error) {
	db, drop, err := pgtest.CreateDB(ctx, e.Cluster.URL("postgres"), seeded)
	if err != nil {
		return nil, err
	}
	e.drops = append(e.drops, drop)
	return db, nil
}

// Record records a stage micro-benchmark figure: one stage in isolation with its own settings,
// written as "stage.<name>" with no floor and no goal (never a system figure).
func (e *Env) Record(name string, value float64) {
	if !strings.HasPrefix(name, e.area+"_") && !strings.HasPrefix(name, e.area+".") {
		fmt.Fprintf(os.Stderr, "bench: figure %q should start with %q\n", name, e.area+"_")
	}
	fmt.Printf("  %-50s %g\n", "stage."+name, value)
	e.Run.Add(results.NewFigure("stage."+name, value, unitOf(name), "", 0, nil, ""))
}

// unitOf reads the unit from a stage figure's name suffix.
func unitOf(name string) string {
	for suffix, unit := range map[string]string{"_ms": "ms", "_seconds": "s", "_s": "s", "_per_s": "1/s", "_per_second": "1/s",
		"_mib": "MiB", "_ratio": "ratio", "_us": "µs"} {
		if strings.HasSuffix(name, suffix) && !(suffix == "_s" && strings.HasSuffix(name, "_per_s")) {
			return unit
		}
	}
	return ""
}

// Logf prints a progress line.
func (e *Env) Logf(format string, args ...any) {
	fmt.Printf("  "+format+"\n", args...)
}

// stageAreas are the stage micro-benchmark areas: run with -stages (or named with -only).
var stageAreas = map[string]bool{"calendar": true, "harness": true, "health": true, "notify": true, "realtime": true, "replication": true, "webhooks": true}

func main() {
	only := flag.String("only", "", "run only these areas (comma-separated); the run file is marked partial")
	stages := flag.Bool("stages", false, "also run the stage micro-benchmarks (stage.* figures; adds several minutes)")
	dir := flag.String("out", results.DirDefault, "directory of the run files (<UTC timestamp>.json)")
	report := flag.Bool("report", false, "write docs/benchmarks.md from the newest full run in -out and exit")
	timeout := flag.Duration("timeout", 30*time.Minute, "bound on the whole run")
	flag.Parse()
	if *report {
		os.Exit(writeReport(*dir, "docs/benchmarks.md"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	code, written := run(ctx, *only, *stages, *dir)
	cancel()
	stop()
	// A full run's page is written even when the run failed: the failures are on it.
	if written != "" && !partialFlags() {
		if rc := writeReport(*dir, "docs/benchmarks.md"); rc != 0 {
			code = rc
		}
	}
	os.Exit(code)
}

// partialFlags reports whether a flag other than -out, -timeout or -stages was set.
func partialFlags() bool {
	partial := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "out" && f.Name != "timeout" && f.Name != "stages" {
			partial = true
		}
	})
	return partial
}

func writeReport(dir, out string) int {
	path, err := results.LatestFull(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	r, err := results.Read(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	if err := os.WriteFile(out, []byte(results.Report(r, path)), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Printf("bench: %s written from %s\n", out, path)
	return 0
}

// run runs the areas and returns the exit code and the run file written ("" if none).
func run(ctx context.Context, only string, stages bool, dir string) (int, string) {
	areas := map[string]bool{}
	for _, a := range strings.Split(only, ",") {
		if a = strings.TrimSpace(a); a != "" {
			areas[a] = true
		}
	}
	var todo []benchmark
	known := map[string]bool{}
	for _, b := range registry {
		known[b.area] = true
		if areas[b.area] || (len(areas) == 0 && (stages || !stageAreas[b.area])) {
			todo = append(todo, b)
		}
	}
	for a := range areas {
		if !known[a] {
			fmt.Fprintf(os.Stderr, "bench: unknown area %q (known: %s)\n", a, strings.Join(sortedKeys(known), ", "))
			return 2, ""
		}
	}
	slices.SortStableFunc(todo, func(a, b benchmark) int { return strings.Compare(a.area, b.area) })

	// A run with areas left out or a shape changed from its defaults (e.g. -system-for) is partial.
	res := &results.Run{StartedAt: time.Now().UTC(), Partial: len(areas) > 0 || partialFlags(), Commit: gitCommit()}
	res.Describe()
	for _, b := range todo {
		res.Areas = append(res.Areas, b.area)
	}
	if !stages && len(areas) == 0 {
		res.NotDone("stage micro-benchmarks (run with -stages)")
	}
	cluster, err := embeddedpg.Start(ctx, embeddedpg.Config{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1, ""
	}
	defer cluster.Stop()

	for _, b := range todo {
		fmt.Printf("bench: %s\n", b.area)
		env := &Env{Cluster: cluster, Run: res, area: b.area}
		began := time.Now()
		err := b.run(ctx, env)
		for _, drop := range slices.Backward(env.drops) {
			if derr := drop(); derr != nil && err == nil {
				err = derr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s failed: %v\n", b.area, err)
			res.Fail("%s: %v", b.area, err)
			continue
		}
		fmt.Printf("bench: %s done in %.1fs\n", b.area, time.Since(began).Seconds())
	}
	res.Duration = time.Since(res.StartedAt).Seconds()
	path, err := res.Write(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1, ""
	}
	fmt.Printf("bench: %d figures written to %s\n", len(res.Figures), path)
	for _, f := range res.Figures {
		if f.Pass != nil && !*f.Pass {
			fmt.Printf("bench: goal missed: %s = %.2f %s (goal %s)\n", f.Name, f.Value, f.Unit, f.Goal)
		}
	}
	if len(res.Failures) > 0 {
		for _, f := range res.Failures {
			fmt.Fprintf(os.Stderr, "bench: FAILED: %s\n", f)
		}
		return 1, path
	}
	return 0, path
}

// gitCommit names the checked-out commit, "-dirty" when the work tree has changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "-dirty"
	}
	return c
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
