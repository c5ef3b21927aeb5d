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
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/wedsync/vendorhub/internal/dashboard"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/postgrest"
)

func init() { RegisterStage("health", wireHealth) }

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

func (c *HealthConfig) fromEnv(e *env) {
	e.dur(&c.PollInterval, "VENDORHUB_HEALTH_POLL_INTERVAL")
	e.dur(&c.SampleInterval, "VENDORHUB_HEALTH_SAMPLE_INTERVAL")
	e.dur(&c.Retention, "VENDORHUB_HEALTH_RETENTION")
	e.int(&c.SlotWarnPercent, "VENDORHUB_SLOT_WARN_PERCENT")
	e.int(&c.BreakerFailures, "VENDORHUB_BREAKER_FAILURES")
	e.dur(&c.BreakerOpenTimeout, "VENDORHUB_BREAKER_OPEN_TIMEOUT")
	e.dur(&c.BreakerInterval, "VENDORHUB_BREAKER_INTERVAL")
	e.str(&c.AlertWebhookURL, "VENDORHUB_ALERT_WEBHOOK_URL")
	e.str(&c.AlertWebhookSecret, "VENDORHUB_ALERT_WEBHOOK_SECRET")
	e.str(&c.OperatorToken, "VENDORHUB_OPERATOR_TOKEN")
	e.str(&c.Dashboard, "VENDORHUB_DASHBOARD")
	e.str(&c.DevRPC, "VENDORHUB_DEV_RPC")
	e.str(&c.SupabaseJS, "VENDORHUB_SUPABASE_JS")
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

func (c HealthConfig) breakers() health.BreakerConfig {
	return health.BreakerConfig{ConsecutiveFailures: uint32(max(c.BreakerFailures, 0)),
		OpenTimeout: c.BreakerOpenTimeout, Interval: c.BreakerInterval}
}

type breakersOnce struct {
	once sync.Once
	b    *health.Breakers
	err  error
}

var breakerSets sync.Map // *Sidecar → *breakersOnce

// Breakers returns the process's circuit breakers, built once: wrap every provider with
// Breakers().Sender(sender) (notification channels) or call it through
// Breakers().Do(health.ConnectionBreaker(id), fn) (connections). The health stage records
// their state changes and shows them on the dashboard.
func (s *Sidecar) Breakers() (*health.Breakers, error) {
	v, _ := breakerSets.LoadOrStore(s, &breakersOnce{})
	bo := v.(*breakersOnce)
	bo.once.Do(func() {
		bo.b, bo.err = health.NewBreakers(s.Config.Health.breakers(), nil)
		if bo.err == nil {
			s.OnClose(func() { breakerSets.Delete(s) })
		}
	})
	return bo.b, bo.err
}

func wireHealth(_ context.Context, s *Sidecar) error {
	hc := s.Config.Health
	if hc.SlotWarnPercent < 0 || hc.SlotWarnPercent >= 100 {
		return fmt.Errorf("VENDORHUB_SLOT_WARN_PERCENT=%d: want 1 to 99", hc.SlotWarnPercent)
	}
	dashOn, err := onOff(hc.Dashboard, "VENDORHUB_DASHBOARD", true)
	if err != nil {
		return err
	}
	rpcOn, err := onOff(hc.DevRPC, "VENDORHUB_DEV_RPC", s.Config.Dev)
	if err != nil {
		return err
	}
	breakers, err := s.Breakers()
	if err != nil {
		return err
	}

	// Breaker transitions: recorded durably, alerted.
	alert := hc.AlertWebhookURL != ""
	if alert {
		allowPrivate, err := s.allowPrivateNetworks()
		if err != nil {
			return err
		}
		w, err := health.NewAlertWorker(health.AlertConfig{URL: hc.AlertWebhookURL, Secret: hc.AlertWebhookSecret,
			AllowPrivateNetworks: allowPrivate})
		if err != nil {
			return fmt.Errorf("VENDORHUB_ALERT_WEBHOOK_URL: %w", err)
		}
		river.AddWorker(s.Workers, w)
		if _, ok := s.Queues[river.QueueDefault]; !ok {
			s.AddQueue(river.QueueDefault, s.Config.RiverWorkers)
		}
	}
	rec, err := health.NewRecorder(s.Pool, health.RecorderConfig{Instance: s.Config.InstanceID, AlertWebhook: alert,
		River: s.River, Logger: s.Logger})
	if err != nil {
		return err
	}
	breakers.OnChange(rec.Notify)
	s.Go("health-recorder", rec.Run)

	// Monitor and realtime latency.
	latency := health.NewLatency()
	s.Broadcasters = append(s.Broadcasters, latency)
	warn := 0.0
	if hc.SlotWarnPercent > 0 {
		warn = float64(hc.SlotWarnPercent) / 100
	}
	mon, err := health.NewMonitor(s.Pool, health.MonitorConfig{Slot: s.Config.Slot, Instance: s.Config.InstanceID,
		PollInterval: hc.PollInterval, SampleInterval: hc.SampleInterval, Retention: hc.Retention, WarnFraction: warn,
		Latency: latency, Logger: s.Logger})
	if err != nil {
		return err
	}
	s.Go("health-monitor", mon.Run)

	// Readiness: database and workers (replication is the stream's own component).
	s.AddComponent("database", func(ctx context.Context) (string, error) {
		if err := s.Pool.Ping(ctx); err != nil {
			return "unreachable", err
		}
		return "reachable", nil
	})
	var workersUp atomic.Bool
	s.AddComponent("workers", func(context.Context) (string, error) {
		if len(s.Queues) == 0 {
			return "none", nil
		}
		if !workersUp.Load() {
			return "starting", errors.New("River workers not started")
		}
		select {
		case <-s.River().Stopped():
			return "stopped", errors.New("River workers stopped")
		default:
			return "running", nil
		}
	})
	s.Go("health-workers", func(ctx context.Context) error {
		// Services start after River: the workers run from here on.
		workersUp.Store(true)
		<-ctx.Done()
		workersUp.Store(false)
		return nil
	})

	// The dev RPC endpoint (PostgREST's contract) for supabase-js rpc().
	v, verr := s.Config.Verifier()
	if rpcOn {
		if verr != nil {
			return fmt.Errorf("dev RPC endpoint: %w", verr)
		}
		h, err := postgrest.New(s.Pool, postgrest.Config{Verifier: v, Logger: s.Logger})
		if err != nil {
			return err
		}
		s.Mux.Handle(postgrest.Pattern, h)
	}

	if !dashOn {
		s.Logger.Info("health: dashboard off (VENDORHUB_DASHBOARD=off)", "dev_rpc", rpcOn)
		return nil
	}
	dcfg := dashboard.Config{Dev: s.Config.Dev, OperatorToken: hc.OperatorToken, Monitor: mon, Breakers: breakers,
		JWTSecret: s.Config.JWTSecret, Instance: s.Config.InstanceID, Logger: s.Logger, PublicURL: s.Config.Webhooks.PublicURL,
		IngressURL: func() string { return "http://" + s.Addr() },
		Ready: func(ctx context.Context) (bool, json.RawMessage) {
			rec := httptest.NewRecorder()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil)
			s.serveReady(rec, req)
			return rec.Code == http.StatusOK, rec.Body.Bytes()
		}}
	if verr == nil {
		dcfg.Verifier = v
	}
	if k, err := s.Keyring(); err == nil {
		dcfg.Keyring = k
	}
	if s.Config.Dev {
		dcfg.SupabaseJS = findSupabaseJS(hc.SupabaseJS)
	}
	dash, err := dashboard.New(s.Pool, dcfg)
	if err != nil {
		return err
	}
	dash.Register(s.Mux)
	s.Go("dashboard-sessions", dash.RunSessionPruner)
	s.Go("riverui", func(ctx context.Context) error {
		h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(s.River(), nil),
			Logger: s.Logger, Prefix: "/riverui"})
		if err != nil {
			return fmt.Errorf("river UI: %w", err)
		}
		if err := h.Start(ctx); err != nil {
			return fmt.Errorf("river UI: %w", err)
		}
		dash.SetRiverUI(h)
		<-ctx.Done()
		return nil
	})
	if s.Config.Dev && dcfg.Keyring != nil {
		// Dev: every Zapier connection gets a webhook secret, so test webhooks verify at once.
		s.Go("dev-webhook-secrets", func(ctx context.Context) error {
			n, err := dashboard.ProvisionDevSecrets(ctx, s.Pool, dcfg.Keyring)
			if err != nil {
				s.Logger.Warn("dev: could not provision webhook secrets", "err", err)
			} else if n > 0 {
				s.Logger.Info("dev: generated webhook secrets for Zapier connections", "connections", n)
			}
			<-ctx.Done()
			return nil
		})
	}
	if !s.Config.Dev && hc.OperatorToken == "" && verr != nil {
		s.Logger.Warn("dashboard: no operator login configured (VENDORHUB_OPERATOR_TOKEN or SUPABASE_JWT_SECRET): it answers 503")
	}
	s.Logger.Info("health: dashboard on /, River UI on /riverui/", "dev_rpc", rpcOn, "demo_pages", s.Config.Dev,
		"alert_webhook", alert)
	return nil
}

// PrintDashboardQuickStart writes, for `vendorhub dev`, where the dashboard and the demo pages
// are. It writes nothing when the dashboard is off.
func (s *Sidecar) PrintDashboardQuickStart(out io.Writer) {
	if on, err := onOff(s.Config.Health.Dashboard, "VENDORHUB_DASHBOARD", true); err != nil || !on {
		return
	}
	url := "http://" + s.Config.HTTPAddr
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
