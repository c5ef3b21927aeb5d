package health

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	transitionsDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_health_breaker_transitions_dropped_total",
		Help: "Breaker state changes not recorded because the recorder's queue was full.",
	})

	lagBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_health_replication_lag_bytes",
		Help: "WAL bytes written before the previous health poll that the slot has not confirmed (0: the consumer keeps up).",
	})
	lagSeconds = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_health_replication_lag_seconds",
		Help: "Age of the oldest health poll whose WAL position the slot has not confirmed (0: the consumer keeps up).",
	})
	retainedBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_health_slot_retained_bytes",
		Help: "WAL the replication slot keeps on disk (restart_lsn to the current position).",
	})
	safeWALSize = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_health_slot_safe_wal_size_bytes",
		Help: "WAL that can still be written before the slot is invalidated (-1: unlimited, max_slot_wal_keep_size = -1).",
	})
	slotActive = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_health_slot_active",
		Help: "1 when a walsender streams the slot, 0 otherwise (or when the slot is missing).",
	})
	slotWALStatus = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vendorhub_health_slot_wal_status",
		Help: "1 for the slot's current wal_status (reserved, extended, unreserved, lost, missing).",
	}, []string{"status"})
	slotWarning = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_health_slot_warning",
		Help: "Slot risk: 0 ok, 1 warning (safe_wal_size below the warning fraction, or extended), 2 critical (unreserved, lost or missing).",
	})
	queueDepth = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vendorhub_health_river_queue_depth",
		Help: "River jobs ready to run (available, or retryable/scheduled and due), by queue.",
	}, []string{"queue"})
	oldestJob = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vendorhub_health_river_oldest_job_seconds",
		Help: "Age of the oldest River job ready to run, by queue.",
	}, []string{"queue"})
	dbUp = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_health_database_up",
		Help: "1 when the last health poll reached the database.",
	})
	realtimeLatency = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "vendorhub_health_realtime_latency_seconds",
		Help:    "Time from an event's commit to its hand-off to the realtime publisher.",
		Buckets: latencyBucketsSeconds(),
	})
)

func latencyBucketsSeconds() []float64 {
	out := make([]float64, len(LatencyBoundsMillis))
	for i, b := range LatencyBoundsMillis {
		out[i] = b / 1000
	}
	return out
}
