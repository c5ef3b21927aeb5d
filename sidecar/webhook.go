package sidecar

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

func init() { RegisterStage("webhooks", wireWebhooks) }

// Defaults of WebhooksConfig.
const (
	WebhookOutboundWorkersDefault = 10
)

// WebhooksConfig configures the webhooks stage: the ingress at /webhooks/<source>/<connection>,
// outbound webhooks (River queue "webhooks") and the credential keyring every stage shares
// (Sidecar.Keyring).
type WebhooksConfig struct {
	// EncryptionKeys is the keyring, "kid2:base64(32 bytes),kid1:base64(32 bytes)": the first
	// key encrypts, the others only decrypt. VENDORHUB_ENCRYPTION_KEYS. Required with `run`;
	// with `dev` it defaults to a generated key kept in DevDataDir.
	EncryptionKeys string
	// DevDataDir keeps `dev`'s generated encryption key. VENDORHUB_DEV_DATA_DIR. Defaults to
	// <user cache dir>/vendorhub.
	DevDataDir string
	// MaxBodyBytes is the largest inbound webhook body (413 beyond).
	// VENDORHUB_WEBHOOK_MAX_BODY_BYTES. Defaults to 262144.
	MaxBodyBytes int
	// ConnectionRate is the inbound requests per second per connection, across every
	// instance (-1: no limit). VENDORHUB_WEBHOOK_CONNECTION_RATE. Defaults to 50.
	ConnectionRate int
	// ConnectionBurst is the local burst per connection. VENDORHUB_WEBHOOK_CONNECTION_BURST.
	// Defaults to 100.
	ConnectionBurst int
	// IPRate is the inbound requests per second per source address (-1: no limit).
	// VENDORHUB_WEBHOOK_IP_RATE. Defaults to 100.
	IPRate int
	// IPBurst is the local burst per source address. VENDORHUB_WEBHOOK_IP_BURST. Defaults to 200.
	IPBurst int
	// PublicURL is the base URL webhook senders are configured with (Twilio signs the full
	// URL). VENDORHUB_PUBLIC_URL. Defaults to "" (rebuilt from each request's Host).
	PublicURL string
	// ResendWebhookSecret verifies the hub's own Resend account's events at
	// /webhooks/resend/default. RESEND_WEBHOOK_SECRET. Defaults to "" (route absent).
	ResendWebhookSecret string
	// TwilioAuthToken verifies the hub's own Twilio callbacks at /webhooks/twilio/default.
	// TWILIO_AUTH_TOKEN. Defaults to "" (route absent).
	TwilioAuthToken string
	// OutboundWorkers is the number of concurrent outbound deliveries of this process.
	// VENDORHUB_WEBHOOK_OUTBOUND_WORKERS. Defaults to 10.
	OutboundWorkers int
	// OutboundTimeout bounds one outbound attempt. VENDORHUB_WEBHOOK_OUTBOUND_TIMEOUT.
	// Defaults to 15s.
	OutboundTimeout time.Duration
	// AllowPrivateNetworks lets every guarded HTTP client (internal/netguard: outbound
	// endpoints and Zapier catch hooks, iCalendar and Light Blue feeds, the Light Blue API,
	// the alert webhook) reach loopback/private addresses: "on", "off", or "" for on with
	// `dev` and off with `run` (SSRF protection).
	// VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS. Defaults to "".
	AllowPrivateNetworks string
}

func (c *WebhooksConfig) fromEnv(e *env) {
	e.str(&c.EncryptionKeys, secret.EnvKeys)
	e.str(&c.DevDataDir, "VENDORHUB_DEV_DATA_DIR")
	e.int(&c.MaxBodyBytes, "VENDORHUB_WEBHOOK_MAX_BODY_BYTES")
	e.int(&c.ConnectionRate, "VENDORHUB_WEBHOOK_CONNECTION_RATE")
	e.int(&c.ConnectionBurst, "VENDORHUB_WEBHOOK_CONNECTION_BURST")
	e.int(&c.IPRate, "VENDORHUB_WEBHOOK_IP_RATE")
	e.int(&c.IPBurst, "VENDORHUB_WEBHOOK_IP_BURST")
	e.str(&c.PublicURL, "VENDORHUB_PUBLIC_URL")
	e.str(&c.ResendWebhookSecret, "RESEND_WEBHOOK_SECRET")
	e.str(&c.TwilioAuthToken, "TWILIO_AUTH_TOKEN")
	e.int(&c.OutboundWorkers, "VENDORHUB_WEBHOOK_OUTBOUND_WORKERS")
	e.dur(&c.OutboundTimeout, "VENDORHUB_WEBHOOK_OUTBOUND_TIMEOUT")
	e.str(&c.AllowPrivateNetworks, "VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS")
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

var keyrings sync.Map // *Sidecar → *keyringOnce

type keyringOnce struct {
	once sync.Once
	k    *secret.Keyring
	err  error
}

// Keyring returns the process's credential keyring (VENDORHUB_ENCRYPTION_KEYS; with `dev` and
// no keys, a generated dev key), built once. Every stage that reads or writes
// vendorhub.integration_credentials uses it.
func (s *Sidecar) Keyring() (*secret.Keyring, error) {
	v, _ := keyrings.LoadOrStore(s, &keyringOnce{})
	ko := v.(*keyringOnce)
	ko.once.Do(func() {
		wc := s.Config.Webhooks
		devDir := ""
		if s.Config.Dev {
			devDir = wc.DevDataDir
			if devDir == "" {
				base, err := os.UserCacheDir()
				if err != nil {
					base = os.TempDir()
				}
				devDir = filepath.Join(base, "vendorhub")
			}
		}
		ko.k, ko.err = secret.FromEnv(wc.EncryptionKeys, devDir, s.Logger)
		if ko.err == nil {
			s.OnClose(func() { keyrings.Delete(s) })
		}
	})
	return ko.k, ko.err
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

// riverInserter defers to the sidecar's River client, which exists only after wiring.
type riverInserter struct{ s *Sidecar }

func (r riverInserter) InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return r.s.River().InsertManyTx(ctx, tx, params)
}

func wireWebhooks(_ context.Context, s *Sidecar) error {
	wc := s.Config.Webhooks
	keyring, err := s.Keyring()
	if err != nil {
		return err
	}
	allowPrivate, err := s.allowPrivateNetworks()
	if err != nil {
		return err
	}
	breakers, err := s.Breakers()
	if err != nil {
		return err
	}
	if err := registerCollectors(append(append(webhook.Collectors(), outbound.Collectors()...), audit.Collectors()...)...); err != nil {
		return err
	}
	auditLog := audit.NewBuffer(s.Pool, audit.BufferConfig{Logger: s.Logger})

	// Ingress.
	var system []webhook.SystemConnection
	if wc.ResendWebhookSecret != "" {
		system = append(system, webhook.SystemConnection{Source: webhook.SourceResend, Name: "default", Secret: wc.ResendWebhookSecret})
	}
	if wc.TwilioAuthToken != "" {
		system = append(system, webhook.SystemConnection{Source: webhook.SourceTwilio, Name: "default", Secret: wc.TwilioAuthToken})
	}
	ingress, err := webhook.New(s.Pool, keyring, auditLog, webhook.Config{
		MaxBodyBytes:      int64(wc.MaxBodyBytes),
		ConnectionRate:    float64(wc.ConnectionRate),
		ConnectionBurst:   wc.ConnectionBurst,
		IPRate:            float64(wc.IPRate),
		IPBurst:           wc.IPBurst,
		PublicURL:         wc.PublicURL,
		SystemConnections: system,
		Logger:            s.Logger,
	})
	if err != nil {
		auditLog.Close()
		return err
	}
	s.Mux.Handle(webhook.Pattern, ingress)

	// Outbound, each endpoint (or its connection) behind its circuit breaker.
	ocfg := outbound.Config{Timeout: wc.OutboundTimeout, AllowPrivateNetworks: allowPrivate, Breakers: breakers, Logger: s.Logger}
	s.Sinks = append(s.Sinks, outbound.NewSink(riverInserter{s}, ocfg))
	river.AddWorker(s.Workers, outbound.NewWorker(s.Pool, keyring, ocfg))
	workers := wc.OutboundWorkers
	if workers <= 0 {
		workers = WebhookOutboundWorkersDefault
	}
	s.AddQueue(outbound.QueueDefault, workers)
	if v, err := s.Config.Verifier(); err == nil {
		s.Mux.Handle(outbound.SecretPattern, &outbound.SecretHandler{Pool: s.Pool, Keyring: keyring, Verifier: v, Config: ocfg})
	} else {
		s.Logger.Info("webhooks: endpoint secret API off (needs SUPABASE_JWT_SECRET or SUPABASE_JWKS)")
	}

	// The keyring's key ids are registered (and checked against their material) at start: an
	// instance configured with a retired or mismatched key refuses to run.
	s.Go("webhooks", func(ctx context.Context) error {
		if err := keyring.Register(ctx, s.Pool); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	})
	s.OnClose(func() {
		ingress.Close()
		auditLog.Close()
	})
	s.Logger.Info("webhooks: ingress on /webhooks/{source}/{connection}", "sources", webhook.Sources,
		"system_connections", len(system), "keyring", keyring, "allow_private_networks", allowPrivate)
	return nil
}
