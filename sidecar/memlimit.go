package sidecar

import (
	"log/slog"
	"runtime/debug"
)

// MemoryLimitDefault is the soft memory limit of the Go runtime that `vendorhub run` and
// `vendorhub dev` set when the GOMEMLIMIT environment variable does not: 192 MiB. Draining a
// backlog the sidecar's heap peaks well below it (bench: peak RSS about 125 MiB), so it costs
// nothing in normal operation; under a burst it makes the collector work harder before the
// process grows past it (the collector never takes more than half of the CPU for it, so a
// heap that truly needs more still gets it). Set GOMEMLIMIT (e.g. "512MiB", or "off") to
// choose another limit.
const MemoryLimitDefault = 192 << 20

// ApplyMemoryLimit sets the runtime's soft memory limit to MemoryLimitDefault unless
// getenv("GOMEMLIMIT") is set (the runtime then applied that value itself at start), and
// returns the limit in force.
func ApplyMemoryLimit(getenv func(string) string, logger *slog.Logger) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1) // -1 reads the limit without changing it
	}
	debug.SetMemoryLimit(MemoryLimitDefault)
	if logger != nil {
		logger.Debug("sidecar: Go memory limit set (GOMEMLIMIT unset)", "bytes", MemoryLimitDefault)
	}
	return MemoryLimitDefault
}
