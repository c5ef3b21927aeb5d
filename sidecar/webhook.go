package sidecar

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

// Defaults of WebhooksConfig.
const (
	WebhookOutboundWorkersDefault = 10
)

// WebhooksConfig configures the webhooks stage: the ingress at /webhooks/<source>/<connection>,
// outbound webhooks (River queue "webhooks") and the credential keyring every stage shares.
// The hub's own Twilio callbacks are verified with NotifyConfig.TwilioAuthToken.
type WebhooksConfig struct {
	// EncryptionKeys is the keyring, "kid2:base64(32 bytes),kid1:base64(32 bytes)": the first
	// key encrypts, the others only decrypt. VENDORHUB_ENCRYPTION_KEYS. Required with `run`;
	// with `dev` it defaults to a generated key kept in DevDataDir.
	EncryptionKeys string
	// DevDataDir keeps `dev`'s generated encryption key. VENDORHUB_DEV_DATA_DIR. Defaults to
	// <user cache dir>/vendorhub.
	DevDataDir string
	// MaxBodyBytes is the largest inbound webhook body (413 beyond).
	// VENDORHUB_WEBHOOK_MAX_BODY_BYTES. Defaults to webhook.MaxBodyBytesDefault.
	MaxBodyBytes int
	// ConnectionRate is the inbound requests per second per connection, across every
	// instance (-1: no limit). VENDORHUB_WEBHOOK_CONNECTION_RATE.
	// Defaults to webhook.ConnectionRateDefault.
	ConnectionRate int
	// ConnectionBurst is the local burst per connection. VENDORHUB_WEBHOOK_CONNECTION_BURST.
	// Defaults to webhook.ConnectionBurstDefault.
	ConnectionBurst int
	// IPRate is the inbound requests per second per source address (-1: no limit).
	// VENDORHUB_WEBHOOK_IP_RATE. Defaults to webhook.IPRateDefault.
	IPRate int
	// IPBurst is the local burst per source address. VENDORHUB_WEBHOOK_IP_BURST.
	// Defaults to webhook.IPBurstDefault.
	IPBurst int
	// PublicURL is the base URL webhook senders are configured with (Twilio signs the full
	// URL). VENDORHUB_PUBLIC_URL. Defaults to "" (rebuilt from each request's Host).
	PublicURL string
	// ResendWebhookSecret verifies the hub's own Resend account's events at
	// /webhooks/resend/default. RESEND_WEBHOOK_SECRET. Defaults to "" (route absent).
	ResendWebhookSecret string
	// OutboundWorkers is the number of concurrent outbound deliveries of this process.
	// VENDORHUB_WEBHOOK_OUTBOUND_WORKERS. Defaults to WebhookOutboundWorkersDefault.
	OutboundWorkers int
	// OutboundTimeout bounds one outbound attempt. VENDORHUB_WEBHOOK_OUTBOUND_TIMEOUT.
	// Defaults to outbound.TimeoutDefault.
	OutboundTimeout time.Duration
	// AllowPrivateNetworks lets every guarded HTTP client (internal/netguard: outbound
	// endpoints and Zapier catch hooks, iCalendar and Light Blue feeds, the Light Blue API,
	// the alert webhook) reach loopback/private addresses: "on", "off", or "" for on with
	// `dev` and off with `run` (SSRF protection).
	// VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS. Defaults to "".
	AllowPrivateNetworks string
}

// validate reports every out-of-range field of a defaulted WebhooksConfig.
func (c WebhooksConfig) validate(dev bool) error {
	var errs []error
	if c.MaxBodyBytes < 1 {
		errs = append(errs, fmt.Errorf("VENDORHUB_WEBHOOK_MAX_BODY_BYTES=%d: want a positive number", c.MaxBodyBytes))
	}
	for _, f := range []struct {
		v    int
		name string
	}{{c.ConnectionRate, "VENDORHUB_WEBHOOK_CONNECTION_RATE"}, {c.IPRate, "VENDORHUB_WEBHOOK_IP_RATE"}} {
		if f.v < -1 {
			errs = append(errs, fmt.Errorf("%s=%d: want a positive number, or -1 for no limit", f.name, f.v))
		}
	}
	if c.OutboundWorkers < 1 {
		errs = append(errs, fmt.Errorf("VENDORHUB_WEBHOOK_OUTBOUND_WORKERS=%d: need at least 1", c.OutboundWorkers))
	}
	if _, err := c.allowPrivate(dev); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c WebhooksConfig) allowPrivate(dev bool) (bool, error) {
	switch strings.ToLower(c.AllowPrivateNetworks) {
	case "":
		return dev, nil
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS=%q: want on or off", c.AllowPrivateNetworks)
}

// newKeyring returns the process's credential keyring (VENDORHUB_ENCRYPTION_KEYS; with `dev`
// and no keys, a generated dev key), when a stage that is on reads or writes
// vendorhub.integration_credentials; nil otherwise.
func (s *Sidecar) newKeyring(on stagesOn) (*secret.Keyring, error) {
	if !on.Webhooks && !on.CRM && !on.Health {
		return nil, nil
	}
	wc := s.cfg.Webhooks
	devDir := ""
	if s.cfg.Dev {
		devDir = wc.DevDataDir
		if devDir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				base = os.TempDir()
			}
			devDir = filepath.Join(base, "vendorhub")
		}
	}
	return secret.FromEnv(wc.EncryptionKeys, devDir, s.log)
}

// registerCollectors registers cs on the default registry, tolerating a second registration
// (several stages share audit's collectors).
func registerCollectors(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := prometheus.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// webhooksStage is what the webhooks stage hands the hand-off and the crm stage.
type webhooksStage struct {
	outbound handoff.Sink       // vendors' outbound webhooks → delivery jobs
	dubsado  connector.Outbound // the same deliveries with connector-made bodies (Dubsado)
}

// newWebhooks builds the webhooks stage: the ingress, the outbound sink and worker (each
// endpoint or connection behind its circuit breaker), the endpoint secret API.
func (s *Sidecar) newWebhooks(workers *river.Workers, keyring *secret.Keyring, breakers *breaker.Breakers) (webhooksStage, error) {
	wc := s.cfg.Webhooks
	allowPrivate, _ := wc.allowPrivate(s.cfg.Dev) // validated by Config.Validate
	if err := registerCollectors(append(append(webhook.Collectors(), outbound.Collectors()...), audit.Collectors()...)...); err != nil {
		return webhooksStage{}, err
	}
	auditLog := audit.NewBuffer(s.pool, audit.BufferConfig{Logger: s.log})
	s.onClose(auditLog.Close)

	// Ingress.
	var system []webhook.SystemConnection
	if wc.ResendWebhookSecret != "" {
		system = append(system, webhook.SystemConnection{Source: webhook.SourceResend, Name: "default", Secret: wc.ResendWebhookSecret})
	}
	if token := s.cfg.Notify.TwilioAuthToken; token != "" {
		system = append(system, webhook.SystemConnection{Source: webhook.SourceTwilio, Name: "default", Secret: token})
	}
	ingress, err := webhook.New(s.pool, keyring, auditLog, webhook.Config{
		MaxBodyBytes:      int64(wc.MaxBodyBytes),
		ConnectionRate:    float64(wc.ConnectionRate),
		ConnectionBurst:   wc.ConnectionBurst,
		IPRate:            float64(wc.IPRate),
		IPBurst:           wc.IPBurst,
		PublicURL:         wc.PublicURL,
		SystemConnections: system,
		Logger:            s.log,
	})
	if err != nil {
		return webhooksStage{}, err
	}
	s.onClose(ingress.Close)
	s.mux.Handle(webhook.Pattern, ingress)

	// Outbound.
	ocfg := outbound.Config{Timeout: wc.OutboundTimeout, AllowPrivateNetworks: allowPrivate, Breakers: breakers, Logger: s.log}
	sink := outbound.NewSink(s.river, ocfg)
	river.AddWorker(workers, outbound.NewWorker(s.pool, keyring, ocfg))
	if v, err := s.cfg.Verifier(); err == nil {
		s.mux.Handle(outbound.SecretPattern, &outbound.SecretHandler{Pool: s.pool, Keyring: keyring, Verifier: v, Config: ocfg})
	} else {
		s.log.Info("webhooks: endpoint secret API off (needs SUPABASE_JWT_SECRET or SUPABASE_JWKS)")
	}

	// The keyring's key ids are registered (and checked against their material) at start: an
	// instance configured with a retired or mismatched key refuses to run.
	s.goRun("keyring", func(ctx context.Context) error {
		if err := keyring.Register(ctx, s.pool); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	})
	s.log.Info("webhooks: ingress on /webhooks/{source}/{connection}", "sources", webhook.Sources,
		"system_connections", len(system), "keyring", keyring, "allow_private_networks", allowPrivate)
	return webhooksStage{outbound: sink, dubsado: dubsadoFeed{sink}}, nil
}

// dubsadoFeed hands the connectors' Dubsado deliveries to the outbound sink.
type dubsadoFeed struct{ out *outbound.Sink }

func (f dubsadoFeed) Enqueue(ctx context.Context, tx pgx.Tx, ds []connector.Delivery) (int, error) {
	msgs := make([]outbound.Message, len(ds))
	for i, d := range ds {
		msgs[i] = outbound.Message{EndpointID: d.EndpointID, Event: d.Event, Body: d.Body}
	}
	return f.out.Enqueue(ctx, tx, msgs)
}
