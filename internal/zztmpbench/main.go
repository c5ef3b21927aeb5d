// Command bench runs vendorhub's benchmarks and writes their figures to bench/results.json
// (see package bench/results). Run it from the repository root: `make bench`, or
// `go run ./bench -only harness`.
//
// Each area adds its benchmarks in its own file of this package (bench/<area>.go):
//
//	func init() { register("replication", benchReplication) }
//
//	func benchReplication(ctx context.Context, env *Env) error {
//		db, err := env.NewDB(ctx, false) // migrated database on the shared cluster
//		…
//		env.Record("replication_events_per_second", n/elapsed.Seconds())
//		return nil
//	}
//
// Figures are named <area>_<what>_<unit>. Where a baseline exists (the same work without the
// feature under test), measure it in the same run and record it too.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
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

// Env is what a benchmark gets: a shared Postgres cluster and the figure recorder.
type Env struct {
	// Cluster is shared by all benchmarks, with durable settings (fsync on), as `vendorhub dev`
	// runs it. Do not restart it: start your own with embeddedpg.Start if you need to.
	Cluster *embeddedpg.Cluster
	area    string
	drops   []func() error
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

// Record records figure name (prefix it with the area) with value.
func (e *Env) Record(name string, value float64) {
	if !strings.HasPrefix(name, e.area+"_") && !strings.HasPrefix(name, e.area+".") {
		fmt.Fprintf(os.Stderr, "bench: figure %q should start with %q\n", name, e.area+"_")
	}
	fmt.Printf("  %-50s %g\n", name, value)
	results.Record(name, value)
}

// Logf prints a progress line.
func (e *Env) Logf(format string, args ...any) {
	fmt.Printf("  "+format+"\n", args...)
}

func main() {
	only := flag.String("only", "", "run only these areas (comma-separated)")
	out := flag.String("out", results.PathDefault, "results file (merged: figures of areas not run are kept)")
	timeout := flag.Duration("timeout", 20*time.Minute, "bound on the whole run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	code := run(ctx, *only, *out)
	cancel()
	stop()
	os.Exit(code)
}

func run(ctx context.Context, only, out string) int {
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
		if len(areas) == 0 || areas[b.area] {
			todo = append(todo, b)
		}
	}
	for a := range areas {
		if !known[a] {
			fmt.Fprintf(os.Stderr, "bench: unknown area %q (known: %s)\n", a, strings.Join(sortedKeys(known), ", "))
			return 2
		}
	}
	slices.SortStableFunc(todo, func(a, b benchmark) int { return strings.Compare(a.area, b.area) })

	cluster, err := embeddedpg.Start(ctx, embeddedpg.Config{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	defer cluster.Stop()

	failed := 0
	for _, b := range todo {
		fmt.Printf("bench: %s\n", b.area)
		env := &Env{Cluster: cluster, area: b.area}
		began := time.Now()
		err := b.run(ctx, env)
		for _, drop := range slices.Backward(env.drops) {
			if derr := drop(); derr != nil && err == nil {
				err = derr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s failed: %v\n", b.area, err)
			failed++
			continue
		}
		fmt.Printf("bench: %s done in %.1fs\n", b.area, time.Since(began).Seconds())
	}
	if err := results.Flush(out); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Printf("bench: %d figures written to %s\n", len(results.Figures()), out)
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d benchmark(s) failed\n", failed)
		return 1
	}
	return 0
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
