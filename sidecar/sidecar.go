// Package sidecar is vendorhub's composition root: the only place that names concrete
// stages, sinks and providers. New builds a sidecar from a Config in one sequence that reads
// as the data flow of docs/architecture.md:
//
//	shared parts   pool, HTTP mux, circuit breakers, credential keyring, River client
//	stages         realtime → notify → webhooks → crm → health (each on unless Config.Stages
//	               leaves it out); each constructor adds its River workers, HTTP handlers
//	               and services, and returns its sinks and broadcasters
//	hand-off       the sinks, in one slice literal, in the order they run inside the
//	               hand-off transaction; the broadcasters, run after it commits
//	replication    the stream that feeds the hand-off
//
// Run runs it until its context ends. Metrics are registered by each package on
// prometheus.DefaultRegisterer and served on /metrics.
package sidecar

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/preflight"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/route"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

// Sidecar is one vendorhub process, built by New.
type Sidecar struct {
	cfg    Config
	stages stagesOn
	log    *slog.Logger
	pool   *pgxpool.Pool
	mux    *http.ServeMux
	river  *river.Client[pgx.Tx]
	// works is true when this process works River queues (some stage added one).
	works   bool
	stream  *replication.Stream
	checks  []check
	svcs    []service
	closers []func()

	boundMu sync.Mutex
	bound   string
	edge    edgeState
}

type service struct {
	name string
	run  func(ctx context.Context) error
}

type check struct {
	name string
	fn   func(ctx context.Context) (string, error)
}

// New builds a sidecar (see the package comment for the order). It connects to nothing yet:
// the pool connects lazily.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Sidecar, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if pf, err := preflight.PoolerError(cfg.DatabaseURL); err != nil || pf != nil {
		return nil, cmpErr(pf, err)
	}
	on, _ := cfg.stagesOn() // validated above
	pool, err := newPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Sidecar{cfg: cfg, stages: on, log: logger, pool: pool, mux: http.NewServeMux()}
	s.onClose(pool.Close)
	fail := func(err error) (*Sidecar, error) {
		s.close()
		return nil, err
	}

	// Shared parts: the probes, the breakers every provider call goes through, the keyring
	// of integration credentials, and the River client. The client exists before any stage:
	// stages add their workers to its bundle and insert through it; its queues and periodic
	// jobs follow from the configuration.
	ops, err := s.newEdge() // the public mux, or the internal one (VENDORHUB_INTERNAL_ADDR)
	if err != nil {
		return fail(err)
	}
	s.mux.HandleFunc("GET /healthz", serveHealthz)
	ops.HandleFunc("GET /readyz", s.serveReady)
	ops.Handle("GET /metrics", promhttp.Handler())
	breakers, err := breaker.New(cfg.Health.breakerConfig(), nil)
	if err != nil {
		return fail(err)
	}
	keyring, keyErr := s.newKeyring(on)
	workers := river.NewWorkers()
	queues := cfg.queues(on)
	s.works = len(queues) > 0
	s.river, err = jobs.NewClient(pool, jobs.Config{ID: cfg.InstanceID, Workers: workers, Queues: queues,
		PeriodicJobs: cfg.periodicJobs(on), Logger: logger})
	if err != nil {
		return fail(err)
	}

	// Stages, in data-flow order. Each returns what the hand-off runs; a stage left out
	// returns nothing.
	var rt realtimeStage
	if on.Realtime {
		if rt, err = s.newRealtime(); err != nil {
			return fail(fmt.Errorf("stage realtime: %w", err))
		}
	}
	var nt notifyStage
	if on.Notify {
		if nt, err = s.newNotify(ctx, workers, breakers); err != nil {
			return fail(fmt.Errorf("stage notify: %w", err))
		}
	}
	var wh webhooksStage
	if on.Webhooks {
		if keyErr != nil {
			return fail(fmt.Errorf("stage webhooks: %w", keyErr))
		}
		if wh, err = s.newWebhooks(workers, keyring, breakers); err != nil {
			return fail(fmt.Errorf("stage webhooks: %w", err))
		}
	}
	var cr crmStage
	if on.CRM {
		if keyErr != nil {
			return fail(fmt.Errorf("stage crm: %w", keyErr))
		}
		// Dubsado connections are fed through outbound webhook deliveries: only with the
		// webhooks stage, whose workers send them.
		if cr, err = s.newCRM(workers, keyring, breakers, wh.dubsado); err != nil {
			return fail(fmt.Errorf("stage crm: %w", err))
		}
	}
	var hl healthStage
	if on.Health {
		if keyErr != nil {
			keyring = nil // the dashboard then hides what needs it
		}
		if hl, err = s.newHealth(workers, breakers, keyring); err != nil {
			return fail(fmt.Errorf("stage health: %w", err))
		}
	}
	var probe handoff.Sink
	if cfg.HandoffProbe {
		river.AddWorker(workers, handoff.EventJobWorker{})
		probe = &handoff.JobSink{Jobs: s.river}
	}

	// The hand-off: every sink in one transaction with the cursor, in this order (all or
	// nothing, so the order only fixes which sink sees a batch first). The broadcasters,
	// best effort, get each transaction's events as the replication reader decodes it,
	// before its hand-off (handoff.Broadcaster says why that is safe).
	ho, err := handoff.New(pool, handoff.Config{Slot: cfg.Replication.Slot, Instance: cfg.InstanceID,
		Router: route.NewRouter(route.DefaultRules, route.Options{Logger: logger}), Logger: logger,
		Sinks: present([]handoff.Sink{
			rt.store,    // VENDORHUB_REALTIME_STORE: broadcasts into realtime.messages (replay, Broadcast from Database)
			cr.sink,     // integrations: connector jobs, Light Blue pushes, Dubsado catch-hook deliveries
			nt.planner,  // notifications: in-app rows and delivery jobs
			nt.status,   // provider delivery callbacks (Resend, Twilio) → status jobs
			wh.outbound, // vendors' outbound webhooks → delivery jobs
			probe,       // VENDORHUB_HANDOFF_PROBE: one job per event
		}),
		Broadcasters: present([]handoff.Broadcaster{
			hl.latency, // realtime latency for the health monitor
			rt.gateway, // membership.removed re-checks the gateway's channels: before the publisher,
			//               so a channel is suspended before any later event is broadcast to it
			rt.publisher, // Realtime broadcast (gateway or Supabase)
		}),
	})
	if err != nil {
		return fail(err)
	}

	// Replication feeds the hand-off.
	rcfg := cfg.Replication
	rcfg.Logger = logger
	if s.stream, err = replication.New(rcfg, ho, pool); err != nil {
		return fail(err)
	}
	return s, nil
}

// present returns the non-nil entries of xs (a stage left out contributes nil).
func present[T comparable](xs []T) []T {
	var zero T
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if x != zero {
			out = append(out, x)
		}
	}
	return out
}

// newPool returns the regular connection pool on DatabaseURL.
func newPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	pcfg.MaxConns = int32(cfg.DBMaxConns)
	pcfg.ConnConfig.RuntimeParams["application_name"] = cfg.InstanceID
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	return pool, nil
}

// queues are the River queues this process works: those of the stages that are on, and
// River's default queue (alerts, and anything inserted without a queue) when there is any.
func (c Config) queues(on stagesOn) map[string]river.QueueConfig {
	q := map[string]river.QueueConfig{}
	if on.Notify {
		q[notify.Queue] = river.QueueConfig{MaxWorkers: c.Notify.Workers, FetchCooldown: notify.FetchCooldown}
	}
	if on.Webhooks {
		q[outbound.QueueDefault] = river.QueueConfig{MaxWorkers: c.Webhooks.OutboundWorkers}
	}
	if on.CRM {
		for _, name := range connector.Queues {
			q[name] = river.QueueConfig{MaxWorkers: c.CRM.Workers}
		}
	}
	if len(q) > 0 || (on.Health && c.Health.AlertWebhookURL != "") {
		q[river.QueueDefault] = river.QueueConfig{MaxWorkers: c.RiverWorkers}
	}
	return q
}

// periodicJobs are River's periodic jobs: the connectors' scheduler.
func (c Config) periodicJobs(on stagesOn) []*river.PeriodicJob {
	if !on.CRM {
		return nil
	}
	return connector.PeriodicJobs(c.CRM.ScheduleInterval)
}

func cmpErr(f *preflight.Failure, err error) error {
	if err != nil {
		return err
	}
	return f
}

// goRun adds a background service run by Run; it must return when ctx ends. An error stops
// the sidecar.
func (s *Sidecar) goRun(name string, run func(ctx context.Context) error) {
	s.svcs = append(s.svcs, service{name: name, run: run})
}

// addComponent adds a component to /readyz that reports a state ("reachable", "running",
// …); an error makes the sidecar not ready.
func (s *Sidecar) addComponent(name string, fn func(ctx context.Context) (state string, err error)) {
	s.checks = append(s.checks, check{name: name, fn: fn})
}

// onClose adds fn to run when Run returns, after every service stopped (last added, first
// run).
func (s *Sidecar) onClose(fn func()) { s.closers = append(s.closers, fn) }

// Stream returns the replication stream.
func (s *Sidecar) Stream() *replication.Stream { return s.stream }

// Addr returns the bound HTTP address once Run listens ("" before).
func (s *Sidecar) Addr() string {
	s.boundMu.Lock()
	defer s.boundMu.Unlock()
	return s.bound
}

// Preflight runs the preflight checks against the sidecar's database.
func (s *Sidecar) Preflight(ctx context.Context) (*preflight.Report, error) {
	return preflight.Check(ctx, s.cfg.Preflight())
}

// Preflight is the preflight configuration of c.
func (c Config) Preflight() preflight.Config {
	return preflight.Config{URL: c.DatabaseURL, Slot: c.Replication.Slot, Publication: c.Replication.Publication,
		StatusInterval: c.Replication.StatusInterval}
}

// Run checks the database (preflight; a missing publication is created), starts the HTTP
// server, River, every stage's services and the replication stream, and runs until ctx ends
// or one of them fails. It then stops everything within ShutdownTimeout and returns nil
// after an orderly stop.
func (s *Sidecar) Run(ctx context.Context) error {
	defer s.close()
	log := s.log
	if created, err := preflight.EnsurePublication(ctx, s.pool, s.cfg.Replication.Publication); err != nil {
		return err
	} else if created {
		log.Warn("created the missing publication (no tables: events still flow); apply the migrations to add its tables",
			"publication", s.cfg.Replication.Publication)
	}
	rep, err := s.Preflight(ctx)
	for _, f := range rep.Findings {
		if f.Level != preflight.OK {
			log.Warn("preflight", "check", f.Check, "severity", f.Level, "finding", f.Message)
		}
	}
	if err != nil {
		return err
	}

	srv, err := s.listen() // edge servers: timeouts, recover, trusted proxies (edge.go)
	if err != nil {
		return err
	}
	log.Info("vendorhub sidecar running", "http", "http://"+s.Addr(), "instance", s.cfg.InstanceID,
		"slot", s.cfg.Replication.Slot, "stages", s.stages.names())

	g, gctx := errgroup.WithContext(ctx)
	srv.serve(g)
	if s.works {
		if err := s.river.Start(gctx); err != nil {
			srv.close()
			return fmt.Errorf("river: %w", err)
		}
	}
	for _, svc := range s.svcs {
		g.Go(func() error {
			if err := svc.run(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("%s: %w", svc.name, err)
			}
			return nil
		})
	}
	g.Go(func() error { return s.stream.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		if s.works {
			if err := s.river.Stop(sctx); err != nil {
				log.Warn("river: stop", "err", err)
			}
		}
		return srv.shutdown(sctx)
	})
	err = g.Wait()
	if err != nil && ctx.Err() == nil {
		return err
	}
	log.Info("vendorhub sidecar stopped")
	return nil
}

func (s *Sidecar) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// readiness is /readyz's body.
type readiness struct {
	Ready      bool                 `json:"ready"`
	Role       replication.Role     `json:"role"`
	Frontier   string               `json:"acknowledged_lsn"`
	Components map[string]component `json:"components"`
	Checks     map[string]string    `json:"checks,omitempty"`
}

// component is one part of /readyz: replication (streaming, standby, connecting) and every
// addComponent check.
type component struct {
	Ready bool   `json:"ready"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// serveReady reports 200 when the stream is leader or hot standby and every readiness check
// passes, 503 otherwise; the body names the role.
func (s *Sidecar) serveReady(w http.ResponseWriter, r *http.Request) {
	st := s.stream.Status()
	body := readiness{Role: st.Role, Frontier: lsnString(st.Frontier), Checks: map[string]string{},
		Components: map[string]component{}}
	body.Ready = st.Role == replication.RoleLeader || st.Role == replication.RoleStandby
	rep := component{Ready: body.Ready, State: map[replication.Role]string{replication.RoleLeader: "streaming",
		replication.RoleStandby: "standby"}[st.Role]}
	if rep.State == "" {
		rep.State = string(st.Role)
	}
	if !body.Ready && st.LastError != "" {
		body.Checks["replication"] = st.LastError
		rep.Error = st.LastError
	}
	body.Components["replication"] = rep
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for _, c := range s.checks {
		state, err := c.fn(ctx)
		comp := component{Ready: err == nil, State: state}
		if err != nil {
			body.Ready = false
			body.Checks[c.name] = err.Error()
			comp.Error = err.Error()
		}
		body.Components[c.name] = comp
	}
	w.Header().Set("Content-Type", "application/json")
	if !body.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func lsnString(lsn uint64) string { return fmt.Sprintf("%X/%X", uint32(lsn>>32), uint32(lsn)) }
