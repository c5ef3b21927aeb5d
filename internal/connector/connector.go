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
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/ical"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/crm"
	"github.com/wedsync/vendorhub/internal/crm/lightblue"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/provider"
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

// retry turns a provider failure into River's answer (provider.Policy.Decide): cancel on
// permanent failures (and on a revoked grant, an inactive or missing connection, a refused
// API key); snooze while the connection's breaker is open, on rate limits and on outages —
// for the provider's Retry-After, else provider.Backoff — so a provider's trouble never
// uses up a job's attempts; any other error is River's retry.
func (c *Connectors) retry(job *rivertype.JobRow, err error) error {
	if open, ok := errors.AsType[*breaker.OpenError](err); ok {
		// No call was made; come back when the breaker lets a probe through.
		err = provider.BreakerOpen(open.Breaker, breaker.CodeCircuitOpen, open.RetryAfter, err)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oauth.ErrReauthRequired), errors.Is(err, calendar.ErrInactive), errors.Is(err, integration.ErrConnectionNotFound),
		errors.Is(err, lightblue.ErrBadAPIKey), errors.Is(err, secret.ErrNotFound), errors.Is(err, ical.ErrNoFeedURL):
		return river.JobCancel(err)
	case errors.Is(err, netguard.ErrBlocked), errors.As(err, new(*ical.LimitError)), errors.As(err, new(*ical.ParseError)):
		// A refused address or a hostile or broken feed: retrying now changes nothing (the run
		// is recorded; the scheduler comes back at the next round).
		c.cfg.Logger.Warn("connector: refused", "kind", job.Kind, "error", netguard.RedactError(err))
		return river.JobCancel(err)
	}
	pe, ok := provider.As(err)
	if !ok {
		return err
	}
	if pe.Class() == provider.Permanent && (pe.Status < 400 || pe.Status >= 500 || pe.Status == http.StatusUnauthorized) {
		// Not a refusal: a stale token (401, refreshed before the retry) or a malformed
		// answer. River's retry, bounded by the job's attempts.
		return err
	}
	d := c.policy().Decide(err, job.Attempt)
	if d.Action == provider.Snooze {
		c.cfg.Logger.Warn("connector: provider busy, failing or breaker open; snoozing", "kind", job.Kind, "provider", pe.Provider,
			"status", pe.Status, "class", pe.Class().String(), "snooze", d.Wait.String())
	}
	return d.JobResult(err)
}

// policy is the connectors' retry policy: transient failures snooze with back-off.
func (c *Connectors) policy() provider.Policy {
	return provider.Policy{SnoozeTransient: true, BackoffBase: 2 * SnoozeMinDefault, BackoffMax: c.cfg.BackoffMax}
}

// guard runs fn — provider calls of connection connID — through the connection's circuit
// breaker: outages (provider.IsOutage) count against it; while it is open fn is not called
// and the error is a *breaker.OpenError (retry snoozes the job).
func (c *Connectors) guard(connID string, fn func() error) error {
	if c.cfg.Breakers == nil {
		return fn()
	}
	return c.cfg.Breakers.DoIf(breaker.Connection(connID), fn, provider.IsOutage)
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
