package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	metricConns = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_gateway_connections",
		Help: "Open Realtime gateway sockets.",
	})
	metricChannels = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "vendorhub_gateway_channels",
		Help: "Joined channels across all sockets.",
	})
	metricRefused = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_gateway_connections_refused_total",
		Help: "Socket upgrades refused, by reason (auth, too_many_per_ip).",
	}, []string{"reason"})
	metricJoins = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_gateway_joins_total",
		Help: "Channel joins, by result (ok, unauthorized, token, limit, error).",
	}, []string{"result"})
	metricOut = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_gateway_frames_out_total",
		Help: "Frames queued to sockets.",
	})
	metricSlow = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_gateway_slow_consumers_total",
		Help: "Sockets disconnected because their send queue was full.",
	})
	metricBroadcasts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_gateway_broadcasts_total",
		Help: "Broadcasts received, by source (client, rest, sidecar).",
	}, []string{"source"})
	metricReplayed = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_gateway_replayed_total",
		Help: "Stored broadcasts replayed to joining channels (config.broadcast.replay).",
	})
	metricPersisted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_gateway_persisted_total",
		Help: "Client broadcasts sent with persist, by result (stored, refused, error).",
	}, []string{"result"})
	metricRechecks = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_gateway_rechecks_total",
		Help: "Channels re-authorized after a membership change, by result (kept, closed, error).",
	}, []string{"result"})
	metricAwaitedVisibility = promauto.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_gateway_recheck_visibility_waits_total",
		Help: "Times a re-check found the removing transaction decoded but not yet visible to a new snapshot, and waited.",
	})
)
