package sidecar

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/crm/lightblue"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

// Var is one environment variable of the configuration.
type Var struct {
	// Name is the variable, e.g. "VENDORHUB_SLOT".
	Name string
	// Default is its default as README.md's table shows it ("" for none, or one that depends
	// on `dev`/`run`); it is the value WithDefaults applies, formatted.
	Default string
	// Computed marks a default worked out at start (host name, user cache dir, …): Default
	// then only describes it.
	Computed bool
	// ReadBy names who reads a variable that is not a Config field ("" for Config fields).
	ReadBy string

	set  func(c *Config, v string) error // parses v into c
	fill func(c *Config)                 // sets the default when the field is zero
}

// Vars returns every environment variable vendorhub reads, in README.md's order: the one
// table FromEnv parses, WithDefaults fills from and the README is checked against.
func Vars() []Var {
	return []Var{
		str("DATABASE_URL", "", func(c *Config) *string { return &c.DatabaseURL }),
		str("SUPABASE_URL", "", func(c *Config) *string { return &c.SupabaseURL }),
		str("SUPABASE_SERVICE_ROLE_KEY", "", func(c *Config) *string { return &c.ServiceRoleKey }),
		str("SUPABASE_JWT_SECRET", "", func(c *Config) *string { return &c.JWTSecret }),
		str("SUPABASE_JWKS", "", func(c *Config) *string { return &c.Realtime.JWKS }),
		str("VENDORHUB_HTTP_ADDR", HTTPAddrDefault, func(c *Config) *string { return &c.HTTPAddr }),
		str("VENDORHUB_INTERNAL_ADDR", "", func(c *Config) *string { return &c.HTTP.InternalAddr }),
		str("VENDORHUB_TRUSTED_PROXIES", "", func(c *Config) *string { return &c.HTTP.TrustedProxies }),
		duration("VENDORHUB_HTTP_READ_HEADER_TIMEOUT", edge.ReadHeaderTimeoutDefault, func(c *Config) *time.Duration { return &c.HTTP.ReadHeaderTimeout }),
		duration("VENDORHUB_HTTP_READ_TIMEOUT", edge.ReadTimeoutDefault, func(c *Config) *time.Duration { return &c.HTTP.ReadTimeout }),
		duration("VENDORHUB_HTTP_WRITE_TIMEOUT", edge.WriteTimeoutDefault, func(c *Config) *time.Duration { return &c.HTTP.WriteTimeout }),
		duration("VENDORHUB_HTTP_IDLE_TIMEOUT", edge.IdleTimeoutDefault, func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout }),
		integer("VENDORHUB_HTTP_MAX_HEADER_BYTES", edge.MaxHeaderBytesDefault, func(c *Config) *int { return &c.HTTP.MaxHeaderBytes }),
		computed(str("VENDORHUB_INSTANCE_ID", "", func(c *Config) *string { return &c.InstanceID }),
			"vendorhub-<hostname>-<pid>-<random>"),
		{Name: "VENDORHUB_STAGES", set: func(c *Config, v string) error {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					c.Stages = append(c.Stages, s)
				}
			}
			return nil
		}},
		integer("VENDORHUB_DB_MAX_CONNS", DBMaxConnsDefault, func(c *Config) *int { return &c.DBMaxConns }),
		integer("VENDORHUB_RIVER_WORKERS", RiverWorkersDefault, func(c *Config) *int { return &c.RiverWorkers }),
		duration("VENDORHUB_SHUTDOWN_TIMEOUT", ShutdownTimeoutDefault, func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
		str("VENDORHUB_SLOT", replication.SlotDefault, func(c *Config) *string { return &c.Replication.Slot }),
		str("VENDORHUB_PUBLICATION", replication.PublicationDefault, func(c *Config) *string { return &c.Replication.Publication }),
		duration("VENDORHUB_STATUS_INTERVAL", replication.StatusIntervalDefault, func(c *Config) *time.Duration { return &c.Replication.StatusInterval }),
		duration("VENDORHUB_RECEIVE_TIMEOUT", replication.ReceiveTimeoutDefault, func(c *Config) *time.Duration { return &c.Replication.ReceiveTimeout }),
		duration("VENDORHUB_HEARTBEAT_INTERVAL", replication.HeartbeatIntervalDefault, func(c *Config) *time.Duration { return &c.Replication.HeartbeatInterval }),
		duration("VENDORHUB_STANDBY_RETRY", replication.StandbyRetryDefault, func(c *Config) *time.Duration { return &c.Replication.StandbyRetry }),
		duration("VENDORHUB_RECONNECT_MAX", replication.ReconnectMaxDefault, func(c *Config) *time.Duration { return &c.Replication.ReconnectMax }),
		integer("VENDORHUB_QUEUE_SIZE", replication.QueueSizeDefault, func(c *Config) *int { return &c.Replication.QueueSize }),
		integer("VENDORHUB_QUEUE_BYTES", replication.QueueBytesDefault, func(c *Config) *int { return &c.Replication.QueueBytes }),
		integer("VENDORHUB_HANDOFF_MAX_TRANSACTIONS", replication.BatchMaxTransactionsDefault, func(c *Config) *int { return &c.Replication.BatchMaxTransactions }),
		integer("VENDORHUB_HANDOFF_MAX_EVENTS", replication.BatchMaxEventsDefault, func(c *Config) *int { return &c.Replication.BatchMaxEvents }),
		duration("VENDORHUB_HANDOFF_WAIT", 0, func(c *Config) *time.Duration { return &c.Replication.BatchWait }),
		boolean("VENDORHUB_HANDOFF_PROBE", func(c *Config) *bool { return &c.HandoffProbe }),
		{Name: "GOMEMLIMIT", Default: fmt.Sprintf("%dMiB", MemoryLimitDefault>>20), ReadBy: "the Go runtime (ApplyMemoryLimit sets the default)"},
		{Name: "VENDORHUB_DEV_DB_PORT", Default: strconv.Itoa(DevPortDefault), ReadBy: "vendorhub dev (its -db-port flag)"},

		// realtime
		str("VENDORHUB_GATEWAY", "", func(c *Config) *string { return &c.Realtime.Gateway }),
		str("VENDORHUB_REALTIME_TARGET", RealtimeTargetAuto, func(c *Config) *string { return &c.Realtime.Target }),
		integer("VENDORHUB_REALTIME_MAX_PAYLOAD_BYTES", realtime.MaxPayloadBytesDefault, func(c *Config) *int { return &c.Realtime.MaxPayloadBytes }),
		str("VENDORHUB_REALTIME_STORE", RealtimeStoreDefault, func(c *Config) *string { return &c.Realtime.Store }),
		integer("VENDORHUB_REALTIME_QUEUE_SIZE", realtime.QueueSizeDefault, func(c *Config) *int { return &c.Realtime.QueueSize }),
		integer("VENDORHUB_GATEWAY_MAX_CONNS_PER_IP", gateway.MaxConnsPerIPDefault, func(c *Config) *int { return &c.Realtime.MaxConnsPerIP }),
		integer("VENDORHUB_GATEWAY_MAX_CHANNELS", gateway.MaxChannelsPerConnDefault, func(c *Config) *int { return &c.Realtime.MaxChannelsPerConn }),
		integer("VENDORHUB_GATEWAY_SEND_QUEUE", gateway.SendQueueDefault, func(c *Config) *int { return &c.Realtime.SendQueue }),

		// webhooks
		str(secret.EnvKeys, "", func(c *Config) *string { return &c.Webhooks.EncryptionKeys }),
		computed(str("VENDORHUB_DEV_DATA_DIR", "", func(c *Config) *string { return &c.Webhooks.DevDataDir }),
			"<user cache dir>/vendorhub"),
		integer("VENDORHUB_WEBHOOK_MAX_BODY_BYTES", webhook.MaxBodyBytesDefault, func(c *Config) *int { return &c.Webhooks.MaxBodyBytes }),
		integer("VENDORHUB_WEBHOOK_CONNECTION_RATE", webhook.ConnectionRateDefault, func(c *Config) *int { return &c.Webhooks.ConnectionRate }),
		integer("VENDORHUB_WEBHOOK_CONNECTION_BURST", webhook.ConnectionBurstDefault, func(c *Config) *int { return &c.Webhooks.ConnectionBurst }),
		integer("VENDORHUB_WEBHOOK_IP_RATE", webhook.IPRateDefault, func(c *Config) *int { return &c.Webhooks.IPRate }),
		integer("VENDORHUB_WEBHOOK_IP_BURST", webhook.IPBurstDefault, func(c *Config) *int { return &c.Webhooks.IPBurst }),
		str("VENDORHUB_PUBLIC_URL", "", func(c *Config) *string { return &c.Webhooks.PublicURL }),
		str("RESEND_WEBHOOK_SECRET", "", func(c *Config) *string { return &c.Webhooks.ResendWebhookSecret }),
		str("TWILIO_AUTH_TOKEN", "", func(c *Config) *string { return &c.Notify.TwilioAuthToken }),

		// notify
		str("FCM_PROJECT_ID", "", func(c *Config) *string { return &c.Notify.FCMProjectID }),
		str("FCM_CREDENTIALS_FILE", "", func(c *Config) *string { return &c.Notify.FCMCredentialsFile }),
		str("VENDORHUB_FCM_ENDPOINT", "", func(c *Config) *string { return &c.Notify.FCMEndpoint }),
		str("RESEND_API_KEY", "", func(c *Config) *string { return &c.Notify.ResendAPIKey }),
		str("RESEND_FROM", ResendFromDefault, func(c *Config) *string { return &c.Notify.ResendFrom }),
		str("VENDORHUB_RESEND_BASE_URL", "", func(c *Config) *string { return &c.Notify.ResendBaseURL }),
		str("TWILIO_ACCOUNT_SID", "", func(c *Config) *string { return &c.Notify.TwilioAccountSID }),
		str("TWILIO_FROM", "", func(c *Config) *string { return &c.Notify.TwilioFrom }),
		str("VENDORHUB_TWILIO_BASE_URL", "", func(c *Config) *string { return &c.Notify.TwilioBaseURL }),
		duration("VENDORHUB_NOTIFY_WINDOW", notify.WindowDefault, func(c *Config) *time.Duration { return &c.Notify.Window }),
		duration("VENDORHUB_NOTIFY_INACTIVITY", notify.InactivityDefault, func(c *Config) *time.Duration { return &c.Notify.Inactivity }),
		duration("VENDORHUB_NOTIFY_MAX_WAIT", notify.MaxWaitDefault, func(c *Config) *time.Duration { return &c.Notify.MaxWait }),
		integer("VENDORHUB_NOTIFY_WORKERS", NotifyWorkersDefault, func(c *Config) *int { return &c.Notify.Workers }),
		integer("VENDORHUB_NOTIFY_MAX_ATTEMPTS", deliver.MaxAttemptsDefault, func(c *Config) *int { return &c.Notify.MaxAttempts }),
		duration("VENDORHUB_NOTIFY_RETRY_BASE", deliver.RetryBaseDefault, func(c *Config) *time.Duration { return &c.Notify.RetryBase }),
		integer("VENDORHUB_WEBHOOK_OUTBOUND_WORKERS", WebhookOutboundWorkersDefault, func(c *Config) *int { return &c.Webhooks.OutboundWorkers }),
		duration("VENDORHUB_WEBHOOK_OUTBOUND_TIMEOUT", outbound.TimeoutDefault, func(c *Config) *time.Duration { return &c.Webhooks.OutboundTimeout }),
		str("VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "", func(c *Config) *string { return &c.Webhooks.AllowPrivateNetworks }),

		// crm
		str("VENDORHUB_GOOGLE_CLIENT_ID", "", func(c *Config) *string { return &c.CRM.GoogleClientID }),
		str("VENDORHUB_GOOGLE_CLIENT_SECRET", "", func(c *Config) *string { return &c.CRM.GoogleClientSecret }),
		str("VENDORHUB_GOOGLE_TOKEN_URL", GoogleTokenURLDefault, func(c *Config) *string { return &c.CRM.GoogleTokenURL }),
		str("VENDORHUB_GOOGLE_CALENDAR_ENDPOINT", "", func(c *Config) *string { return &c.CRM.GoogleCalendarEndpoint }),
		str("VENDORHUB_MICROSOFT_CLIENT_ID", "", func(c *Config) *string { return &c.CRM.MicrosoftClientID }),
		str("VENDORHUB_MICROSOFT_CLIENT_SECRET", "", func(c *Config) *string { return &c.CRM.MicrosoftClientSecret }),
		str("VENDORHUB_MICROSOFT_TOKEN_URL", MicrosoftTokenURLDefault, func(c *Config) *string { return &c.CRM.MicrosoftTokenURL }),
		str("VENDORHUB_GRAPH_URL", outlook.BaseURLDefault, func(c *Config) *string { return &c.CRM.GraphURL }),
		str("VENDORHUB_LIGHTBLUE_API_URL", lightblue.URLDefault, func(c *Config) *string { return &c.CRM.LightBlueURL }),
		duration("VENDORHUB_CALENDAR_SYNC_INTERVAL", connector.SyncIntervalDefault, func(c *Config) *time.Duration { return &c.CRM.SyncInterval }),
		duration("VENDORHUB_FEED_POLL_INTERVAL", connector.FeedIntervalDefault, func(c *Config) *time.Duration { return &c.CRM.FeedInterval }),
		duration("VENDORHUB_CONNECTOR_SCHEDULE_INTERVAL", connector.ScheduleIntervalDefault, func(c *Config) *time.Duration { return &c.CRM.ScheduleInterval }),
		duration("VENDORHUB_GOOGLE_CHANNEL_TTL", connector.ChannelTTLDefault, func(c *Config) *time.Duration { return &c.CRM.ChannelTTL }),
		duration("VENDORHUB_GRAPH_SUBSCRIPTION_TTL", connector.SubscriptionTTLDefault, func(c *Config) *time.Duration { return &c.CRM.SubscriptionTTL }),
		integer("VENDORHUB_CONNECTOR_WORKERS", connector.QueueMaxWorkersDefault, func(c *Config) *int { return &c.CRM.Workers }),
		integer("VENDORHUB_GOOGLE_RATE", GoogleRateDefault, func(c *Config) *int { return &c.CRM.GoogleRate }),
		integer("VENDORHUB_GRAPH_RATE", GraphRateDefault, func(c *Config) *int { return &c.CRM.GraphRate }),
		integer("VENDORHUB_ICAL_RATE", ICalRateDefault, func(c *Config) *int { return &c.CRM.ICalRate }),
		integer("VENDORHUB_LIGHTBLUE_RATE", LightBlueRateDefault, func(c *Config) *int { return &c.CRM.LightBlueRate }),

		// health
		duration("VENDORHUB_HEALTH_POLL_INTERVAL", health.PollIntervalDefault, func(c *Config) *time.Duration { return &c.Health.PollInterval }),
		duration("VENDORHUB_HEALTH_SAMPLE_INTERVAL", health.SampleIntervalDefault, func(c *Config) *time.Duration { return &c.Health.SampleInterval }),
		duration("VENDORHUB_HEALTH_RETENTION", health.RetentionDefault, func(c *Config) *time.Duration { return &c.Health.Retention }),
		integer("VENDORHUB_SLOT_WARN_PERCENT", SlotWarnPercentDefault, func(c *Config) *int { return &c.Health.SlotWarnPercent }),
		integer("VENDORHUB_BREAKER_FAILURES", breaker.ConsecutiveFailuresDefault, func(c *Config) *int { return &c.Health.BreakerFailures }),
		duration("VENDORHUB_BREAKER_OPEN_TIMEOUT", breaker.OpenTimeoutDefault, func(c *Config) *time.Duration { return &c.Health.BreakerOpenTimeout }),
		duration("VENDORHUB_BREAKER_INTERVAL", breaker.IntervalDefault, func(c *Config) *time.Duration { return &c.Health.BreakerInterval }),
		str("VENDORHUB_ALERT_WEBHOOK_URL", "", func(c *Config) *string { return &c.Health.AlertWebhookURL }),
		str("VENDORHUB_ALERT_WEBHOOK_SECRET", "", func(c *Config) *string { return &c.Health.AlertWebhookSecret }),
		str("VENDORHUB_OPERATOR_TOKEN", "", func(c *Config) *string { return &c.Health.OperatorToken }),
		str("VENDORHUB_DASHBOARD", DashboardDefault, func(c *Config) *string { return &c.Health.Dashboard }),
		str("VENDORHUB_DEV_RPC", "", func(c *Config) *string { return &c.Health.DevRPC }),
		computed(str("VENDORHUB_SUPABASE_JS", "", func(c *Config) *string { return &c.Health.SupabaseJS }), SupabaseJSPath),
		{Name: "VENDORHUB_TEST_DATABASE_URL", ReadBy: "internal/pgtest (tests only)"},
	}
}

// field builds the Var of a Config field of type T.
func field[T comparable](name string, def T, ptr func(*Config) *T, parse func(string) (T, error), format func(T) string) Var {
	var zero T
	v := Var{Name: name,
		set: func(c *Config, s string) error {
			x, err := parse(s)
			if err != nil {
				return err
			}
			*ptr(c) = x
			return nil
		}}
	if def != zero {
		v.Default = format(def)
		v.fill = func(c *Config) {
			if p := ptr(c); *p == zero {
				*p = def
			}
		}
	}
	return v
}

func str(name, def string, ptr func(*Config) *string) Var {
	return field(name, def, ptr, func(s string) (string, error) { return s, nil }, func(s string) string { return s })
}

func integer(name string, def int, ptr func(*Config) *int) Var {
	return field(name, def, ptr, func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("want an integer")
		}
		return n, nil
	}, strconv.Itoa)
}

// duration accepts 0 (for most variables: the default; for VENDORHUB_HANDOFF_WAIT, its
// documented value) and refuses a negative duration.
func duration(name string, def time.Duration, ptr func(*Config) *time.Duration) Var {
	v := field(name, def, ptr, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("want a duration such as 10s or 500ms")
		}
		return d, nil
	}, formatDuration)
	if def == 0 {
		v.Default = "0"
	}
	return v
}

func boolean(name string, ptr func(*Config) *bool) Var {
	v := field(name, false, ptr, func(s string) (bool, error) {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return false, fmt.Errorf("want true or false")
		}
		return b, nil
	}, strconv.FormatBool)
	v.Default = "false"
	return v
}

func computed(v Var, shown string) Var {
	v.Default, v.Computed = shown, true
	return v
}

// formatDuration writes d the way the README does: 15s, 2m, 168h.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}
