package gateway

import (
	"cmp"
	"errors"
	"log/slog"
	"time"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/auth"
)

// Defaults of Config.
const (
	MaxConnsPerIPDefault           = 500
	MaxChannelsPerConnDefault      = 100
	MaxPayloadBytesDefault         = 256 * 1024
	MaxFrameBytesDefault           = 1 << 20
	SendQueueDefault               = 1024
	IdleTimeoutDefault             = 60 * time.Second
	WriteTimeoutDefault            = 10 * time.Second
	ProbeTimeoutDefault            = 5 * time.Second
	PresenceCallsDefault           = 5
	PresenceWindowDefault          = 30 * time.Second
	MaxBodyBytesDefault            = 8_000_000
	ReplicationReadyTimeoutDefault = 30 * time.Second
	PersistPerSecondDefault        = 10
)

// Config configures a Gateway.
type Config struct {
	// Verifier checks the apikey and access tokens. Required.
	Verifier *auth.Verifier
	// Authorizer runs the RLS probe for private channels. Default: none, and every private
	// join is refused.
	Authorizer Authorizer
	// Store holds stored broadcasts: joins with config.broadcast.replay read them, client
	// broadcasts sent with persist go there. Default: none (replay joins are refused as
	// invalid, persist sends are refused).
	Store Store
	// PersistPerSecond bounds the client broadcasts one socket may store with persist (each
	// is a realtime.messages row kept 72 hours); beyond it a persisted send is refused.
	// Default: 10 a second (a burst of 10).
	PersistPerSecond int
	// ReplicationReady is closed once the replication stream that feeds the gateway is
	// streaming; a join with broadcast.replication_ready gets its "Replication connection
	// established" system event then. Default: nil (ready from the start).
	ReplicationReady <-chan struct{}
	// ReplicationReadyTimeout bounds that wait; past it the channel gets Realtime's
	// "Replication connection was not established in time" and is closed. Default: 30 s.
	ReplicationReadyTimeout time.Duration
	// Audit receives refused joins (vendorhub.audit_log). Default: none.
	Audit Auditor
	// MaxConnsPerIP caps concurrent sockets from one client address (edge.ClientAddr: the
	// forwarded client behind a trusted proxy); beyond it the upgrade gets 429.
	// Default: 500.
	MaxConnsPerIP int
	// MaxChannelsPerConn caps joined channels per socket (Supabase: 100). Default: 100.
	MaxChannelsPerConn int
	// MaxPayloadBytes caps one broadcast payload (Supabase Free: 256 KB). Default: 256 KiB.
	MaxPayloadBytes int
	// MaxFrameBytes caps one WebSocket message read; a larger one closes the socket with 1009.
	// Default: 1 MiB.
	MaxFrameBytes int
	// SendQueue bounds the frames waiting to be written to one socket. A client that lets it
	// fill is a slow consumer and is disconnected, so one slow reader never grows memory or
	// holds up the others. Default: 1,024.
	SendQueue int
	// IdleTimeout closes a socket that sent nothing (not even a heartbeat, every 25 s) for
	// this long. Default: 60 s.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one frame. Default: 10 s.
	WriteTimeout time.Duration
	// ProbeTimeout bounds one RLS probe. Default: 5 s.
	ProbeTimeout time.Duration
	// PresenceCalls presence track/untrack calls are allowed per PresenceWindow per socket
	// (Supabase: 5 per 30 s); beyond it the channel gets a system error and is closed.
	// Default: 5.
	PresenceCalls int
	// PresenceWindow is the window of PresenceCalls. Default: 30 s.
	PresenceWindow time.Duration
	// JoinErrorDelay holds a join error reply back, as Realtime does (5 s) to slow down
	// clients that rejoin forever. Default: 0 (no delay).
	JoinErrorDelay time.Duration
	// MaxBodyBytes caps a REST broadcast request body. Default: 8 MB.
	MaxBodyBytes int
	// Logger receives connection errors. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Auditor records security-relevant events; *audit.Buffer is one.
type Auditor interface {
	Add(audit.Entry)
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.MaxConnsPerIP = cmp.Or(c.MaxConnsPerIP, MaxConnsPerIPDefault)
	c.MaxChannelsPerConn = cmp.Or(c.MaxChannelsPerConn, MaxChannelsPerConnDefault)
	c.MaxPayloadBytes = cmp.Or(c.MaxPayloadBytes, MaxPayloadBytesDefault)
	c.MaxFrameBytes = cmp.Or(c.MaxFrameBytes, MaxFrameBytesDefault)
	c.SendQueue = cmp.Or(c.SendQueue, SendQueueDefault)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, IdleTimeoutDefault)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, WriteTimeoutDefault)
	c.ProbeTimeout = cmp.Or(c.ProbeTimeout, ProbeTimeoutDefault)
	c.PresenceCalls = cmp.Or(c.PresenceCalls, PresenceCallsDefault)
	c.PresenceWindow = cmp.Or(c.PresenceWindow, PresenceWindowDefault)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, MaxBodyBytesDefault)
	c.ReplicationReadyTimeout = cmp.Or(c.ReplicationReadyTimeout, ReplicationReadyTimeoutDefault)
	c.PersistPerSecond = cmp.Or(c.PersistPerSecond, PersistPerSecondDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Verifier == nil:
		return errors.New("gateway: Config.Verifier is required")
	case c.MaxConnsPerIP < 1, c.MaxChannelsPerConn < 1, c.SendQueue < 1, c.PresenceCalls < 1:
		return errors.New("gateway: Config limits must be positive")
	case c.MaxFrameBytes < c.MaxPayloadBytes:
		return errors.New("gateway: Config.MaxFrameBytes must be at least MaxPayloadBytes")
	}
	return nil
}
