// Package sidecar is vendorhub's composition root: the only place that names concrete
// stages, sinks and providers. New builds a sidecar from a Config — one pgx pool, one HTTP
// server with a mux every stage registers on, one River client with the Workers every stage
// adds to, the durable Sinks and best-effort Broadcasters of the hand-off, and the
// replication stream — and Run runs it until its context ends.
//
// A stage wires itself from its own file (sidecar/<stage>.go) with RegisterStage in an init
// function; its wire function adds sinks, broadcasters, workers, queues, HTTP handlers,
// readiness checks and background services to the *Sidecar. Metrics are registered by each
// package on prometheus.DefaultRegisterer and served on /metrics.
package sidecar

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/preflight"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/route"
)

// StagesNone as the only entry of Config.Stages wires no stage: the replication pipeline
// alone (with the probe sink when HandoffProbe is set).
const StagesNone = "none"

// WireFunc wires one stage into s. It runs in New, before the River client exists: use
// s.River() only at run time (e.g. inside Sink.HandOff or a service).
type WireFunc func(ctx context.Context, s *Sidecar) error

type stage struct {
	name string
	wire WireFunc
}

var (
	stagesMu sync.Mutex
	stages   []stage
)

// RegisterStage registers a stage under name; call it from an init function. Stages are
// wired in registration order (init order: file name order within package sidecar). It
// panics on a duplicate name.
func RegisterStage(name string, wire WireFunc) {
	stagesMu.Lock()
	defer stagesMu.Unlock()
	for _, st := range stages {
		if st.name == name {
			panic("sidecar: stage " + name + " registered twice")
		}
	}
	stages = append(stages, stage{name: name, wire: wire})
}

// StageNames returns the registered stage names, in wiring order.
func StageNames() []string {
	stagesMu.Lock()
	defer stagesMu.Unlock()
	names := make([]string, len(stages))
	for i, st := range stages {
		names[i] = st.name
	}
	return names
}

// Sidecar is one vendorhub process. Stages add to its exported fields while New wires them.
type Sidecar struct {
	// Config is the defaulted configuration.
	Config Config
	// Logger is the process logger.
	Logger *slog.Logger
	// Pool is the regular connection pool on DatabaseURL.
	Pool *pgxpool.Pool
	// Mux is the HTTP server's mux: register "/webhooks/…", "/realtime/v1/…", "/" here.
	Mux *http.ServeMux
	// Workers is River's shared worker bundle: river.AddWorker(s.Workers, w).
	Workers *river.Workers
	// Queues are the River queues this process works; AddQueue adds one.
	Queues map[string]river.QueueConfig
	// Router routes events for every sink and broadcaster.
	Router *route.Router
	// Sinks are called inside every hand-off transaction, in order.
	Sinks []handoff.Sink
	// Broadcasters receive routed events after each hand-off committed (best effort).
	Broadcasters []handoff.Broadcaster

	river    *river.Client[pgx.Tx]
	handoff  *handoff.Handoff
	stream   *replication.Stream
	services []service
	checks   []check
	closers  []func()
	boundMu  sync.Mutex
	bound    string
	edge     edgeState
}

type service struct {
	name string
	run  func(ctx context.Context) error
}

type check struct {
	name string
	fn   func(ctx context.Context) (string, error)
}

// Go adds a background service run by Run; it must return when ctx ends. An error stops the
// sidecar.
func (s *Sidecar) Go(name string, run func(ctx context.Context) error) {
	s.services = append(s.services, service{name: name, run: run})
}

// AddReadiness adds a check to /readyz: the sidecar is ready when every check returns nil.
func (s *Sidecar) AddReadiness(name string, fn func(ctx context.Context) error) {
	s.AddComponent(name, func(ctx context.Context) (string, error) { return "ok", fn(ctx) })
}

// AddComponent adds a component to /readyz that reports a state ("reachable", "running", …);
// an error makes the sidecar not ready.
func (s *Sidecar) AddComponent(name string, fn func(ctx context.Context) (state string, err error)) {
	s.checks = append(s.checks, check{name: name, fn: fn})
}

// AddQueue makes this process work River queue name with maxWorkers workers.
func (s *Sidecar) AddQueue(name string, maxWorkers int) {
	s.Queues[name] = river.QueueConfig{MaxWorkers: maxWorkers}
}

// OnClose adds fn to run when Run returns, after every service stopped (last added, first run).
func (s *Sidecar) OnClose(fn func()) { s.closers = append(s.closers, fn) }

// River returns the River client (nil until New returns).
func (s *Sidecar) River() *river.Client[pgx.Tx] { return s.river }

// Stream returns the replication stream.
func (s *Sidecar) Stream() *replication.Stream { return s.stream }

// Addr returns the bound HTTP address once Run listens ("" before).
func (s *Sidecar) Addr() string {
	s.boundMu.Lock()
	defer s.boundMu.Unlock()
	return s.bound
}

// New builds a sidecar: pool, HTTP mux, River workers, router, then every stage's wiring,
// then the River client, the hand-off and the replication stream. It connects to nothing
// yet (the pool connects lazily).
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Sidecar, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	if pf, err := preflight.PoolerError(cfg.DatabaseURL); err != nil || pf != nil {
		return nil, cmpErr(pf, err)
	}
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
	s := &Sidecar{
		Config:  cfg,
		Logger:  logger,
		Pool:    pool,
		Mux:     http.NewServeMux(),
		Workers: river.NewWorkers(),
		Queues:  map[string]river.QueueConfig{},
		Router:  route.NewRouter(route.DefaultRules, route.Options{Logger: logger}),
	}
	s.OnClose(pool.Close)
	fail := func(err error) (*Sidecar, error) {
		s.close()
		return nil, err
	}

	ops, err := s.newEdge() // the public mux, or the internal one (VENDORHUB_INTERNAL_ADDR)
	if err != nil {
		return fail(err)
	}
	s.Mux.HandleFunc("GET /healthz", serveHealthz)
	ops.HandleFunc("GET /readyz", s.serveReady)
	ops.Handle("GET /metrics", promhttp.Handler())

	selected, err := s.selectStages()
	if err != nil {
		return fail(err)
	}
	for _, st := range selected {
		if err := st.wire(ctx, s); err != nil {
			return fail(fmt.Errorf("stage %s: %w", st.name, err))
		}
	}
	if cfg.HandoffProbe {
		river.AddWorker(s.Workers, handoff.EventJobWorker{})
		s.Sinks = append(s.Sinks, &handoff.JobSink{Client: s.River})
	}
	if len(s.Queues) > 0 {
		if _, ok := s.Queues[river.QueueDefault]; !ok {
			s.AddQueue(river.QueueDefault, cfg.RiverWorkers)
		}
	}
	s.river, err = jobs.NewClient(pool, jobs.Config{ID: cfg.InstanceID, Workers: s.Workers, Queues: s.Queues, Logger: logger})
	if err != nil {
		return fail(err)
	}
	s.handoff, err = handoff.New(pool, handoff.Config{Slot: cfg.Slot, Instance: cfg.InstanceID, Sinks: s.Sinks,
		Broadcasters: s.Broadcasters, Router: s.Router, Logger: logger})
	if err != nil {
		return fail(err)
	}
	s.stream, err = replication.New(cfg.replication(logger), s.handoff, pool)
	if err != nil {
		return fail(err)
	}
	return s, nil
}

func cmpErr(f *preflight.Failure, err error) error {
	if err != nil {
		return err
	}
	return f
}

func (c Config) replication(logger *slog.Logger) replication.Config {
	return replication.Config{
		ConnString:           c.DatabaseURL,
		Slot:                 c.Slot,
		Publication:          c.Publication,
		InstanceID:           c.InstanceID,
		StatusInterval:       c.StatusInterval,
		ReceiveTimeout:       c.ReceiveTimeout,
		HeartbeatInterval:    c.HeartbeatInterval,
		ReconnectMax:         c.ReconnectMax,
		StandbyRetry:         c.StandbyRetry,
		QueueSize:            c.QueueSize,
		BatchMaxTransactions: c.HandoffMaxTransactions,
		BatchMaxEvents:       c.HandoffMaxEvents,
		BatchWait:            c.HandoffWait,
		ShutdownTimeout:      c.ShutdownTimeout,
		Logger:               logger,
	}.WithDefaults()
}

func (s *Sidecar) selectStages() ([]stage, error) {
	stagesMu.Lock()
	all := slices.Clone(stages)
	stagesMu.Unlock()
	if len(s.Config.Stages) == 0 {
		return all, nil
	}
	if len(s.Config.Stages) == 1 && s.Config.Stages[0] == StagesNone {
		return nil, nil
	}
	var out []stage
	for _, name := range s.Config.Stages {
		i := slices.IndexFunc(all, func(st stage) bool { return st.name == name })
		if i < 0 {
			return nil, fmt.Errorf("VENDORHUB_STAGES: unknown stage %q (known: %v)", name, StageNames())
		}
		out = append(out, all[i])
	}
	return out, nil
}

// Preflight runs the preflight checks against the sidecar's database.
func (s *Sidecar) Preflight(ctx context.Context) (*preflight.Report, error) {
	return preflight.Check(ctx, preflight.Config{URL: s.Config.DatabaseURL, Slot: s.Config.Slot,
		Publication: s.Config.Publication, StatusInterval: s.Config.StatusInterval})
}

// Run checks the database (preflight; a missing publication is created), starts the HTTP
// server, River, every stage's services and the replication stream, and runs until ctx ends
// or one of them fails. It then stops everything within ShutdownTimeout and returns nil
// after an orderly stop.
func (s *Sidecar) Run(ctx context.Context) error {
	defer s.close()
	log := s.Logger
	if created, err := preflight.EnsurePublication(ctx, s.Pool, s.Config.Publication); err != nil {
		return err
	} else if created {
		log.Warn("created the missing publication (no tables: events still flow); apply the migrations to add its tables",
			"publication", s.Config.Publication)
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

	srv, err := s.listen() // edge servers: timeouts, recover, trusted proxies (sidecar/edge.go)
	if err != nil {
		return err
	}
	log.Info("vendorhub sidecar running", "http", "http://"+s.Addr(), "instance", s.Config.InstanceID,
		"slot", s.Config.Slot, "stages", s.stageList())

	g, gctx := errgroup.WithContext(ctx)
	srv.serve(g)
	if len(s.Queues) > 0 {
		if err := s.river.Start(gctx); err != nil {
			srv.close()
			return fmt.Errorf("river: %w", err)
		}
	}
	for _, svc := range s.services {
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
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Config.ShutdownTimeout)
		defer cancel()
		if len(s.Queues) > 0 {
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

func (s *Sidecar) stageList() []string {
	if len(s.Config.Stages) > 0 {
		return s.Config.Stages
	}
	return StageNames()
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
// AddComponent/AddReadiness check.
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
