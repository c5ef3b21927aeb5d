package route

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// malformedLabel is the type label of envelopes that could not be parsed.
const malformedLabel = "malformed"

var (
	routedEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_route_events_total",
		Help: "Events routed, by event type (unknown types included).",
	}, []string{"type"})
	unknownEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_route_unknown_events_total",
		Help: "Events routed to nothing because their type is not in the closed set or has no rule (type=\"malformed\": envelope not parseable).",
	}, []string{"type"})
	skippedTopics = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_route_skipped_topics_total",
		Help: "Topics not routed to because the event lacked (or had a malformed) id the topic template needs.",
	}, []string{"type", "topic"})
)
