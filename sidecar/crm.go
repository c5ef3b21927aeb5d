package sidecar

import (
	"context"
	"slices"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/ical"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/crm"
	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/crm/honeybook"
	"github.com/wedsync/vendorhub/internal/crm/lightblue"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

func init() { RegisterStage("crm", wireCRM) }

// Defaults of CRMConfig.
const (
	GoogleTokenURLDefault    = "https://oauth2.googleapis.com/token"
	MicrosoftTokenURLDefault = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
	ConnectorWorkersDefault  = 4
	GoogleRateDefault        = 10
	GraphRateDefault         = 10
	ICalRateDefault          = 5
	LightBlueRateDefault     = 2
)

// CRMConfig configures the crm stage: CRM and calendar connectors (HoneyBook and Dubsado via
// Zapier, Light Blue, Google Calendar, Outlook, iCalendar feeds), OAuth refresh and the
// availability conflicts they feed. Public URL and keyring are the webhooks stage's
// (VENDORHUB_PUBLIC_URL, VENDORHUB_ENCRYPTION_KEYS).
type CRMConfig struct {
	// GoogleClientID and GoogleClientSecret are the OAuth client of Google Calendar
	// connections. VENDORHUB_GOOGLE_CLIENT_ID, VENDORHUB_GOOGLE_CLIENT_SECRET. Default to ""
	// (Google tokens are not refreshed).
	GoogleClientID, GoogleClientSecret string
	// GoogleTokenURL is Google's token endpoint. VENDORHUB_GOOGLE_TOKEN_URL. Defaults to
	// "https://oauth2.googleapis.com/token".
	GoogleTokenURL string
	// GoogleCalendarEndpoint is the Calendar API base URL. VENDORHUB_GOOGLE_CALENDAR_ENDPOINT.
	// Defaults to "" (the SDK's, https://www.googleapis.com/calendar/v3/).
	GoogleCalendarEndpoint string
	// MicrosoftClientID and MicrosoftClientSecret are the Entra app of Outlook connections.
	// VENDORHUB_MICROSOFT_CLIENT_ID, VENDORHUB_MICROSOFT_CLIENT_SECRET. Default to "".
	MicrosoftClientID, MicrosoftClientSecret string
	// MicrosoftTokenURL is the Microsoft identity token endpoint. VENDORHUB_MICROSOFT_TOKEN_URL.
	// Defaults to "https://login.microsoftonline.com/common/oauth2/v2.0/token".
	MicrosoftTokenURL string
	// GraphURL is Microsoft Graph's service root. VENDORHUB_GRAPH_URL. Defaults to
	// "https://graph.microsoft.com/v1.0".
	GraphURL string
	// LightBlueURL is Light Blue's enquiry API. VENDORHUB_LIGHTBLUE_API_URL. Defaults to
	// "https://online.lightbluesoftware.com/api.php".
	LightBlueURL string
	// SyncInterval is the longest time between two syncs of a Google or Outlook calendar.
	// VENDORHUB_CALENDAR_SYNC_INTERVAL. Defaults to 15m.
	SyncInterval time.Duration
	// FeedInterval is the time between two polls of an iCalendar feed (Light Blue, ical).
	// VENDORHUB_FEED_POLL_INTERVAL. Defaults to 20m.
	FeedInterval time.Duration
	// ScheduleInterval is how often the scheduler looks for due syncs, renewals and refreshes.
	// VENDORHUB_CONNECTOR_SCHEDULE_INTERVAL. Defaults to 1m.
	ScheduleInterval time.Duration
	// ChannelTTL is the lifetime asked for Google watch channels. VENDORHUB_GOOGLE_CHANNEL_TTL.
	// Defaults to 168h.
	ChannelTTL time.Duration
	// SubscriptionTTL is the lifetime asked for Graph subscriptions (at most 10,080 minutes
	// for Outlook events). VENDORHUB_GRAPH_SUBSCRIPTION_TTL. Defaults to 144h.
	SubscriptionTTL time.Duration
	// Workers is the number of workers of each connector queue (one queue per provider).
	// VENDORHUB_CONNECTOR_WORKERS. Defaults to 4.
	Workers int
	// GoogleRate, GraphRate, ICalRate and LightBlueRate are each provider's request rate
	// (per second, per process). VENDORHUB_GOOGLE_RATE, VENDORHUB_GRAPH_RATE,
	// VENDORHUB_ICAL_RATE, VENDORHUB_LIGHTBLUE_RATE. Default to 10, 10, 5 and 2.
	GoogleRate, GraphRate, ICalRate, LightBlueRate int
}

func (c *CRMConfig) fromEnv(e *env) {
	e.str(&c.GoogleClientID, "VENDORHUB_GOOGLE_CLIENT_ID")
	e.str(&c.GoogleClientSecret, "VENDORHUB_GOOGLE_CLIENT_SECRET")
	e.str(&c.GoogleTokenURL, "VENDORHUB_GOOGLE_TOKEN_URL")
	e.str(&c.GoogleCalendarEndpoint, "VENDORHUB_GOOGLE_CALENDAR_ENDPOINT")
	e.str(&c.MicrosoftClientID, "VENDORHUB_MICROSOFT_CLIENT_ID")
	e.str(&c.MicrosoftClientSecret, "VENDORHUB_MICROSOFT_CLIENT_SECRET")
	e.str(&c.MicrosoftTokenURL, "VENDORHUB_MICROSOFT_TOKEN_URL")
	e.str(&c.GraphURL, "VENDORHUB_GRAPH_URL")
	e.str(&c.LightBlueURL, "VENDORHUB_LIGHTBLUE_API_URL")
	e.dur(&c.SyncInterval, "VENDORHUB_CALENDAR_SYNC_INTERVAL")
	e.dur(&c.FeedInterval, "VENDORHUB_FEED_POLL_INTERVAL")
	e.dur(&c.ScheduleInterval, "VENDORHUB_CONNECTOR_SCHEDULE_INTERVAL")
	e.dur(&c.ChannelTTL, "VENDORHUB_GOOGLE_CHANNEL_TTL")
	e.dur(&c.SubscriptionTTL, "VENDORHUB_GRAPH_SUBSCRIPTION_TTL")
	e.int(&c.Workers, "VENDORHUB_CONNECTOR_WORKERS")
	e.int(&c.GoogleRate, "VENDORHUB_GOOGLE_RATE")
	e.int(&c.GraphRate, "VENDORHUB_GRAPH_RATE")
	e.int(&c.ICalRate, "VENDORHUB_ICAL_RATE")
	e.int(&c.LightBlueRate, "VENDORHUB_LIGHTBLUE_RATE")
}

// withDefaults returns c with zero fields set to their defaults.
func (c CRMConfig) withDefaults() CRMConfig {
	str := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	num := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	str(&c.GoogleTokenURL, GoogleTokenURLDefault)
	str(&c.MicrosoftTokenURL, MicrosoftTokenURLDefault)
	str(&c.GraphURL, outlook.BaseURLDefault)
	str(&c.LightBlueURL, lightblue.URLDefault)
	num(&c.Workers, ConnectorWorkersDefault)
	num(&c.GoogleRate, GoogleRateDefault)
	num(&c.GraphRate, GraphRateDefault)
	num(&c.ICalRate, ICalRateDefault)
	num(&c.LightBlueRate, LightBlueRateDefault)
	if c.ScheduleInterval <= 0 {
		c.ScheduleInterval = connector.ScheduleIntervalDefault
	}
	return c
}

func wireCRM(_ context.Context, s *Sidecar) error {
	cc := s.Config.CRM.withDefaults()
	keyring, err := s.Keyring()
	if err != nil {
		return err
	}
	breakers, err := s.Breakers()
	if err != nil {
		return err
	}
	limits := integration.NewLimits(map[string]rate.Limit{
		google.Provider: rate.Limit(cc.GoogleRate), outlook.Provider: rate.Limit(cc.GraphRate),
		"ical": rate.Limit(cc.ICalRate), lightblue.Provider: rate.Limit(cc.LightBlueRate),
	})
	providers := map[integration.Kind]*oauth2.Config{}
	if cc.GoogleClientID != "" {
		providers[integration.GoogleCalendar] = &oauth2.Config{ClientID: cc.GoogleClientID, ClientSecret: cc.GoogleClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: cc.GoogleTokenURL}}
	}
	if cc.MicrosoftClientID != "" {
		providers[integration.Outlook] = &oauth2.Config{ClientID: cc.MicrosoftClientID, ClientSecret: cc.MicrosoftClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: cc.MicrosoftTokenURL}, Scopes: []string{"offline_access", "Calendars.Read"}}
	}
	allowPrivate, err := s.allowPrivateNetworks()
	if err != nil {
		return err
	}
	feeds := ical.NewHTTPClient(allowPrivate, 0)
	tokens := &oauth.Refresher{Pool: s.Pool, Keyring: keyring, Providers: providers, Limits: limits}
	creds := integration.CredentialStore{Keyring: keyring, DB: s.Pool}
	gsrc := &google.Source{Endpoint: cc.GoogleCalendarEndpoint, Tokens: tokens, Limits: limits}
	osrc := &outlook.Source{BaseURL: cc.GraphURL, Tokens: tokens, Limits: limits}
	conns, err := connector.New(connector.Config{
		Pool: s.Pool, Keyring: keyring, Tokens: tokens, Google: gsrc, Outlook: osrc,
		Syncer: &calendar.Syncer{Pool: s.Pool, Logger: s.Logger, Sources: map[integration.Kind]calendar.Source{
			integration.GoogleCalendar: gsrc,
			integration.Outlook:        osrc,
			integration.ICal:           &ical.Source{Credentials: creds, Limits: limits, HTTPClient: feeds},
			integration.LightBlue:      &ical.Source{Provider: lightblue.Provider, Credentials: creds, Limits: limits, HTTPClient: feeds},
		}},
		CRM: &crm.Processor{Pool: s.Pool, Mappers: map[string]crm.Mapper{"honeybook": honeybook.Mapper{}, "dubsado": dubsado.Mapper{}}},
		LightBlue: &lightblue.Client{URL: cc.LightBlueURL, Limits: limits,
			HTTPClient: netguard.New(netguard.Options{AllowPrivate: allowPrivate, Timeout: lightblue.TimeoutDefault})},
		Breakers:        breakers,
		PublicURL:       s.Config.Webhooks.PublicURL,
		SyncInterval:    cc.SyncInterval,
		FeedInterval:    cc.FeedInterval,
		ChannelTTL:      cc.ChannelTTL,
		SubscriptionTTL: cc.SubscriptionTTL,
		Logger:          s.Logger,
	})
	if err != nil {
		return err
	}
	conns.AddWorkers(s.Workers)
	for _, q := range connector.Queues {
		s.AddQueue(q, cc.Workers)
	}
	sink := &connector.Sink{Client: s.River}
	// Dubsado connections are fed through outbound deliveries, worked by the webhooks stage.
	dubsadoOn := slices.Contains(s.stageList(), "webhooks")
	if dubsadoOn {
		sink.Outbound = outbound.NewSink(riverInserter{s}, outbound.Config{})
	}
	s.Sinks = append(s.Sinks, sink)
	s.Go("crm", func(ctx context.Context) error {
		for _, pj := range connector.PeriodicJobs(cc.ScheduleInterval) {
			s.River().PeriodicJobs().Add(pj)
		}
		<-ctx.Done()
		return nil
	})
	if s.Config.Webhooks.PublicURL == "" {
		s.Logger.Info("crm: VENDORHUB_PUBLIC_URL unset: no Google channels or Graph subscriptions; calendars are polled",
			"interval", conns.SyncInterval())
	}
	s.Logger.Info("crm: connectors on", "queues", connector.Queues, "google_oauth", cc.GoogleClientID != "",
		"microsoft_oauth", cc.MicrosoftClientID != "", "dubsado_catch_hooks", dubsadoOn)
	return nil
}
