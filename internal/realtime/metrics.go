package realtime

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Drop reasons, the values of the reason label of vendorhub_realtime_dropped_total.
const (
	DropQueueFull    = "queue_full"   // the queue was full when Publish was called
	DropUnauthorized = "unauthorized" // 401/403: the service-role key is wrong
	DropRejected     = "rejected"     // another 4xx: the batch will never be accepted
	DropFailed       = "failed"       // retries exhausted
	DropShutdown     = "shutdown"     // the publisher stopped with messages still queued
	DropOversized    = "oversized"    // even the refetch replacement was refused for its size
)

var (
	metricPublished = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_realtime_published_total",
		Help: "Broadcast messages accepted by the Realtime transport.",
	})
	metricDropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_realtime_dropped_total",
		Help: "Broadcast messages dropped, by reason.",
	}, []string{"reason"})
	metricRateLimited = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_realtime_rate_limited_total",
		Help: "429 answers from the Realtime broadcast API.",
	})
	metricRetries = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_realtime_retries_total",
		Help: "Batches sent again after a failure.",
	})
	metricQueue = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_realtime_queue_length",
		Help: "Broadcast messages waiting to be sent.",
	})
	metricBatch = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "vendorhub_realtime_batch_messages",
		Help:    "Messages per broadcast batch.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500},
	})
	metricSendSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "vendorhub_realtime_send_duration_seconds",
		Help:    "Duration of one broadcast batch request.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
)
