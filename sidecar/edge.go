package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wedsync/vendorhub/internal/edge"
)

// HTTPConfig configures the HTTP edge: server limits, trusted proxies and the optional
// internal listener of /metrics and /readyz (internal/edge).
type HTTPConfig struct {
	// InternalAddr, when set, serves /metrics and /readyz (and /healthz) on this address
	// only; the public listener answers 404 for them. VENDORHUB_INTERNAL_ADDR. Defaults to ""
	// (they stay on VENDORHUB_HTTP_ADDR, which binds loopback by default).
	// /debug/pprof/ is served there too, never on the public listener.
	InternalAddr string
	// TrustedProxies lists the reverse proxies (CIDRs or addresses, comma-separated) whose
	// X-Forwarded-For and X-Forwarded-Proto are believed. VENDORHUB_TRUSTED_PROXIES. Defaults
	// to "" (the peer address is the client).
	TrustedProxies string
	// ReadHeaderTimeout bounds reading request headers. VENDORHUB_HTTP_READ_HEADER_TIMEOUT.
	// Defaults to edge.ReadHeaderTimeoutDefault.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request. VENDORHUB_HTTP_READ_TIMEOUT.
	// Defaults to edge.ReadTimeoutDefault.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from its headers to the end of its answer (WebSockets
	// excepted). VENDORHUB_HTTP_WRITE_TIMEOUT. Defaults to edge.WriteTimeoutDefault.
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. VENDORHUB_HTTP_IDLE_TIMEOUT.
	// Defaults to edge.IdleTimeoutDefault.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps request headers. VENDORHUB_HTTP_MAX_HEADER_BYTES.
	// Defaults to edge.MaxHeaderBytesDefault.
	MaxHeaderBytes int
}

// validate reports every invalid field of a defaulted HTTPConfig, naming its variable.
func (c HTTPConfig) validate() error {
	var errs []error
	if _, err := edge.ParseProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("VENDORHUB_TRUSTED_PROXIES: %w", err))
	}
	if c.MaxHeaderBytes < 1 {
		errs = append(errs, fmt.Errorf("VENDORHUB_HTTP_MAX_HEADER_BYTES=%d: want a positive number", c.MaxHeaderBytes))
	}
	return errors.Join(errs...)
}

// edgeState is the sidecar's HTTP edge: trusted proxies, the internal mux, bound addresses.
type edgeState struct {
	proxies  *edge.Proxies
	internal *http.ServeMux // nil without VENDORHUB_INTERNAL_ADDR
	bound    string
}

// newEdge parses the edge configuration and returns the mux /metrics and /readyz go on.
func (s *Sidecar) newEdge() (*http.ServeMux, error) {
	p, err := edge.ParseProxies(s.cfg.HTTP.TrustedProxies) // validated by Config.Validate
	if err != nil {
		return nil, fmt.Errorf("VENDORHUB_TRUSTED_PROXIES: %w", err)
	}
	if err := registerCollectors(edge.Collectors()...); err != nil {
		return nil, err
	}
	s.edge.proxies = p
	if s.cfg.HTTP.InternalAddr == "" {
		return s.mux, nil
	}
	s.edge.internal = http.NewServeMux()
	s.edge.internal.HandleFunc("GET /healthz", serveHealthz)
	// Go's profiles (CPU, heap, goroutines) for operators: never on the public listener.
	s.edge.internal.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.edge.internal.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.edge.internal.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	for _, p := range []string{"/metrics", "/readyz"} {
		s.mux.Handle(p, http.NotFoundHandler()) // only on the internal listener
	}
	return s.edge.internal, nil
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Proxies returns the trusted reverse proxies (nil: none).
func (s *Sidecar) Proxies() *edge.Proxies { return s.edge.proxies }

// InternalAddr returns the bound internal address once Run listens ("" before, or without
// VENDORHUB_INTERNAL_ADDR).
func (s *Sidecar) InternalAddr() string {
	s.boundMu.Lock()
	defer s.boundMu.Unlock()
	return s.edge.bound
}

// servers are the running HTTP listeners: public and, when configured, internal.
type servers struct {
	list []*http.Server
	lns  []net.Listener
}

// listen binds the public listener (and the internal one) with edge servers.
func (s *Sidecar) listen() (*servers, error) {
	hc := s.cfg.HTTP
	cfg := edge.Config{ReadHeaderTimeout: hc.ReadHeaderTimeout, ReadTimeout: hc.ReadTimeout, WriteTimeout: hc.WriteTimeout,
		IdleTimeout: hc.IdleTimeout, MaxHeaderBytes: hc.MaxHeaderBytes, Proxies: s.edge.proxies, Logger: s.log}
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("VENDORHUB_HTTP_ADDR %s: %w", s.cfg.HTTPAddr, err)
	}
	sv := &servers{list: []*http.Server{edge.NewServer(s.mux, cfg)}, lns: []net.Listener{ln}}
	s.boundMu.Lock()
	s.bound = ln.Addr().String()
	s.boundMu.Unlock()
	if s.edge.internal != nil {
		iln, err := net.Listen("tcp", hc.InternalAddr)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("VENDORHUB_INTERNAL_ADDR %s: %w", hc.InternalAddr, err)
		}
		cfg.Name = "internal"
		sv.list = append(sv.list, edge.NewServer(s.edge.internal, cfg))
		sv.lns = append(sv.lns, iln)
		s.boundMu.Lock()
		s.edge.bound = iln.Addr().String()
		s.boundMu.Unlock()
		s.log.Info("internal listener: /metrics, /readyz, /healthz, /debug/pprof/", "http", "http://"+iln.Addr().String())
	}
	return sv, nil
}

func (sv *servers) serve(g *errgroup.Group) {
	for i, srv := range sv.list {
		g.Go(func() error {
			if err := srv.Serve(sv.lns[i]); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
	}
}

func (sv *servers) close() {
	for _, srv := range sv.list {
		_ = srv.Close()
	}
}

func (sv *servers) shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range sv.list {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
