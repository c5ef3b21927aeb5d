package breaker

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The metric names keep their vendorhub_health_ prefix: dashboards and alerts use them.
var (
	callsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_health_integration_calls_total",
		Help: "Calls to providers and connections through their circuit breaker, by integration and outcome (success, failure).",
	}, []string{"integration", "outcome"})
	callSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vendorhub_health_integration_call_duration_seconds",
		Help:    "Duration of provider and connection calls, by integration.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"integration"})
	breakerState = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vendorhub_health_breaker_state",
		Help: "Circuit breaker state by breaker: 0 closed, 1 half-open, 2 open.",
	}, []string{"breaker"})
	breakerTransitions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_health_breaker_transitions_total",
		Help: "Circuit breaker state changes, by breaker and new state.",
	}, []string{"breaker", "to"})
)
