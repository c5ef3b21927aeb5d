// Package edge is the sidecar's HTTP edge: the http.Server every listener uses (timeouts,
// header limit, a recover middleware) and the one rule that says who the client of a request
// is behind trusted reverse proxies (ClientAddr, IsHTTPS), which every per-address limit
// keys on.
//
// Timeouts apply to plain requests. A WebSocket upgrade hijacks its connection; the handler
// clears the deadlines it inherited (ClearDeadlines) and bounds the socket itself (the
// realtime gateway's idle timeout and write janitor), so ReadTimeout and WriteTimeout never
// cut a long-lived socket.
package edge

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	ReadHeaderTimeoutDefault = 10 * time.Second
	ReadTimeoutDefault       = 30 * time.Second
	WriteTimeoutDefault      = 60 * time.Second
	IdleTimeoutDefault       = 120 * time.Second
	MaxHeaderBytesDefault    = 64 << 10
)

// Config configures a server.
type Config struct {
	// Name labels the listener in logs and metrics ("public", "internal"). Defaults to "public".
	Name string
	// ReadHeaderTimeout bounds reading a request's headers. Defaults to 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included. Defaults to 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end of the answer.
	// Defaults to 60 s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long. Defaults to 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers (431 beyond). Defaults to 64 KiB.
	MaxHeaderBytes int
	// Proxies are the trusted reverse proxies whose X-Forwarded-For/-Proto are believed.
	// Defaults to none (the peer is the client).
	Proxies *Proxies
	// Logger receives recovered panics and the server's own errors. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Name = cmp.Or(c.Name, "public")
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, ReadHeaderTimeoutDefault)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, ReadTimeoutDefault)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, WriteTimeoutDefault)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, IdleTimeoutDefault)
	c.MaxHeaderBytes = cmp.Or(c.MaxHeaderBytes, MaxHeaderBytesDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a negative limit.
func (c Config) Validate() error {
	if c.ReadHeaderTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.IdleTimeout < 0 || c.MaxHeaderBytes < 0 {
		return errors.New("edge: timeouts and MaxHeaderBytes must not be negative")
	}
	return nil
}

// NewServer returns a server for h: the configured limits, panics recovered (500, logged,
// counted), and the client of every request resolved through cfg.Proxies.
func NewServer(h http.Handler, cfg Config) *http.Server {
	cfg = cfg.WithDefaults()
	return &http.Server{
		Handler:           Recover(cfg.Logger, cfg.Name, cfg.Proxies.Handler(h)),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.With("listener", cfg.Name).Handler(), slog.LevelWarn),
	}
}

// ClearDeadlines lifts the server's read and write deadlines of w's connection, for a handler
// that bounds its own lifetime (a WebSocket before it upgrades).
func ClearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

var metricPanics = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "vendorhub_http_panics_total",
	Help: "HTTP handler panics recovered (answered 500), by listener.",
}, []string{"listener"})

// Collectors returns the package's Prometheus collectors, for the sidecar's registry.
func Collectors() []prometheus.Collector { return []prometheus.Collector{metricPanics} }

// Recover answers 500 for a handler that panics (or ends the connection when the answer had
// begun), logs the panic with its stack and counts it. http.ErrAbortHandler passes through.
func Recover(logger *slog.Logger, listener string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // the sentinel, compared by identity
				panic(v)
			}
			metricPanics.WithLabelValues(listener).Inc()
			logger.Error("http: handler panicked", "listener", listener, "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if tw.started {
				panic(http.ErrAbortHandler) // a half-written answer: end the connection
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("Internal Server Error\n"))
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter notes whether the answer has begun. It unwraps for http.ResponseController
// and keeps Hijack and Flush, which WebSocket upgrades and streaming answers need.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		t.started = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	t.started = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}

func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.started = true
	return http.NewResponseController(t.ResponseWriter).Hijack()
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
