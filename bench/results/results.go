// Package results holds one benchmark run: its figures, each as a ratio to a floor measured in
// the same run, and the machine and build it ran on. Every run is written to its own file,
// bench/results/<UTC timestamp>.json; runs are never merged. A run of some areas only
// (`-only X`) is marked Partial and never feeds docs/benchmarks.md (see Report).
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// DirDefault is where `go run ./bench` writes its run files, relative to the repository root.
const DirDefault = "bench/results"

// Goal is what a figure is judged against: Ratio (value ÷ floor) or Value, at most or at least
// Limit.
type Goal struct {
	// Of is "ratio" (value ÷ floor) or "value".
	Of string `json:"of"`
	// AtMost: pass when the judged number ≤ Limit; otherwise pass when it is ≥ Limit.
	AtMost bool    `json:"at_most"`
	Limit  float64 `json:"limit"`
}

// String reads like "ratio ≤ 3" or "value ≥ 0.6".
func (g Goal) String() string {
	op := "≥"
	if g.AtMost {
		op = "≤"
	}
	return fmt.Sprintf("%s %s %g", g.Of, op, g.Limit)
}

// Figure is one measured number. Floor is the same quantity for the bare mechanism underneath
// (measured in the same run on the same machine); Ratio = Value ÷ Floor. System figures carry
// a floor and a goal; stage.* figures (micro-benchmarks of one stage) carry neither.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// FloorName says what the floor measured, e.g. "pglogrepl client on a second slot".
	FloorName string   `json:"floor_name,omitempty"`
	Floor     *float64 `json:"floor,omitempty"`
	Ratio     *float64 `json:"ratio,omitempty"`
	Goal      *Goal    `json:"goal,omitempty"`
	Pass      *bool    `json:"pass,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// NewFigure returns a figure with its ratio and pass/fail worked out. floor ≤ 0 means none.
func NewFigure(name string, value float64, unit string, floorName string, floor float64, goal *Goal, note string) Figure {
	f := Figure{Name: name, Value: value, Unit: unit, Goal: goal, Note: note}
	if floor > 0 {
		fl, r := floor, value/floor
		f.FloorName, f.Floor, f.Ratio = floorName, &fl, &r
	}
	if goal != nil {
		judged, ok := value, true
		if goal.Of == "ratio" {
			ok = f.Ratio != nil
			if ok {
				judged = *f.Ratio
			}
		}
		if ok {
			pass := judged >= goal.Limit
			if goal.AtMost {
				pass = judged <= goal.Limit
			}
			f.Pass = &pass
		}
	}
	return f
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	Name    string  `json:"name"`
	Origin  string  `json:"origin"` // where timing starts, e.g. "scheduled send"
	Samples int     `json:"samples"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	P999    float64 `json:"p999_ms"`
	Max     float64 `json:"max_ms"`
}

// Reconciliation is the per-id count of one effect: Expected ids, Lost (never seen), Duplicated
// (seen beyond once), and how many duplicates the design allows (at-least-once), if any.
type Reconciliation struct {
	Name       string `json:"name"`
	Expected   int    `json:"expected"`
	Lost       int    `json:"lost"`
	Duplicated int    `json:"duplicated"`
	// AllowedDuplicates is documented at-least-once redelivery; beyond it the run fails.
	AllowedDuplicates int  `json:"allowed_duplicates"`
	OK                bool `json:"ok"`
}

// Machine is the host a run measured.
type Machine struct {
	Host      string  `json:"host"`
	CPU       string  `json:"cpu"`
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memory_gib"`
	Load1     string  `json:"load_at_start,omitempty"`
}

// Run is one benchmark run, as written to its file.
type Run struct {
	StartedAt time.Time `json:"started_at"`
	Duration  float64   `json:"duration_s"`
	Commit    string    `json:"commit"`
	Machine   Machine   `json:"machine"`
	GoVersion string    `json:"go_version"`
	Partial   bool      `json:"partial"`
	Areas     []string  `json:"areas"`
	// Configuration is the sidecar's environment in the system run: only endpoints and keys;
	// everything else is the binary's default.
	Configuration   map[string]string `json:"configuration"`
	Workload        []string          `json:"workload"`
	Figures         []Figure          `json:"figures"`
	Latencies       []Latency         `json:"latencies"`
	Reconciliations []Reconciliation  `json:"reconciliations"`
	NotMeasured     []string          `json:"not_measured"`
	Failures        []string          `json:"failures"`

	mu sync.Mutex
}

// Add records f (a later figure of the same name replaces it). Safe for concurrent use.
func (r *Run) Add(f Figure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Figures = slices.DeleteFunc(r.Figures, func(x Figure) bool { return x.Name == f.Name })
	r.Figures = append(r.Figures, f)
}

// AddLatency records a latency distribution.
func (r *Run) AddLatency(l Latency) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Latencies = append(r.Latencies, l)
}

// AddReconciliation records rc; a failed one is also a failure of the run.
func (r *Run) AddReconciliation(rc Reconciliation) {
	rc.OK = rc.Lost == 0 && rc.Duplicated <= rc.AllowedDuplicates
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Reconciliations = append(r.Reconciliations, rc)
	if !rc.OK {
		r.Failures = append(r.Failures, fmt.Sprintf("%s: %d lost, %d duplicated (allowed %d)", rc.Name, rc.Lost, rc.Duplicated, rc.AllowedDuplicates))
	}
}

// Fail records why the run failed.
func (r *Run) Fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// NotDone records a figure the run did not measure, and why.
func (r *Run) NotDone(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.NotMeasured = append(r.NotMeasured, what)
}

// Write writes r to dir/<started_at as 20060102T150405Z>.json (never over an existing file)
// and returns the path.
func (r *Run) Write(dir string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.Figures {
		for _, v := range []*float64{&f.Value, f.Floor, f.Ratio} {
			if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				return "", fmt.Errorf("results: figure %s is %v: not representable in JSON", f.Name, *v)
			}
		}
	}
	slices.SortStableFunc(r.Figures, func(a, b Figure) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("results: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results: %w", err)
	}
	path := filepath.Join(dir, r.StartedAt.UTC().Format("20060102T150405Z")+".json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("results: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return "", fmt.Errorf("results: %w", err)
	}
	return path, f.Close()
}

// Read reads one run file.
func Read(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("results: %s: %w", path, err)
	}
	return &r, nil
}

// LatestFull returns the path of the newest run file in dir that is not partial.
func LatestFull(dir string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*T*Z.json"))
	if err != nil {
		return "", err
	}
	slices.Sort(names) // the timestamp format sorts by time
	for _, n := range slices.Backward(names) {
		r, err := Read(n)
		if err != nil {
			return "", err
		}
		if !r.Partial {
			return n, nil
		}
	}
	return "", errors.New("results: no full run in " + dir + " (run `make bench`)")
}

// Describe fills in the machine and Go version of the current host.
func (r *Run) Describe() {
	host, _ := os.Hostname()
	m := Machine{Host: host, CPU: "unknown", Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = math.Round(float64(kb)/(1<<20)*10) / 10
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.Load1 = f[0]
		}
	}
	r.Machine = m
	r.GoVersion = runtime.Version()
}
