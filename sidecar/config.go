package sidecar

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/replication"
)

// Defaults of Config that are not the replication package's.
const (
	HTTPAddrDefault        = "127.0.0.1:54380"
	DBMaxConnsDefault      = 10
	RiverWorkersDefault    = 10
	ShutdownTimeoutDefault = 15 * time.Second
)

// Config configures a sidecar. Every field is read from the environment variable named in
// its comment (FromEnv); README.md's configuration table lists them all.
type Config struct {
	// DatabaseURL is the direct connection to the Supabase database (port 5432, never the
	// pooler), as a role with REPLICATION. DATABASE_URL. Required (except for `dev`, which
	// sets it).
	DatabaseURL string
	// SupabaseURL is the project's API URL. SUPABASE_URL. Defaults to "".
	SupabaseURL string
	// ServiceRoleKey is the project's service_role key. SUPABASE_SERVICE_ROLE_KEY. Defaults to "".
	ServiceRoleKey string
	// JWTSecret is the project's JWT secret. SUPABASE_JWT_SECRET. Defaults to "".
	JWTSecret string

	// Dev is set by `vendorhub dev` (ServeDev): stages use their local stand-ins (dev
	// mailbox, embedded realtime gateway) instead of real providers. Not read from the
	// environment. Defaults to false.
	Dev bool
	// HTTPAddr is the address of the one HTTP server (health, metrics, webhooks, realtime
	// gateway, dashboard). VENDORHUB_HTTP_ADDR. Defaults to "127.0.0.1:54380".
	HTTPAddr string
	// InstanceID names this process: replication application_name, River client id, cursor
	// row updated_by; unique per process. VENDORHUB_INSTANCE_ID. Defaults to
	// "vendorhub-<hostname>-<pid>-<random>".
	InstanceID string
	// Stages lists the stages to wire (names given to RegisterStage); empty wires every
	// registered stage, "none" none (the replication pipeline alone). VENDORHUB_STAGES
	// (comma-separated). Defaults to all.
	Stages []string
	// DBMaxConns bounds the regular connection pool. VENDORHUB_DB_MAX_CONNS. Defaults to 10.
	DBMaxConns int
	// RiverWorkers is the number of workers of River's default queue.
	// VENDORHUB_RIVER_WORKERS. Defaults to 10.
	RiverWorkers int
	// ShutdownTimeout bounds the graceful stop (final hand-off, River jobs, HTTP).
	// VENDORHUB_SHUTDOWN_TIMEOUT. Defaults to 15s.
	ShutdownTimeout time.Duration

	// Slot is the logical replication slot (a-z, 0-9, _). VENDORHUB_SLOT. Defaults to "vendorhub".
	Slot string
	// Publication is the publication streamed (a-z, 0-9, _). VENDORHUB_PUBLICATION.
	// Defaults to "vendorhub".
	Publication string
	// StatusInterval is the time between standby status updates; below half of
	// wal_sender_timeout. VENDORHUB_STATUS_INTERVAL. Defaults to 10s.
	StatusInterval time.Duration
	// ReceiveTimeout is the silence after which the replication connection is taken for
	// half-open and replaced; above 2×StatusInterval. VENDORHUB_RECEIVE_TIMEOUT. Defaults to 30s.
	ReceiveTimeout time.Duration
	// HeartbeatInterval is the time between heartbeat events the leader emits so an idle
	// database still advances the slot. VENDORHUB_HEARTBEAT_INTERVAL. Defaults to 15s.
	HeartbeatInterval time.Duration
	// StandbyRetry is the time between a hot standby's attempts to take the slot.
	// VENDORHUB_STANDBY_RETRY. Defaults to 2s.
	StandbyRetry time.Duration
	// ReconnectMax caps the back-off between reconnects. VENDORHUB_RECONNECT_MAX. Defaults to 15s.
	ReconnectMax time.Duration
	// QueueSize bounds the decoded transactions waiting for their hand-off.
	// VENDORHUB_QUEUE_SIZE. Defaults to 256.
	QueueSize int
	// HandoffMaxTransactions bounds the source transactions of one hand-off.
	// VENDORHUB_HANDOFF_MAX_TRANSACTIONS. Defaults to 1000.
	HandoffMaxTransactions int
	// HandoffMaxEvents bounds the changes and messages of one hand-off.
	// VENDORHUB_HANDOFF_MAX_EVENTS. Defaults to 10000.
	HandoffMaxEvents int
	// HandoffWait is how long a hand-off waits for more transactions after the first (0:
	// take what is queued). VENDORHUB_HANDOFF_WAIT. Defaults to 0.
	HandoffWait time.Duration
	// HandoffProbe adds handoff.JobSink: one River job per event in queue handoff_probe,
	// unique on the event key (tests and benchmarks prove exactly-once hand-off with it).
	// VENDORHUB_HANDOFF_PROBE. Defaults to false.
	HandoffProbe bool

	// HTTP configures the HTTP edge: limits, trusted proxies, internal listener (sidecar/edge.go).
	HTTP HTTPConfig
	// Realtime configures the realtime publisher and the embedded gateway (sidecar/realtime.go).
	Realtime RealtimeConfig
	// Webhooks configures the webhook ingress, outbound webhooks and the credential keyring
	// (sidecar/webhook.go).
	Webhooks WebhooksConfig
	// CRM configures the CRM and calendar connectors (sidecar/crm.go).
	CRM CRMConfig
	// Health configures the health monitor, circuit breakers, dashboard and dev RPC
	// endpoint (sidecar/health.go).
	Health HealthConfig
	// Notify configures notification planning and delivery (sidecar/notify.go).
	Notify NotifyConfig
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.HTTPAddr = cmp.Or(c.HTTPAddr, HTTPAddrDefault)
	c.InstanceID = cmp.Or(c.InstanceID, replication.DefaultInstanceID())
	c.DBMaxConns = cmp.Or(c.DBMaxConns, DBMaxConnsDefault)
	c.RiverWorkers = cmp.Or(c.RiverWorkers, RiverWorkersDefault)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, ShutdownTimeoutDefault)
	c.Slot = cmp.Or(c.Slot, replication.SlotDefault)
	c.Publication = cmp.Or(c.Publication, replication.PublicationDefault)
	c.StatusInterval = cmp.Or(c.StatusInterval, replication.StatusIntervalDefault)
	c.ReceiveTimeout = cmp.Or(c.ReceiveTimeout, replication.ReceiveTimeoutDefault)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, replication.HeartbeatIntervalDefault)
	c.StandbyRetry = cmp.Or(c.StandbyRetry, replication.StandbyRetryDefault)
	c.ReconnectMax = cmp.Or(c.ReconnectMax, replication.ReconnectMaxDefault)
	c.QueueSize = cmp.Or(c.QueueSize, replication.QueueSizeDefault)
	c.HandoffMaxTransactions = cmp.Or(c.HandoffMaxTransactions, replication.BatchMaxTransactionsDefault)
	c.HandoffMaxEvents = cmp.Or(c.HandoffMaxEvents, replication.BatchMaxEventsDefault)
	return c
}

// Validate reports the first invalid field of a defaulted Config, naming its variable.
func (c Config) Validate() error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("DATABASE_URL is required: the direct connection to the database (port 5432)")
	case c.DBMaxConns < 2:
		return fmt.Errorf("VENDORHUB_DB_MAX_CONNS=%d: need at least 2", c.DBMaxConns)
	case c.RiverWorkers < 1:
		return fmt.Errorf("VENDORHUB_RIVER_WORKERS=%d: need at least 1", c.RiverWorkers)
	}
	return c.replication(nil).Validate()
}

// FromEnv reads a Config from the environment through getenv (os.Getenv when nil). Unset
// variables keep their zero value (WithDefaults fills them); malformed ones are an error
// naming the variable.
func FromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var c Config
	e := &env{get: getenv}
	e.str(&c.DatabaseURL, "DATABASE_URL")
	e.str(&c.SupabaseURL, "SUPABASE_URL")
	e.str(&c.ServiceRoleKey, "SUPABASE_SERVICE_ROLE_KEY")
	e.str(&c.JWTSecret, "SUPABASE_JWT_SECRET")
	e.str(&c.HTTPAddr, "VENDORHUB_HTTP_ADDR")
	e.str(&c.InstanceID, "VENDORHUB_INSTANCE_ID")
	e.list(&c.Stages, "VENDORHUB_STAGES")
	e.int(&c.DBMaxConns, "VENDORHUB_DB_MAX_CONNS")
	e.int(&c.RiverWorkers, "VENDORHUB_RIVER_WORKERS")
	e.dur(&c.ShutdownTimeout, "VENDORHUB_SHUTDOWN_TIMEOUT")
	e.str(&c.Slot, "VENDORHUB_SLOT")
	e.str(&c.Publication, "VENDORHUB_PUBLICATION")
	e.dur(&c.StatusInterval, "VENDORHUB_STATUS_INTERVAL")
	e.dur(&c.ReceiveTimeout, "VENDORHUB_RECEIVE_TIMEOUT")
	e.dur(&c.HeartbeatInterval, "VENDORHUB_HEARTBEAT_INTERVAL")
	e.dur(&c.StandbyRetry, "VENDORHUB_STANDBY_RETRY")
	e.dur(&c.ReconnectMax, "VENDORHUB_RECONNECT_MAX")
	e.int(&c.QueueSize, "VENDORHUB_QUEUE_SIZE")
	e.int(&c.HandoffMaxTransactions, "VENDORHUB_HANDOFF_MAX_TRANSACTIONS")
	e.int(&c.HandoffMaxEvents, "VENDORHUB_HANDOFF_MAX_EVENTS")
	e.dur(&c.HandoffWait, "VENDORHUB_HANDOFF_WAIT")
	e.bool(&c.HandoffProbe, "VENDORHUB_HANDOFF_PROBE")
	c.HTTP.fromEnv(e)
	c.Realtime.fromEnv(e)
	c.Webhooks.fromEnv(e)
	c.CRM.fromEnv(e)
	c.Health.fromEnv(e)
	c.Notify.fromEnv(e)
	// Stages: add your variables here, one line each, and a row in README.md.
	return c, errors.Join(e.errs...)
}

// env parses environment variables, collecting one error per malformed variable.
type env struct {
	get  func(string) string
	errs []error
}

func (e *env) str(dst *string, name string) {
	if v := e.get(name); v != "" {
		*dst = v
	}
}

func (e *env) list(dst *[]string, name string) {
	for _, v := range strings.Split(e.get(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			*dst = append(*dst, v)
		}
	}
}

func (e *env) int(dst *int, name string) {
	if v := e.get(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: want an integer", name, v))
			return
		}
		*dst = n
	}
}

func (e *env) dur(dst *time.Duration, name string) {
	if v := e.get(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive duration such as 10s or 500ms", name, v))
			return
		}
		*dst = d
	}
}

func (e *env) bool(dst *bool, name string) {
	if v := e.get(name); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s=%q: want true or false", name, v))
			return
		}
		*dst = b
	}
}
