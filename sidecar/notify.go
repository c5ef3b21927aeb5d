package sidecar

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/notify"
)

func init() { RegisterStage("notify", wireNotify) }

// Defaults of NotifyConfig.
const (
	NotifyWorkersDefault = 20
	ResendFromDefault    = "vendorhub <notifications@vendorhub.localhost>"
)

// NotifyConfig configures the notification planner and the delivery workers (River queue
// "notify"). A channel whose provider has no credentials goes to the dev mailbox
// (vendorhub.dev_mailbox) instead: with no configuration at all, nothing is ever sent.
type NotifyConfig struct {
	// FCMProjectID is the Firebase project of push notifications. FCM_PROJECT_ID. Defaults
	// to "" (push goes to the dev mailbox).
	FCMProjectID string
	// FCMCredentialsFile is the service-account JSON file for FCM. FCM_CREDENTIALS_FILE.
	// Defaults to "" (Google application default credentials; none with FCMEndpoint).
	FCMCredentialsFile string
	// FCMEndpoint replaces FCM's endpoint (a local fake). VENDORHUB_FCM_ENDPOINT. Defaults to
	// "" (FCM's own).
	FCMEndpoint string
	// ResendAPIKey is the Resend API key. RESEND_API_KEY. Defaults to "" (email goes to the
	// dev mailbox).
	ResendAPIKey string
	// ResendFrom is the email sender. RESEND_FROM. Defaults to ResendFromDefault.
	ResendFrom string
	// ResendBaseURL replaces Resend's API URL (a local fake). VENDORHUB_RESEND_BASE_URL.
	// Defaults to "" (Resend's own).
	ResendBaseURL string
	// TwilioAccountSID, TwilioAuthToken and TwilioFrom are the Twilio account and sender
	// (E.164 number or Messaging Service SID). TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
	// TWILIO_FROM. Default to "" (SMS goes to the dev mailbox). The auth token also verifies
	// Twilio's status callbacks at /webhooks/twilio/default.
	TwilioAccountSID, TwilioAuthToken, TwilioFrom string
	// TwilioBaseURL replaces https://api.twilio.com (a local fake). VENDORHUB_TWILIO_BASE_URL.
	// Defaults to "".
	TwilioBaseURL string
	// Window is the anti-spam window per recipient and conversation.
	// VENDORHUB_NOTIFY_WINDOW. Defaults to 2m.
	Window time.Duration
	// Inactivity sends a digest after this much quiet. VENDORHUB_NOTIFY_INACTIVITY.
	// Defaults to 1m.
	Inactivity time.Duration
	// MaxWait sends a digest at the latest this long after its first held message.
	// VENDORHUB_NOTIFY_MAX_WAIT. Defaults to 10m.
	MaxWait time.Duration
	// Workers is the number of concurrent notification jobs of this process.
	// VENDORHUB_NOTIFY_WORKERS. Defaults to 20.
	Workers int
	// MaxAttempts bounds the attempts of one delivery (5xx, timeouts).
	// VENDORHUB_NOTIFY_MAX_ATTEMPTS. Defaults to 8.
	MaxAttempts int
	// RetryBase is the first retry delay, doubled per attempt with jitter.
	// VENDORHUB_NOTIFY_RETRY_BASE. Defaults to 2s.
	RetryBase time.Duration
}

func (c *NotifyConfig) fromEnv(e *env) {
	e.str(&c.FCMProjectID, "FCM_PROJECT_ID")
	e.str(&c.FCMCredentialsFile, "FCM_CREDENTIALS_FILE")
	e.str(&c.FCMEndpoint, "VENDORHUB_FCM_ENDPOINT")
	e.str(&c.ResendAPIKey, "RESEND_API_KEY")
	e.str(&c.ResendFrom, "RESEND_FROM")
	e.str(&c.ResendBaseURL, "VENDORHUB_RESEND_BASE_URL")
	e.str(&c.TwilioAccountSID, "TWILIO_ACCOUNT_SID")
	e.str(&c.TwilioAuthToken, "TWILIO_AUTH_TOKEN")
	e.str(&c.TwilioFrom, "TWILIO_FROM")
	e.str(&c.TwilioBaseURL, "VENDORHUB_TWILIO_BASE_URL")
	e.dur(&c.Window, "VENDORHUB_NOTIFY_WINDOW")
	e.dur(&c.Inactivity, "VENDORHUB_NOTIFY_INACTIVITY")
	e.dur(&c.MaxWait, "VENDORHUB_NOTIFY_MAX_WAIT")
	e.int(&c.Workers, "VENDORHUB_NOTIFY_WORKERS")
	e.int(&c.MaxAttempts, "VENDORHUB_NOTIFY_MAX_ATTEMPTS")
	e.dur(&c.RetryBase, "VENDORHUB_NOTIFY_RETRY_BASE")
}

// senders builds one sender per channel: the provider when its credentials are set, the dev
// mailbox otherwise. statusCallback is the public Twilio callback URL ("" for none).
func (c NotifyConfig) senders(ctx context.Context, mailbox channel.Sender, statusCallback string) (map[channel.Kind]channel.Sender, error) {
	out := map[channel.Kind]channel.Sender{channel.Push: mailbox, channel.Email: mailbox, channel.SMS: mailbox}
	if c.FCMProjectID != "" {
		s, err := channel.NewFCM(ctx, channel.FCMConfig{ProjectID: c.FCMProjectID, CredentialsFile: c.FCMCredentialsFile, Endpoint: c.FCMEndpoint})
		if err != nil {
			return nil, fmt.Errorf("FCM_PROJECT_ID: %w", err)
		}
		out[channel.Push] = s
	}
	if c.ResendAPIKey != "" {
		s, err := channel.NewResend(channel.ResendConfig{APIKey: c.ResendAPIKey, From: cmp.Or(c.ResendFrom, ResendFromDefault), BaseURL: c.ResendBaseURL})
		if err != nil {
			return nil, fmt.Errorf("RESEND_API_KEY: %w", err)
		}
		out[channel.Email] = s
	}
	if c.TwilioAccountSID != "" || c.TwilioFrom != "" {
		s, err := channel.NewTwilio(channel.TwilioConfig{AccountSID: c.TwilioAccountSID, AuthToken: c.TwilioAuthToken,
			From: c.TwilioFrom, StatusCallback: statusCallback, BaseURL: c.TwilioBaseURL})
		if err != nil {
			return nil, fmt.Errorf("TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN/TWILIO_FROM: %w", err)
		}
		out[channel.SMS] = s
	}
	return out, nil
}

// notifyInserter defers to the sidecar's River client, which exists only after wiring.
type notifyInserter struct{ s *Sidecar }

func (n notifyInserter) InsertManyFastTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) (int, error) {
	return n.s.River().InsertManyFastTx(ctx, tx, params)
}

func wireNotify(ctx context.Context, s *Sidecar) error {
	nc := s.Config.Notify
	statusCallback := ""
	if pub := s.Config.Webhooks.PublicURL; pub != "" && nc.TwilioAuthToken != "" {
		statusCallback = pub + "/webhooks/twilio/default"
	}
	senders, err := nc.senders(ctx, channel.NewMailbox(s.Pool), statusCallback)
	if err != nil {
		return err
	}
	breakers, err := s.Breakers() // sidecar/health.go: an open circuit makes the worker fall back
	if err != nil {
		return err
	}
	for k, snd := range senders {
		senders[k] = breakers.Sender(snd)
	}
	for k, snd := range senders {
		if snd.Provider() == channel.MailboxProvider && !s.Config.Dev {
			s.Logger.Warn("notify: no provider credentials, captured in vendorhub.dev_mailbox instead of sent", "channel", k)
		}
	}
	pcfg := notify.Config{Window: nc.Window, Inactivity: nc.Inactivity, MaxWait: nc.MaxWait, Logger: s.Logger,
		Providers: map[channel.Kind]string{}}
	for k, snd := range senders {
		pcfg.Providers[k] = snd.Provider()
	}
	planner, err := notify.NewPlanner(pcfg, notifyInserter{s})
	if err != nil {
		return err
	}
	digests, err := notify.NewDigestWorker(s.Pool, pcfg)
	if err != nil {
		return err
	}
	worker, err := deliver.NewWorker(s.Pool, deliver.Config{Senders: senders, MaxAttempts: nc.MaxAttempts, RetryBase: nc.RetryBase, Logger: s.Logger})
	if err != nil {
		return err
	}
	river.AddWorker(s.Workers, digests)
	river.AddWorker(s.Workers, worker)
	river.AddWorker(s.Workers, deliver.NewStatusWorker(s.Pool, worker))
	s.AddQueue(notify.Queue, cmp.Or(nc.Workers, NotifyWorkersDefault))
	s.Sinks = append(s.Sinks, planner, deliver.NewStatusSink(riverInserter{s}))
	return nil
}
