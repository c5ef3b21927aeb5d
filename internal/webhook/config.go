package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// Defaults of Config.
const (
	MaxBodyBytesDefault    = 256 << 10
	ToleranceDefault       = signature.ToleranceDefault
	ConnectionRateDefault  = 50
	ConnectionBurstDefault = 100
	IPRateDefault          = 100
	IPBurstDefault         = 200
	SecretTTLDefault       = 30 * time.Second
	BatchSizeDefault       = 256
	WritersDefault         = 4
	WriteTimeoutDefault    = 5 * time.Second
)

// Config configures the ingress.
type Config struct {
	// MaxBodyBytes is the largest body accepted; larger ones get 413. Defaults to
	// MaxBodyBytesDefault (256 KiB).
	MaxBodyBytes int64
	// Tolerance is how far a signed timestamp may be from now, past or future. Defaults to
	// ToleranceDefault (5 minutes).
	Tolerance time.Duration
	// ConnectionRate is the requests per second one connection may send, counted across every
	// sidecar instance (and locally, with ConnectionBurst). Negative disables the limit.
	// Defaults to ConnectionRateDefault (50).
	ConnectionRate float64
	// ConnectionBurst is the local token bucket size per connection. Defaults to
	// ConnectionBurstDefault (100).
	ConnectionBurst int
	// IPRate is the requests per second one source address may send (locally before anything
	// else; verified requests are also counted across instances). Negative disables the limit.
	// Defaults to IPRateDefault (100).
	IPRate float64
	// IPBurst is the local token bucket size per source address. Defaults to IPBurstDefault (200).
	IPBurst int
	// SecretTTL is how long a connection's resolved secret is cached. Defaults to
	// SecretTTLDefault (30 s).
	SecretTTL time.Duration
	// PublicURL is the base URL senders are configured with (e.g. https://hub.example.com);
	// Twilio signs the full URL, so behind a proxy it must be set. Defaults to "" (the URL is
	// rebuilt from the request's Host; https when it came over TLS here or at a trusted proxy).
	PublicURL string
	// SystemConnections are the hub's own accounts (no connection row): Resend and Twilio
	// status callbacks, addressed by name. Defaults to none.
	SystemConnections []SystemConnection
	// BatchSize is the most requests stored by one statement. Defaults to BatchSizeDefault (256).
	BatchSize int
	// Writers is the number of concurrent batch writers. Defaults to WritersDefault (4).
	Writers int
	// WriteTimeout bounds one batch write. Defaults to WriteTimeoutDefault (5 s).
	WriteTimeout time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger receives operational errors (never secrets or bodies). Defaults to slog.Default().
	Logger *slog.Logger
}

// SystemConnection is one of the hub's own sender accounts.
type SystemConnection struct {
	// Source is the URL source segment: SourceResend or SourceTwilio (or SourceStandard).
	Source Source
	// Name is the URL connection segment, e.g. "default". Not a UUID.
	Name string
	// Secret is the signing secret (whsec_… for Resend, the auth token for Twilio). Several
	// whitespace-separated secrets are all accepted (rotation).
	Secret string
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = MaxBodyBytesDefault
	}
	if c.Tolerance <= 0 {
		c.Tolerance = ToleranceDefault
	}
	if c.ConnectionRate == 0 {
		c.ConnectionRate = ConnectionRateDefault
	}
	if c.ConnectionBurst <= 0 {
		c.ConnectionBurst = ConnectionBurstDefault
	}
	if c.IPRate == 0 {
		c.IPRate = IPRateDefault
	}
	if c.IPBurst <= 0 {
		c.IPBurst = IPBurstDefault
	}
	if c.SecretTTL <= 0 {
		c.SecretTTL = SecretTTLDefault
	}
	if c.BatchSize <= 0 {
		c.BatchSize = BatchSizeDefault
	}
	if c.Writers <= 0 {
		c.Writers = WritersDefault
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = WriteTimeoutDefault
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("webhook: PublicURL %q must be an absolute http(s) URL", c.PublicURL))
		}
	}
	seen := map[string]bool{}
	for _, s := range c.SystemConnections {
		if _, ok := sources[s.Source]; !ok {
			errs = append(errs, fmt.Errorf("webhook: system connection %q: unknown source %q", s.Name, s.Source))
		}
		if s.Name == "" || isUUID(s.Name) {
			errs = append(errs, fmt.Errorf("webhook: system connection of %s: name must be set and not a UUID", s.Source))
		}
		if s.Secret == "" {
			errs = append(errs, fmt.Errorf("webhook: system connection %s/%s: no secret", s.Source, s.Name))
		}
		if seen[string(s.Source)+"/"+s.Name] {
			errs = append(errs, fmt.Errorf("webhook: system connection %s/%s configured twice", s.Source, s.Name))
		}
		seen[string(s.Source)+"/"+s.Name] = true
	}
	return errors.Join(errs...)
}
