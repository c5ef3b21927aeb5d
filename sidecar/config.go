package sidecar

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/replication"
)

// Defaults of Config that belong to no stage.
const (
	HTTPAddrDefault        = "127.0.0.1:54380"
	DBMaxConnsDefault      = 10
	RiverWorkersDefault    = 10
	ShutdownTimeoutDefault = 15 * time.Second
)

// The stages VENDORHUB_STAGES names, in wiring order.
const (
	StageRealtime = "realtime"
	StageNotify   = "notify"
	StageWebhooks = "webhooks"
	StageCRM      = "crm"
	StageHealth   = "health"
	// StagesNone as the only entry of Config.Stages wires no stage: the replication
	// pipeline alone (with the probe sink when HandoffProbe is set).
	StagesNone = "none"
)

// stageNames are the stages, in wiring order.
var stageNames = []string{StageRealtime, StageNotify, StageWebhooks, StageCRM, StageHealth}

// Config configures a sidecar. Every field is read from the environment variable named in
// its comment (FromEnv; the table is Vars); README.md's configuration table lists them all
// and a test keeps the two equal. WithDefaults fills every zero field from its default,
// Validate reports every bad one, naming its variable.
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
	// gateway, dashboard). VENDORHUB_HTTP_ADDR. Defaults to HTTPAddrDefault.
	HTTPAddr string
	// InstanceID names this process: replication application_name, River client id, cursor
	// row updated_by; unique per process. VENDORHUB_INSTANCE_ID. Defaults to
	// replication.DefaultInstanceID() ("vendorhub-<hostname>-<pid>-<random>").
	InstanceID string
	// Stages lists the stages to wire (StageRealtime, StageNotify, StageWebhooks, StageCRM,
	// StageHealth); empty wires every stage, StagesNone none (the replication pipeline
	// alone). VENDORHUB_STAGES (comma-separated). Defaults to every stage.
	Stages []string
	// DBMaxConns bounds the regular connection pool. VENDORHUB_DB_MAX_CONNS. Defaults to
	// DBMaxConnsDefault.
	DBMaxConns int
	// RiverWorkers is the number of workers of River's default queue.
	// VENDORHUB_RIVER_WORKERS. Defaults to RiverWorkersDefault.
	RiverWorkers int
	// ShutdownTimeout bounds the graceful stop (final hand-off, River jobs, HTTP); it is also
	// Replication.ShutdownTimeout. VENDORHUB_SHUTDOWN_TIMEOUT. Defaults to
	// ShutdownTimeoutDefault.
	ShutdownTimeout time.Duration
	// HandoffProbe adds handoff.JobSink: one River job per event in queue handoff_probe,
	// unique on the event key (tests and benchmarks prove exactly-once hand-off with it).
	// VENDORHUB_HANDOFF_PROBE. Defaults to false.
	HandoffProbe bool

	// HTTP configures the HTTP edge: limits, trusted proxies, internal listener (edge.go).
	HTTP HTTPConfig
	// Replication configures the replication stream (its fields document their variables
	// and defaults: VENDORHUB_SLOT, VENDORHUB_PUBLICATION, …). ConnString, InstanceID and
	// ShutdownTimeout are set from DatabaseURL, InstanceID and ShutdownTimeout.
	Replication replication.Config
	// Realtime configures the realtime publisher and the embedded gateway (realtime.go).
	Realtime RealtimeConfig
	// Notify configures notification planning and delivery (notify.go).
	Notify NotifyConfig
	// Webhooks configures the webhook ingress, outbound webhooks and the credential keyring
	// (webhook.go).
	Webhooks WebhooksConfig
	// CRM configures the CRM and calendar connectors (crm.go).
	CRM CRMConfig
	// Health configures the health monitor, circuit breakers, dashboard and dev RPC
	// endpoint (health.go).
	Health HealthConfig
}

// WithDefaults returns a copy of c with every zero field, of every sub-config, set to its
// default (Vars), and the replication settings shared with the top level copied in.
func (c Config) WithDefaults() Config {
	for _, v := range Vars() {
		if v.fill != nil {
			v.fill(&c)
		}
	}
	if c.InstanceID == "" {
		c.InstanceID = replication.DefaultInstanceID()
	}
	c.Replication.ConnString = c.DatabaseURL
	c.Replication.InstanceID = c.InstanceID
	c.Replication.ShutdownTimeout = c.ShutdownTimeout
	c.Replication = c.Replication.WithDefaults()
	return c
}

// Validate reports every invalid field of a defaulted Config, each naming its variable.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.DatabaseURL == "" {
		add(errors.New("DATABASE_URL is required: the direct connection to the database (port 5432)"))
	}
	if c.DBMaxConns < 2 {
		add(fmt.Errorf("VENDORHUB_DB_MAX_CONNS=%d: need at least 2", c.DBMaxConns))
	}
	if c.RiverWorkers < 1 {
		add(fmt.Errorf("VENDORHUB_RIVER_WORKERS=%d: need at least 1", c.RiverWorkers))
	}
	_, err := c.stagesOn()
	add(err)
	if c.DatabaseURL != "" {
		add(c.Replication.Validate())
	}
	add(c.HTTP.validate())
	add(c.Realtime.validate(c.Dev, c.SupabaseURL))
	add(c.Notify.validate())
	add(c.Webhooks.validate(c.Dev))
	add(c.CRM.validate())
	add(c.Health.validate(c.Dev))
	return errors.Join(errs...)
}

// stagesOn says which stages are on.
type stagesOn struct {
	Realtime, Notify, Webhooks, CRM, Health bool
}

// stagesOn resolves Stages.
func (c Config) stagesOn() (stagesOn, error) {
	names := c.Stages
	switch {
	case len(names) == 0:
		names = stageNames
	case len(names) == 1 && names[0] == StagesNone:
		names = nil
	}
	var on stagesOn
	for _, n := range names {
		switch n {
		case StageRealtime:
			on.Realtime = true
		case StageNotify:
			on.Notify = true
		case StageWebhooks:
			on.Webhooks = true
		case StageCRM:
			on.CRM = true
		case StageHealth:
			on.Health = true
		default:
			return stagesOn{}, fmt.Errorf("VENDORHUB_STAGES: unknown stage %q (known: %s, or %s)", n,
				strings.Join(stageNames, ", "), StagesNone)
		}
	}
	return on, nil
}

// names lists the stages that are on, in wiring order.
func (on stagesOn) names() []string {
	var out []string
	for i, b := range []bool{on.Realtime, on.Notify, on.Webhooks, on.CRM, on.Health} {
		if b {
			out = append(out, stageNames[i])
		}
	}
	return out
}

// FromEnv reads a Config from the environment through getenv (os.Getenv when nil), one
// variable of Vars at a time. Unset variables keep their zero value (WithDefaults fills
// them); malformed ones are an error naming the variable, all of them joined.
func FromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var c Config
	var errs []error
	for _, v := range Vars() {
		if v.set == nil {
			continue
		}
		if s := getenv(v.Name); s != "" {
			if err := v.set(&c, s); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", v.Name, s, err))
			}
		}
	}
	if v, err := strconv.ParseBool(getenv("VENDORHUB_TRUST_FORWARDED_FOR")); err == nil && v {
		errs = append(errs, errors.New("VENDORHUB_TRUST_FORWARDED_FOR was removed: set VENDORHUB_TRUSTED_PROXIES "+
			"to your proxies' CIDRs (X-Forwarded-For is believed only from them)"))
	}
	return c, errors.Join(errs...)
}
