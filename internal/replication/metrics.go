package replication

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	eventsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_replication_events_total",
		Help: "Events handed off durably, by event type.",
	}, []string{"type"})
	ackedLSN = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_replication_acknowledged_lsn",
		Help: "Acknowledged position (TransactionEndLSN whose hand-off committed), as a number.",
	})
	lagBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_replication_lag_bytes",
		Help: "Server WAL end minus the acknowledged position, at the last hand-off.",
	})
	lagSeconds = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_replication_lag_seconds",
		Help: "Time from the commit of the last handed-off transaction to its hand-off (0 after an idle promotion).",
	})
	queueBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_replication_queue_bytes",
		Help: "Estimated memory of the decoded transactions waiting for their hand-off (bounded by VENDORHUB_QUEUE_BYTES).",
	})
	queueWaitsTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_replication_queue_waits_total",
		Help: "Times reading stopped because the hand-off queue was full (VENDORHUB_QUEUE_SIZE or VENDORHUB_QUEUE_BYTES).",
	})
	reconnects = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_replication_reconnects_total",
		Help: "Replication sessions ended by an error and reconnected (not counting standby retries).",
	})
	skipped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_replication_skipped_transactions_total",
		Help: "Received transactions dropped because their end is not beyond what is durable or queued (replays).",
	})
	roleGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vendorhub_replication_role",
		Help: "1 for the stream's current role (leader, standby, connecting), 0 otherwise.",
	}, []string{"role"})
)
