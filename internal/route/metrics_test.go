package route_test

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wedsync/vendorhub/internal/event"
)

// unknown is the value of vendorhub_route_unknown_events_total{type=label}, read through
// the default registry so the test checks what /metrics exposes.
func unknown(label string) float64 {
	return counter("vendorhub_route_unknown_events_total", map[string]string{"type": label})
}

func skipped(typ event.Type, topic string) float64 {
	return counter("vendorhub_route_skipped_topics_total", map[string]string{"type": string(typ), "topic": topic})
}

func routedTotal(typ string) float64 {
	return counter("vendorhub_route_events_total", map[string]string{"type": typ})
}

// counter returns one series of the default registry (0 when absent).
func counter(name string, labels map[string]string) float64 {
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
