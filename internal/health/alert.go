package health

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// AlertArgs is the River job that posts one breaker transition to the operators' alert
// webhook.
type AlertArgs struct {
	TransitionID        string    `json:"transition_id"`
	Breaker             string    `json:"breaker"`
	From                string    `json:"from"`
	To                  string    `json:"to"`
	At                  time.Time `json:"at"`
	Instance            string    `json:"instance"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastError           string    `json:"last_error,omitempty"`
}

// Kind implements river.JobArgs.
func (AlertArgs) Kind() string { return "health.alert" }

// InsertOpts implements river.JobArgsWithInsertOpts: one job per transition.
func (AlertArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AlertConfig configures the AlertWorker.
type AlertConfig struct {
	// URL receives a JSON POST per transition. Required.
	URL string
	// Secret, when set, signs the POST with Standard Webhooks headers (webhook-id,
	// webhook-timestamp, webhook-signature); a whsec_ secret or any string. Defaults to "" (unsigned).
	Secret string
	// Timeout bounds one POST. Defaults to 10 s.
	Timeout time.Duration
	// AllowPrivateNetworks lets the URL resolve to loopback and private addresses
	// (VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS). Defaults to false: refused.
	AllowPrivateNetworks bool
	// Client sends the POSTs. Defaults to the guarded client (netguard) with Timeout, no
	// redirects and, unless AllowPrivateNetworks, the private-address check.
	Client *http.Client
}

// alertMaxResponseBytes caps how much of the alert webhook's answer is read (and drained).
const alertMaxResponseBytes = 64 << 10

// AlertWorker posts AlertArgs jobs.
type AlertWorker struct {
	river.WorkerDefaults[AlertArgs]
	cfg    AlertConfig
	secret []byte
}

// NewAlertWorker checks cfg and returns the worker.
func NewAlertWorker(cfg AlertConfig) (*AlertWorker, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("health: alert webhook URL %q: want an absolute http(s) URL", netguard.RedactURL(cfg.URL))
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	if cfg.Client == nil {
		cfg.Client = netguard.New(netguard.Options{AllowPrivate: cfg.AllowPrivateNetworks, Timeout: cfg.Timeout,
			MaxBodyBytes: alertMaxResponseBytes})
	}
	w := &AlertWorker{cfg: cfg}
	if cfg.Secret != "" {
		if s, err := signature.ParseSecret(cfg.Secret); err == nil {
			w.secret = s
		} else {
			w.secret = []byte(cfg.Secret)
		}
	}
	return w, nil
}

// AlertBody is the JSON the alert webhook receives.
type AlertBody struct {
	Type string    `json:"type"` // "breaker.changed"
	Data AlertArgs `json:"data"`
}

// Work implements river.Worker: 2xx completes; other answers and failures map onto River
// through provider.Policy.
func (w *AlertWorker) Work(ctx context.Context, job *river.Job[AlertArgs]) error {
	body, err := json.Marshal(AlertBody{Type: "breaker.changed", Data: job.Args})
	if err != nil {
		return river.JobCancel(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vendorhub-alerts")
	if w.secret != nil {
		signature.SetHeaders(req.Header, signature.StandardHeaders, [][]byte{w.secret}, "msg_"+job.Args.TransitionID, time.Now(), body)
	}
	resp, err := w.cfg.Client.Do(req)
	if errors.Is(err, netguard.ErrBlocked) {
		// Configuration, not an outage: retrying will not change the address (Cancel).
		return provider.Policy{}.JobResult(&provider.Error{Provider: "alert webhook", Err: netguard.Cause(err)}, job.Attempt)
	}
	if err != nil {
		// Cause drops the request URL, which may carry a token.
		return provider.Policy{}.JobResult(provider.Transport("alert webhook", "", netguard.Cause(err)), job.Attempt)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	// A refusal (4xx but 408/429) cancels; 429 with Retry-After snoozes; the rest retries.
	return provider.Policy{}.JobResult(provider.FromResponse("alert webhook", "", resp), job.Attempt)
}
