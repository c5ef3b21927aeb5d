package sidecar

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/notify"
)

// Defaults of NotifyConfig.
const (
	NotifyWorkersDefault = 300
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
	// VENDORHUB_NOTIFY_WINDOW. Defaults to notify.WindowDefault.
	Window time.Duration
	// Inactivity sends a digest after this much quiet. VENDORHUB_NOTIFY_INACTIVITY.
	// Defaults to notify.InactivityDefault.
	Inactivity time.Duration
	// MaxWait sends a digest at the latest this long after its first held message.
	// VENDORHUB_NOTIFY_MAX_WAIT. Defaults to notify.MaxWaitDefault.
	MaxWait time.Duration
	// Workers is the number of concurrent notification jobs of this process.
	// VENDORHUB_NOTIFY_WORKERS. Defaults to NotifyWorkersDefault.
	Workers int
	// MaxAttempts bounds the attempts of one delivery (5xx, timeouts).
	// VENDORHUB_NOTIFY_MAX_ATTEMPTS. Defaults to deliver.MaxAttemptsDefault.
	MaxAttempts int
	// RetryBase is the first retry delay, doubled per attempt with jitter.
	// VENDORHUB_NOTIFY_RETRY_BASE. Defaults to deliver.RetryBaseDefault.
	RetryBase time.Duration
}

// validate reports every out-of-range field of a defaulted NotifyConfig.
func (c NotifyConfig) validate() error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("VENDORHUB_NOTIFY_WORKERS=%d: need at least 1", c.Workers))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("VENDORHUB_NOTIFY_MAX_ATTEMPTS=%d: need at least 1", c.MaxAttempts))
	}
	return errors.Join(errs...)
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
		s, err := channel.NewResend(channel.ResendConfig{APIKey: c.ResendAPIKey, From: c.ResendFrom, BaseURL: c.ResendBaseURL})
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

// notifyStage is what the notify stage hands the hand-off.
type notifyStage struct {
	planner handoff.Sink // notification plans and delivery jobs
	status  handoff.Sink // provider delivery callbacks → status jobs
}

// newNotify builds the notify stage: one sender per channel (the provider behind its
// circuit breaker, or the dev mailbox), the delivery, digest and status workers, the planner.
func (s *Sidecar) newNotify(ctx context.Context, workers *river.Workers, breakers *breaker.Breakers) (notifyStage, error) {
	nc := s.cfg.Notify
	statusCallback := ""
	if pub := s.cfg.Webhooks.PublicURL; pub != "" && nc.TwilioAuthToken != "" {
		statusCallback = pub + "/webhooks/twilio/default"
	}
	senders, err := nc.senders(ctx, channel.NewMailbox(s.pool), statusCallback)
	if err != nil {
		return notifyStage{}, err
	}
	providers := map[channel.Kind]string{}
	for k, snd := range senders {
		// An open circuit makes the worker fall back to the recipient's next channel.
		senders[k] = channel.WithBreaker(breakers, snd)
		providers[k] = snd.Provider()
		if snd.Provider() == channel.MailboxProvider && !s.cfg.Dev {
			s.log.Warn("notify: no provider credentials, captured in vendorhub.dev_mailbox instead of sent", "channel", k)
		}
	}
	pcfg := notify.Config{Window: nc.Window, Inactivity: nc.Inactivity, MaxWait: nc.MaxWait, Logger: s.log,
		Providers: providers}
	planner, err := notify.NewPlanner(pcfg, s.river)
	if err != nil {
		return notifyStage{}, err
	}
	digests, err := notify.NewDigestWorker(s.pool, pcfg)
	if err != nil {
		return notifyStage{}, err
	}
	worker, err := deliver.NewWorker(s.pool, deliver.Config{Senders: senders, MaxAttempts: nc.MaxAttempts,
		RetryBase: nc.RetryBase, Logger: s.log})
	if err != nil {
		return notifyStage{}, err
	}
	river.AddWorker(workers, digests)
	river.AddWorker(workers, worker)
	river.AddWorker(workers, deliver.NewStatusWorker(s.pool, worker))
	return notifyStage{planner: planner, status: deliver.NewStatusSink(s.river)}, nil
}
