package sidecar

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/ical"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/crm"
	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/crm/honeybook"
	"github.com/wedsync/vendorhub/internal/crm/lightblue"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/secret"
)

// Defaults of CRMConfig.
const (
	GoogleTokenURLDefault    = "https://oauth2.googleapis.com/token"
	MicrosoftTokenURLDefault = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
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
	// VENDORHUB_CALENDAR_SYNC_INTERVAL. Defaults to connector.SyncIntervalDefault.
	SyncInterval time.Duration
	// FeedInterval is the time between two polls of an iCalendar feed (Light Blue, ical).
	// VENDORHUB_FEED_POLL_INTERVAL. Defaults to connector.FeedIntervalDefault.
	FeedInterval time.Duration
	// ScheduleInterval is how often the scheduler looks for due syncs, renewals and refreshes.
	// VENDORHUB_CONNECTOR_SCHEDULE_INTERVAL.
	// Defaults to connector.ScheduleIntervalDefault.
	ScheduleInterval time.Duration
	// ChannelTTL is the lifetime asked for Google watch channels. VENDORHUB_GOOGLE_CHANNEL_TTL.
	// Defaults to connector.ChannelTTLDefault.
	ChannelTTL time.Duration
	// SubscriptionTTL is the lifetime asked for Graph subscriptions (at most 10,080 minutes
	// for Outlook events). VENDORHUB_GRAPH_SUBSCRIPTION_TTL.
	// Defaults to connector.SubscriptionTTLDefault.
	SubscriptionTTL time.Duration
	// Workers is the number of workers of each connector queue (one queue per provider).
	// VENDORHUB_CONNECTOR_WORKERS. Defaults to connector.QueueMaxWorkersDefault.
	Workers int
	// GoogleRate, GraphRate, ICalRate and LightBlueRate are each provider's request rate
	// (per second, per process). VENDORHUB_GOOGLE_RATE, VENDORHUB_GRAPH_RATE,
	// VENDORHUB_ICAL_RATE, VENDORHUB_LIGHTBLUE_RATE. Default to GoogleRateDefault,
	// GraphRateDefault, ICalRateDefault and LightBlueRateDefault.
	GoogleRate, GraphRate, ICalRate, LightBlueRate int
}

// validate reports every out-of-range field of a defaulted CRMConfig.
func (c CRMConfig) validate() error {
	var errs []error
	for _, f := range []struct {
		v    int
		name string
	}{
		{c.Workers, "VENDORHUB_CONNECTOR_WORKERS"}, {c.GoogleRate, "VENDORHUB_GOOGLE_RATE"},
		{c.GraphRate, "VENDORHUB_GRAPH_RATE"}, {c.ICalRate, "VENDORHUB_ICAL_RATE"},
		{c.LightBlueRate, "VENDORHUB_LIGHTBLUE_RATE"},
	} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s=%d: want a positive number", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// crmStage is what the crm stage hands the hand-off.
type crmStage struct {
	sink handoff.Sink // connector jobs, Light Blue pushes, Dubsado deliveries
}

// newCRM builds the crm stage: OAuth refresh, the calendar sources, the CRM processor, the
// connector workers and their sink. catchHooks feeds Dubsado connections (nil: not fed, without
// the webhooks stage). The scheduler is a River periodic job (Config.periodicJobs).
func (s *Sidecar) newCRM(workers *river.Workers, keyring *secret.Keyring, breakers *breaker.Breakers, catchHooks connector.Outbound) (crmStage, error) {
	cc := s.cfg.CRM
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
	allowPrivate, _ := s.allowPrivateNetworks() // validated by Config.Validate
	feeds := ical.NewHTTPClient(allowPrivate, 0)
	tokens := &oauth.Refresher{Pool: s.pool, Keyring: keyring, Providers: providers, Limits: limits}
	creds := integration.CredentialStore{Keyring: keyring, DB: s.pool}
	gsrc := &google.Source{Endpoint: cc.GoogleCalendarEndpoint, Tokens: tokens, Limits: limits}
	osrc := &outlook.Source{BaseURL: cc.GraphURL, Tokens: tokens, Limits: limits}
	conns, err := connector.New(connector.Config{
		Pool: s.pool, Keyring: keyring, Tokens: tokens, Google: gsrc, Outlook: osrc,
		Syncer: &calendar.Syncer{Pool: s.pool, Logger: s.log, Sources: map[integration.Kind]calendar.Source{
			integration.GoogleCalendar: gsrc,
			integration.Outlook:        osrc,
			integration.ICal:           &ical.Source{Credentials: creds, Limits: limits, HTTPClient: feeds},
			integration.LightBlue:      &ical.Source{Provider: lightblue.Provider, Credentials: creds, Limits: limits, HTTPClient: feeds},
		}},
		CRM: &crm.Processor{Pool: s.pool, Mappers: map[string]crm.Mapper{"honeybook": honeybook.Mapper{}, "dubsado": dubsado.Mapper{}}},
		LightBlue: &lightblue.Client{URL: cc.LightBlueURL, Limits: limits,
			HTTPClient: netguard.New(netguard.Options{AllowPrivate: allowPrivate, Timeout: lightblue.TimeoutDefault})},
		Breakers:        breakers,
		PublicURL:       s.cfg.Webhooks.PublicURL,
		SyncInterval:    cc.SyncInterval,
		FeedInterval:    cc.FeedInterval,
		ChannelTTL:      cc.ChannelTTL,
		SubscriptionTTL: cc.SubscriptionTTL,
		Logger:          s.log,
	})
	if err != nil {
		return crmStage{}, err
	}
	conns.AddWorkers(workers)
	if s.cfg.Webhooks.PublicURL == "" {
		s.log.Info("crm: VENDORHUB_PUBLIC_URL unset: no Google channels or Graph subscriptions; calendars are polled",
			"interval", conns.SyncInterval())
	}
	s.log.Info("crm: connectors on", "queues", connector.Queues, "google_oauth", cc.GoogleClientID != "",
		"microsoft_oauth", cc.MicrosoftClientID != "", "dubsado_catch_hooks", catchHooks != nil)
	return crmStage{sink: &connector.Sink{Jobs: s.river, Outbound: catchHooks}}, nil
}
