package webhook

import "github.com/prometheus/client_golang/prometheus"

var (
	metricRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_webhook_requests_total",
		Help: "Inbound webhook requests by source and result (stored, duplicate, or the rejection reason class).",
	}, []string{"source", "result"})
	metricDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vendorhub_webhook_request_duration_seconds",
		Help:    "Time to answer an inbound webhook request.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1},
	}, []string{"source"})
	metricBatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vendorhub_webhook_inbox_batch_size",
		Help:    "Requests per stored batch (one vendorhub.webhook_store() call).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})
)

// Collectors returns the package's Prometheus collectors, for the sidecar's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{metricRequests, metricDuration, metricBatchSize}
}
