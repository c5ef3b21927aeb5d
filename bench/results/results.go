// Package results collects benchmark figures and writes them to bench/results.json: one flat
// JSON object of figure name → number, plus "measured_at" (RFC 3339) and "machine" (a line
// describing the host). Figures are named <area>_<what>_<unit>, e.g. "harness_db_clone_seconds".
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// PathDefault is where `go run ./bench` writes, relative to the repository root.
const PathDefault = "bench/results.json"

var (
	mu      sync.Mutex
	figures = map[string]float64{}
)

// Record sets figure name to value (the last call wins). Safe for concurrent use.
func Record(name string, value float64) {
	mu.Lock()
	defer mu.Unlock()
	figures[name] = value
}

// Figures returns a copy of the figures recorded so far.
func Figures() map[string]float64 {
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]float64, len(figures))
	for k, v := range figures {
		out[k] = v
	}
	return out
}

// Flush merges the recorded figures into the JSON object at path (keeping figures of areas
// not run this time), stamps measured_at and machine, and writes it atomically.
func Flush(path string) error {
	merged := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &merged); err != nil {
			return fmt.Errorf("results: %s is not a JSON object: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("results: %w", err)
	}
	for k, v := range Figures() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("results: figure %s is %v: not representable in JSON", k, v)
		}
		merged[k] = v
	}
	merged["measured_at"] = time.Now().UTC().Format(time.RFC3339)
	merged["machine"] = Machine()
	b, err := json.MarshalIndent(merged, "", "  ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return os.Rename(tmp, path)
}

// Machine describes the host: name, CPU model, cores, memory, Go version.
func Machine() string {
	host, _ := os.Hostname()
	cpu := "unknown cpu"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s: %s, %d cores%s, %s %s/%s", host, cpu, runtime.NumCPU(), mem,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
