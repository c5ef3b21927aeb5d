package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/dashboard"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/postgrest"
	"github.com/wedsync/vendorhub/internal/secret"
)

// Defaults of HealthConfig.
const (
	SlotWarnPercentDefault = 50
	DashboardDefault       = "on"
)

// SupabaseJSPath is where npm puts the browser build of supabase-js, relative to the
// repository root.
const SupabaseJSPath = "node_modules/@supabase/supabase-js/dist/umd/supabase.js"

// HealthConfig configures the health stage: the health monitor, the circuit breakers of
// providers and connections, breaker alerts, the operator dashboard (with River's UI) and, in
// dev, the demo pages and the PostgREST-compatible RPC endpoint.
type HealthConfig struct {
	// PollInterval is the time between health polls (lag resolution).
	// VENDORHUB_HEALTH_POLL_INTERVAL. Defaults to 5s.
	PollInterval time.Duration
	// SampleInterval is the time between health rows written for the report and lag chart.
	// VENDORHUB_HEALTH_SAMPLE_INTERVAL. Defaults to 30s.
	SampleInterval time.Duration
	// Retention is how long health rows are kept. VENDORHUB_HEALTH_RETENTION. Defaults to 168h.
	Retention time.Duration
	// SlotWarnPercent warns once the slot retains this percentage of max_slot_wal_keep_size.
	// VENDORHUB_SLOT_WARN_PERCENT. Defaults to 50.
	SlotWarnPercent int
	// BreakerFailures opens a provider's or connection's breaker after this many failures in
	// a row. VENDORHUB_BREAKER_FAILURES. Defaults to 5.
	BreakerFailures int
	// BreakerOpenTimeout is how long a breaker stays open before a half-open probe.
	// VENDORHUB_BREAKER_OPEN_TIMEOUT. Defaults to 30s.
	BreakerOpenTimeout time.Duration
	// BreakerInterval is the window over which a closed breaker counts failures.
	// VENDORHUB_BREAKER_INTERVAL. Defaults to 60s.
	BreakerInterval time.Duration
	// AlertWebhookURL receives a JSON POST for every breaker state change (a River job).
	// VENDORHUB_ALERT_WEBHOOK_URL. Defaults to "" (no alert webhook).
	AlertWebhookURL string
	// AlertWebhookSecret signs the alert POSTs with Standard Webhooks headers.
	// VENDORHUB_ALERT_WEBHOOK_SECRET. Defaults to "" (unsigned).
	AlertWebhookSecret string
	// OperatorToken logs an operator into the dashboard (Authorization: Bearer, or /login).
	// Operators may also use a Supabase JWT with app_metadata.role "operator".
	// VENDORHUB_OPERATOR_TOKEN. Defaults to "" (with `dev` the dashboard is open).
	OperatorToken string
	// Dashboard serves the dashboard at / and River's UI at /riverui/: "on" or "off".
	// VENDORHUB_DASHBOARD. Defaults to "on".
	Dashboard string
	// DevRPC serves POST /rest/v1/rpc/<function> (PostgREST's contract): "on", "off", or ""
	// for on with `dev` and off with `run`. VENDORHUB_DEV_RPC. Defaults to "".
	DevRPC string
	// SupabaseJS is the browser build of supabase-js the demo pages load.
	// VENDORHUB_SUPABASE_JS. Defaults to node_modules/@supabase/supabase-js/dist/umd/supabase.js
	// found from the working directory or the binary's directory upwards.
	SupabaseJS string
}

// validate reports every out-of-range field of a defaulted HealthConfig.
func (c HealthConfig) validate(dev bool) error {
	var errs []error
	if c.SlotWarnPercent < 1 || c.SlotWarnPercent >= 100 {
		errs = append(errs, fmt.Errorf("VENDORHUB_SLOT_WARN_PERCENT=%d: want 1 to 99", c.SlotWarnPercent))
	}
	if c.BreakerFailures < 1 {
		errs = append(errs, fmt.Errorf("VENDORHUB_BREAKER_FAILURES=%d: need at least 1", c.BreakerFailures))
	}
	if _, err := onOff(c.Dashboard, "VENDORHUB_DASHBOARD", true); err != nil {
		errs = append(errs, err)
	}
	if _, err := onOff(c.DevRPC, "VENDORHUB_DEV_RPC", dev); err != nil {
		errs = append(errs, err)
	}
	if err := c.breakerConfig().WithDefaults().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// onOff resolves an "on"/"off"/"" switch; "" gives def.
func onOff(v, name string, def bool) (bool, error) {
	switch strings.ToLower(v) {
	case "":
		return def, nil
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q: want on or off", name, v)
}

// breakerConfig is the configuration of the process's circuit breakers.
func (c HealthConfig) breakerConfig() breaker.Config {
	return breaker.Config{ConsecutiveFailures: uint32(max(c.BreakerFailures, 0)),
		OpenTimeout: c.BreakerOpenTimeout, Interval: c.BreakerInterval}
}

// healthStage is what the health stage hands the hand-off.
type healthStage struct {
	latency handoff.Broadcaster // realtime latency, for the monitor
}

// newHealth builds the health stage from its parts: the breaker recorder (and alerts), the
// monitor, the readiness components, the dev RPC endpoint and the dashboard.
func (s *Sidecar) newHealth(workers *river.Workers, breakers *breaker.Breakers, keyring *secret.Keyring) (healthStage, error) {
	if err := s.recordBreakers(workers, breakers); err != nil {
		return healthStage{}, err
	}
	mon, latency, err := s.newMonitor()
	if err != nil {
		return healthStage{}, err
	}
	s.addReadiness()
	if err := s.newDevRPC(); err != nil {
		return healthStage{}, err
	}
	if err := s.newDashboard(mon, breakers, keyring); err != nil {
		return healthStage{}, err
	}
	return healthStage{latency: latency}, nil
}

// recordBreakers makes every breaker transition durable (health.Recorder) and, with
// VENDORHUB_ALERT_WEBHOOK_URL, alerted through a River job.
func (s *Sidecar) recordBreakers(workers *river.Workers, breakers *breaker.Breakers) error {
	hc := s.cfg.Health
	alert := hc.AlertWebhookURL != ""
	if alert {
		allowPrivate, _ := s.allowPrivateNetworks() // validated by Config.Validate
		w, err := health.NewAlertWorker(health.AlertConfig{URL: hc.AlertWebhookURL, Secret: hc.AlertWebhookSecret,
			AllowPrivateNetworks: allowPrivate})
		if err != nil {
			return fmt.Errorf("VENDORHUB_ALERT_WEBHOOK_URL: %w", err)
		}
		river.AddWorker(workers, w)
	}
	rec, err := health.NewRecorder(s.pool, health.RecorderConfig{Instance: s.cfg.InstanceID, AlertWebhook: alert,
		Jobs: s.river, Logger: s.log})
	if err != nil {
		return err
	}
	breakers.OnChange(rec.Notify)
	s.goRun("health-recorder", rec.Run)
	return nil
}

// newMonitor starts the health monitor (slot lag and state, River queues) and returns it
// with the realtime latency broadcaster it reads.
func (s *Sidecar) newMonitor() (*health.Monitor, *health.Latency, error) {
	hc := s.cfg.Health
	latency := health.NewLatency()
	mon, err := health.NewMonitor(s.pool, health.MonitorConfig{Slot: s.cfg.Replication.Slot, Instance: s.cfg.InstanceID,
		PollInterval: hc.PollInterval, SampleInterval: hc.SampleInterval, Retention: hc.Retention,
		WarnFraction: float64(hc.SlotWarnPercent) / 100, Latency: latency, Logger: s.log})
	if err != nil {
		return nil, nil, err
	}
	s.goRun("health-monitor", mon.Run)
	return mon, latency, nil
}

// addReadiness adds the database and River workers to /readyz (replication is the stream's
// own component).
func (s *Sidecar) addReadiness() {
	s.addComponent("database", func(ctx context.Context) (string, error) {
		if err := s.pool.Ping(ctx); err != nil {
			return "unreachable", err
		}
		return "reachable", nil
	})
	var workersUp atomic.Bool
	s.addComponent("workers", func(context.Context) (string, error) {
		if !s.works {
			return "none", nil
		}
		if !workersUp.Load() {
			return "starting", errors.New("River workers not started")
		}
		select {
		case <-s.river.Stopped():
			return "stopped", errors.New("River workers stopped")
		default:
			return "running", nil
		}
	})
	s.goRun("health-workers", func(ctx context.Context) error {
		// Services start after River: the workers run from here on.
		workersUp.Store(true)
		<-ctx.Done()
		workersUp.Store(false)
		return nil
	})
}

// newDevRPC serves the dev RPC endpoint (PostgREST's contract, for supabase-js rpc()) when
// VENDORHUB_DEV_RPC is on.
func (s *Sidecar) newDevRPC() error {
	if on, _ := onOff(s.cfg.Health.DevRPC, "VENDORHUB_DEV_RPC", s.cfg.Dev); !on { // validated by Config.Validate
		return nil
	}
	v, err := s.cfg.Verifier()
	if err != nil {
		return fmt.Errorf("dev RPC endpoint: %w", err)
	}
	h, err := postgrest.New(s.pool, postgrest.Config{Verifier: v, Logger: s.log})
	if err != nil {
		return err
	}
	s.mux.Handle(postgrest.Pattern, h)
	return nil
}

// newDashboard serves the operator dashboard at / and River's UI at /riverui/ when
// VENDORHUB_DASHBOARD is on; keyring may be nil (integration secrets then hidden).
func (s *Sidecar) newDashboard(mon *health.Monitor, breakers *breaker.Breakers, keyring *secret.Keyring) error {
	hc := s.cfg.Health
	if on, _ := onOff(hc.Dashboard, "VENDORHUB_DASHBOARD", true); !on { // validated by Config.Validate
		s.log.Info("health: dashboard off (VENDORHUB_DASHBOARD=off)")
		return nil
	}
	dcfg := dashboard.Config{Dev: s.cfg.Dev, OperatorToken: hc.OperatorToken, Monitor: mon, Breakers: breakers,
		JWTSecret: s.cfg.JWTSecret, Instance: s.cfg.InstanceID, Logger: s.log, Keyring: keyring,
		PublicURL:  s.cfg.Webhooks.PublicURL,
		IngressURL: func() string { return "http://" + s.Addr() },
		Ready: func(ctx context.Context) (bool, json.RawMessage) {
			rec := httptest.NewRecorder()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil)
			s.serveReady(rec, req)
			return rec.Code == http.StatusOK, rec.Body.Bytes()
		}}
	v, verr := s.cfg.Verifier()
	if verr == nil {
		dcfg.Verifier = v
	}
	if s.cfg.Dev {
		dcfg.SupabaseJS = findSupabaseJS(hc.SupabaseJS)
	}
	dash, err := dashboard.New(s.pool, dcfg)
	if err != nil {
		return err
	}
	dash.Register(s.mux)
	s.goRun("dashboard-sessions", dash.RunSessionPruner)
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(s.river, nil),
		Logger: s.log, Prefix: "/riverui"})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	dash.SetRiverUI(ui)
	s.goRun("riverui", func(ctx context.Context) error {
		if err := ui.Start(ctx); err != nil {
			return fmt.Errorf("river UI: %w", err)
		}
		<-ctx.Done()
		return nil
	})
	if s.cfg.Dev && keyring != nil {
		// Dev: every Zapier connection gets a webhook secret, so test webhooks verify at once.
		s.goRun("dev-webhook-secrets", func(ctx context.Context) error {
			n, err := dashboard.ProvisionDevSecrets(ctx, s.pool, keyring)
			if err != nil {
				s.log.Warn("dev: could not provision webhook secrets", "err", err)
			} else if n > 0 {
				s.log.Info("dev: generated webhook secrets for Zapier connections", "connections", n)
			}
			<-ctx.Done()
			return nil
		})
	}
	if !s.cfg.Dev && hc.OperatorToken == "" && verr != nil {
		s.log.Warn("dashboard: no operator login configured (VENDORHUB_OPERATOR_TOKEN or SUPABASE_JWT_SECRET): it answers 503")
	}
	s.log.Info("health: dashboard on /, River UI on /riverui/", "demo_pages", s.cfg.Dev,
		"alert_webhook", hc.AlertWebhookURL != "")
	return nil
}

// PrintDashboardQuickStart writes, for `vendorhub dev`, where the dashboard and the demo pages
// are. It writes nothing when the dashboard is off.
func (s *Sidecar) PrintDashboardQuickStart(out io.Writer) {
	if on, err := onOff(s.cfg.Health.Dashboard, "VENDORHUB_DASHBOARD", true); err != nil || !on {
		return
	}
	url := "http://" + s.cfg.HTTPAddr
	fmt.Fprintf(out, "\nDashboard %s/ (River jobs: %s/riverui/, integrations: %s/admin/integrations)\n", url, url, url)
	fmt.Fprintf(out, "  demo pages %s/demo/ e.g. %s/demo/vendor-connections?as=lena and %s/demo/settings/notifications?as=sam\n",
		url, url, url)
	fmt.Fprintf(out, "  supabase-js rpc() works against %s/rest/v1/rpc/<function> (PostgREST's contract)\n", url)
}

// findSupabaseJS returns configured when set, else the first SupabaseJSPath found from the
// working directory or the executable's directory upwards ("" when none).
func findSupabaseJS(configured string) string {
	if configured != "" {
		return configured
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, SupabaseJSPath)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}
