package outbound

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/netguard"
)

// Kind is the River job kind of a delivery attempt.
const Kind = "webhook_delivery"

// QueueDefault is the River queue delivery jobs run on.
const QueueDefault = "webhooks"

// ScheduleDefault is Svix's retry schedule: the wait after each failed attempt. With the first
// (immediate) attempt, a delivery gets len(ScheduleDefault)+1 = 8 attempts over about 27.6 hours.
var ScheduleDefault = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Defaults of Config.
const (
	TimeoutDefault         = 15 * time.Second
	DisableAfterDefault    = 5 * 24 * time.Hour
	RotationOverlapDefault = 24 * time.Hour
	// MaxResponseBytes caps how much of an endpoint's answer is read (and drained).
	MaxResponseBytes = 1 << 20
	userAgent        = "vendorhub-webhooks/1"
)

// Config configures the Sink and the Worker.
type Config struct {
	// Queue is the River queue of delivery jobs. Defaults to QueueDefault ("webhooks").
	Queue string
	// Schedule is the wait after each failed attempt; its length + 1 is the number of
	// attempts. Defaults to ScheduleDefault (Svix: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
	Schedule []time.Duration
	// Timeout bounds one HTTP attempt. Defaults to TimeoutDefault (15 s).
	Timeout time.Duration
	// DisableAfter disables an endpoint whose deliveries have failed, without a success, for
	// this long. Defaults to DisableAfterDefault (5 days).
	DisableAfter time.Duration
	// RotationOverlap is how long the previous secret keeps signing after RollSecret.
	// Defaults to RotationOverlapDefault (24 h).
	RotationOverlap time.Duration
	// AllowPrivateNetworks lets endpoints resolve to loopback, private and link-local
	// addresses (dev and tests). Defaults to false: such endpoints fail (SSRF protection).
	AllowPrivateNetworks bool
	// HTTPClient sends the requests. Defaults to the guarded client (netguard) with Timeout,
	// no redirects (a 3xx is a failed attempt), MaxResponseBytes and, unless
	// AllowPrivateNetworks, the private-address check.
	HTTPClient *http.Client
	// Breakers guards each endpoint's attempts with a circuit breaker: the breaker of the
	// endpoint's integration connection (breaker.Connection) when it has one, else the
	// endpoint's own (breaker.Endpoint). Transport errors, timeouts, 408 and 5xx count
	// against it; while it is open, delivery jobs snooze without an attempt. Defaults to nil:
	// no breakers.
	Breakers *breaker.Breakers
	// Now is the clock for signatures, retries and disabling. Defaults to time.Now.
	Now func() time.Time
	// Logger receives operational errors. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Queue == "" {
		c.Queue = QueueDefault
	}
	if len(c.Schedule) == 0 {
		c.Schedule = ScheduleDefault
	}
	if c.Timeout <= 0 {
		c.Timeout = TimeoutDefault
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = DisableAfterDefault
	}
	if c.RotationOverlap <= 0 {
		c.RotationOverlap = RotationOverlapDefault
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = netguard.New(netguard.Options{AllowPrivate: c.AllowPrivateNetworks, Timeout: c.Timeout,
			MaxBodyBytes: MaxResponseBytes})
	}
	return c
}

// MaxAttempts is the number of attempts a delivery gets.
func (c Config) MaxAttempts() int { return len(c.Schedule) + 1 }

// NextDelay is the wait after failed attempt number attempt (1-based).
func (c Config) NextDelay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > len(c.Schedule) {
		return c.Schedule[len(c.Schedule)-1]
	}
	return c.Schedule[attempt-1]
}
