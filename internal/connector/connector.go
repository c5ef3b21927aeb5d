// Package connector runs vendorhub's CRM and calendar connectors as River jobs: calendar syncs,
// watch-channel and subscription renewals, OAuth refreshes, CRM inbox processing and Light Blue
// enquiry pushes, plus the periodic scheduler that enqueues what is due and the hand-off Sink
// that turns committed events (webhook.received, vendor.status_changed) into jobs.
//
// Each provider has its own queue (integration_google, integration_graph, integration_ical,
// integration_lightblue, and integration_crm for inbox processing) and its own token bucket, so
// a provider that is slow, rate-limited or failing only delays its own jobs. A 429 or 5xx
// snoozes the job (the provider's Retry-After, else exponential back-off with jitter); a
// permanent failure (revoked grant, refused API key, inactive connection) cancels it. Every
// provider call has a timeout and the job's context.
//
// Each connection's provider calls (sync, channel renewal, token refresh, Light Blue push) run
// through the connection's circuit breaker (breaker.Connection) when Config.Breakers is
// set: outages (5xx, timeouts, transport errors; not rate limits or refused requests) count
// against it, and while it is open the job is snoozed until the breaker lets a probe through,
// without calling the provider. Other connections of the same provider are not affected.
package connector

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/crm"
	"github.com/wedsync/vendorhub/internal/crm/lightblue"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/secret"
)

// Queue names, one per provider.
const (
	QueueGoogle    = "integration_google"
	QueueGraph     = "integration_graph"
	QueueICal      = "integration_ical"
	QueueLightBlue = "integration_lightblue"
	QueueCRM       = "integration_crm"
)

// Queues lists every queue of the package.
var Queues = []string{QueueGoogle, QueueGraph, QueueICal, QueueLightBlue, QueueCRM}

// QueueOf is the queue of a connection kind's provider calls.
func QueueOf(k integration.Kind) string {
	switch k {
	case integration.GoogleCalendar:
		return QueueGoogle
	case integration.Outlook:
		return QueueGraph
	case integration.LightBlue:
		// Light Blue's feed is an iCalendar feed on Light Blue's servers; its pushes share
		// the Light Blue queue too.
		return QueueLightBlue
	case integration.ICal:
		return QueueICal
	default:
		return QueueCRM
	}
}

// Defaults of Config.
const (
	SyncIntervalDefault      = 15 * time.Minute
	FeedIntervalDefault      = 20 * time.Minute
	RenewBeforeDefault       = 24 * time.Hour
	ChannelTTLDefault        = 7 * 24 * time.Hour
	SubscriptionTTLDefault   = 6 * 24 * time.Hour
	ScheduleIntervalDefault  = time.Minute
	BackoffMaxDefault        = 10 * time.Minute
	SnoozeMinDefault         = time.Second
	ScheduleBatchDefault     = 500
	JobTimeoutDefault        = 2 * time.Minute
	QueueMaxWorkersDefault   = 4
	webhookSecretBytes       = 32
	webhookChannelIDMaxBytes = 64
)

// Config wires the connectors.
type Config struct {
	// Pool is the application database. Required.
	Pool *pgxpool.Pool
	// Keyring seals credentials. Required.
	Keyring *secret.Keyring
	// Syncer runs calendar syncs (its Sources serve google_calendar, outlook, ical, lightblue).
	Syncer *calendar.Syncer
	// Google is the Google Calendar source, for watch channels. Defaults to nil: no channels.
	Google *google.Source
	// Outlook is the Graph source, for subscriptions. Defaults to nil: no subscriptions.
	Outlook *outlook.Source
	// Tokens refreshes OAuth tokens. Defaults to nil: no periodic refresh.
	Tokens *oauth.Refresher
	// CRM applies CRM inbox rows. Required for HoneyBook and Dubsado.
	CRM *crm.Processor
	// LightBlue pushes enquiries. Defaults to nil: no pushes.
	LightBlue *lightblue.Client
	// Breakers guards each connection's provider calls with its circuit breaker
	// (breaker.Connection). Defaults to nil: no breakers.
	Breakers *breaker.Breakers
	// PublicURL is the sidecar's public base URL (https://…), for Google channel and Graph
	// subscription addresses: <PublicURL>/webhooks/google-calendar/<connection> and
	// <PublicURL>/webhooks/outlook/<connection>. Defaults to "": no channels or subscriptions
	// (calendars are then polled every SyncInterval).
	PublicURL string
	// SyncInterval is the longest time between two syncs of a Google or Outlook calendar
	// (push notifications sync sooner). Defaults to SyncIntervalDefault.
	SyncInterval time.Duration
	// FeedInterval is the time between two polls of an iCalendar feed. Defaults to
	// FeedIntervalDefault.
	FeedInterval time.Duration
	// RenewBefore renews channels and subscriptions expiring within it. Defaults to
	// RenewBeforeDefault (24 h).
	RenewBefore time.Duration
	// ChannelTTL is the lifetime asked for Google watch channels. Defaults to 7 days.
	ChannelTTL time.Duration
	// SubscriptionTTL is the lifetime asked for Graph subscriptions (Outlook events allow up
	// to 10,080 minutes). Defaults to 6 days.
	SubscriptionTTL time.Duration
	// BackoffMax caps the snooze after a 429 or 5xx without Retry-After. Defaults to 10 min.
	BackoffMax time.Duration
	// Logger receives failures. Defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.SyncInterval, SyncIntervalDefault)
	def(&c.FeedInterval, FeedIntervalDefault)
	def(&c.RenewBefore, RenewBeforeDefault)
	def(&c.ChannelTTL, ChannelTTLDefault)
	def(&c.SubscriptionTTL, SubscriptionTTLDefault)
	def(&c.BackoffMax, BackoffMaxDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Connectors holds the workers' shared dependencies.
type Connectors struct {
	cfg Config
}

// New returns the connectors of cfg.
func New(cfg Config) (*Connectors, error) {
	if cfg.Pool == nil || cfg.Keyring == nil {
		return nil, errors.New("connector: Pool and Keyring are required")
	}
	return &Connectors{cfg: cfg.withDefaults()}, nil
}

// AddWorkers registers every worker on workers.
func (c *Connectors) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &SyncWorker{c: c})
	river.AddWorker(workers, &RenewWorker{c: c})
	river.AddWorker(workers, &RefreshWorker{c: c})
	river.AddWorker(workers, &InboxWorker{c: c})
	river.AddWorker(workers, &PushWorker{c: c})
	river.AddWorker(workers, &ScheduleWorker{c: c})
}

// PeriodicJobs returns the scheduler's periodic job (every interval, and at start).
func PeriodicJobs(interval time.Duration) []*river.PeriodicJob {
	if interval <= 0 {
		interval = ScheduleIntervalDefault
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return ScheduleArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

// retry turns a provider failure into River's answer: snooze on retryable errors (429, 5xx,
// timeouts, local rate limit), cancel on permanent ones, else the error (River's retry policy).
func (c *Connectors) retry(job *rivertype.JobRow, err error) error {
	if err == nil {
		return nil
	}
	var pe *integration.ProviderError
	var open *breaker.OpenError
	switch {
	case errors.As(err, &open):
		// The connection's breaker is open: no call was made; come back when it lets a probe through.
		d := max(open.RetryAfter, SnoozeMinDefault)
		d += time.Duration(rand.Int64N(int64(d)/5 + 1)) // never before the probe is due; spread
		c.cfg.Logger.Info("connector: circuit breaker open, snoozing", "kind", job.Kind, "breaker", open.Breaker, "snooze", d.String())
		return river.JobSnooze(d)
	case errors.Is(err, oauth.ErrReauthRequired), errors.Is(err, calendar.ErrInactive), errors.Is(err, integration.ErrConnectionNotFound),
		errors.Is(err, lightblue.ErrBadAPIKey), errors.Is(err, secret.ErrNotFound):
		return river.JobCancel(err)
	case errors.As(err, &pe) && pe.Retryable:
		d := pe.RetryAfter
		if d <= 0 {
			d = backoff(job.Attempt, c.cfg.BackoffMax)
		}
		c.cfg.Logger.Warn("connector: provider busy or failing, snoozing", "kind", job.Kind, "provider", pe.Provider,
			"status", pe.Status, "snooze", d.String())
		return river.JobSnooze(d)
	case errors.As(err, &pe) && pe.Status >= 400 && pe.Status < 500 && pe.Status != http.StatusUnauthorized:
		return river.JobCancel(err)
	}
	return err
}

// backoff is 2^attempt seconds with ±20% jitter, capped.
func backoff(attempt int, maxD time.Duration) time.Duration {
	d := SnoozeMinDefault << min(max(attempt, 1), 20)
	if d > maxD {
		d = maxD
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// guard runs fn — provider calls of connection connID — through the connection's circuit
// breaker: outages (integration.IsOutage) count against it; while it is open fn is not called
// and the error is a *breaker.OpenError (retry snoozes the job).
func (c *Connectors) guard(connID string, fn func() error) error {
	if c.cfg.Breakers == nil {
		return fn()
	}
	return c.cfg.Breakers.DoIf(breaker.Connection(connID), fn, integration.IsOutage)
}

// insert adds jobs in tx with the client from the job's context.
func insert(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	_, err = client.InsertManyTx(ctx, tx, params)
	return err
}

// SyncInterval is the configured longest time between calendar syncs.
func (c *Connectors) SyncInterval() time.Duration { return c.cfg.SyncInterval }
