// Package dashboard is vendorhub's operator dashboard and the demo pages of `vendorhub dev`:
// server-rendered html/template pages with a little vanilla JavaScript, every asset embedded,
// no build step.
//
// Operator pages (an operator login: a Supabase JWT whose app_metadata.role is "operator",
// a service_role key, or the configured operator token; open in dev mode):
//
//   - /                          overall health, replication lag chart, integration cards,
//     recent failures, webhook log, deliveries with their attempts, River queue, and the dev
//     mailbox in dev mode; it refreshes itself every few seconds (/dashboard/api/overview);
//   - /riverui/                  River's own UI for jobs (riverqueue.com/riverui);
//   - /admin/integrations        every connection, its webhook URL, status and last delivery,
//     and a "send test webhook" button that posts a correctly signed event through the real
//     ingress and reports the outcome;
//   - /admin/integration-health  the integration report's figures (package report).
//
// Demo pages (dev mode only; ?as=<seeded user> picks who is signed in, by email, email name
// or user id, and the page gets a freshly minted JWT for them):
//
//   - /demo/vendor-connections   a conversation through the browser build of supabase-js
//     against the embedded Realtime gateway: live messages, presence, sending with rpc();
//   - /demo/settings/notifications  preferences per category and channel, quiet hours and
//     time zone, push registration, all written with rpc() through the dev PostgREST endpoint.
package dashboard

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/secret"
)

//go:embed templates/*.html assets/*
var files embed.FS

// CookieName is the cookie holding an operator's session id after /login (never a token).
const CookieName = "vendorhub_session"

// CSRFHeader must be present on the dashboard's POSTs: a cross-site form cannot set it.
const CSRFHeader = "X-Vendorhub-Request"

// Config configures a Server.
type Config struct {
	// Dev opens the operator pages without login and serves the demo pages. Defaults to false.
	Dev bool
	// OperatorToken, when set, logs an operator in (Authorization: Bearer, or the /login
	// form). Defaults to "".
	OperatorToken string
	// Verifier checks operator JWTs, and lets demo pages mint user tokens' peers verify them.
	// Defaults to nil (only OperatorToken logs in).
	Verifier *auth.Verifier
	// JWTSecret signs the demo pages' user tokens (dev only). Defaults to auth.DevJWTSecret.
	JWTSecret string
	// Monitor supplies replication, slot and queue health. Required.
	Monitor *health.Monitor
	// Breakers supplies integration statistics and breaker states. Required.
	Breakers *breaker.Breakers
	// Ready returns the /readyz body. Defaults to none (the overview shows no components).
	Ready func(ctx context.Context) (ok bool, body json.RawMessage)
	// Keyring opens connection secrets for the test webhook. Defaults to nil (the button
	// reports that no keyring is configured).
	Keyring *secret.Keyring
	// IngressURL returns the base URL of this process's HTTP server ("http://127.0.0.1:54380"),
	// where the test webhook is posted. Required for the test webhook.
	IngressURL func() string
	// SupabaseJS is the path of the browser build of @supabase/supabase-js
	// (node_modules/@supabase/supabase-js/dist/umd/supabase.js), served to the demo pages.
	// Defaults to "" (the demo chat page explains how to install it).
	SupabaseJS string
	// Instance names this sidecar on the pages. Defaults to "".
	Instance string
	// PublicURL is the URL operators reach the dashboard at (VENDORHUB_PUBLIC_URL); when it is
	// https the session cookie is always Secure. Defaults to "" (Secure when the request came
	// over TLS, here or at a trusted proxy).
	PublicURL string
	// SessionTTL is how long a login lasts (at most the token's own expiry). Defaults to
	// SessionTTLDefault (12 h).
	SessionTTL time.Duration
	// Logger receives handler failures. Defaults to slog.Default().
	Logger *slog.Logger
}

// Server serves the dashboard, the admin pages and (dev) the demo pages.
type Server struct {
	pool *pgxpool.Pool
	cfg  Config
	tmpl map[string]*template.Template

	mu      sync.RWMutex
	riverui http.Handler
}

// New returns a Server reading through pool.
func New(pool *pgxpool.Pool, cfg Config) (*Server, error) {
	if pool == nil || cfg.Monitor == nil || cfg.Breakers == nil {
		return nil, errors.New("dashboard: New needs a pool, Config.Monitor and Config.Breakers")
	}
	cfg.JWTSecret = cmp.Or(cfg.JWTSecret, auth.DevJWTSecret)
	cfg.SessionTTL = cmp.Or(cfg.SessionTTL, SessionTTLDefault)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{pool: pool, cfg: cfg, tmpl: map[string]*template.Template{}}
	pages, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		s.tmpl[name] = t
	}
	return s, nil
}

// SetRiverUI mounts River's UI handler (created once the River client exists).
func (s *Server) SetRiverUI(h http.Handler) {
	s.mu.Lock()
	s.riverui = h
	s.mu.Unlock()
}

// Register adds the routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	assets, _ := fs.Sub(files, "assets")
	mux.Handle("GET /dashboard/assets/", http.StripPrefix("/dashboard/assets/", cacheControl(http.FileServerFS(assets))))
	mux.HandleFunc("GET /login", s.serveLogin)
	mux.HandleFunc("POST /login", s.serveLoginPost)
	mux.HandleFunc("POST /logout", s.serveLogout)

	mux.Handle("GET /{$}", s.operator(http.HandlerFunc(s.serveOverview)))
	mux.Handle("GET /dashboard/api/overview", s.operator(http.HandlerFunc(s.serveOverviewAPI)))
	mux.Handle("/riverui/", s.operator(http.HandlerFunc(s.serveRiverUI)))
	mux.Handle("GET /admin/integrations", s.operator(http.HandlerFunc(s.serveIntegrations)))
	mux.Handle("POST /admin/integrations/{id}/test-webhook", s.operator(http.HandlerFunc(s.serveTestWebhook)))
	mux.Handle("GET /admin/integration-health", s.operator(http.HandlerFunc(s.serveIntegrationHealth)))

	if s.cfg.Dev {
		mux.HandleFunc("GET /demo/vendor-connections", s.serveVendorConnections)
		mux.HandleFunc("GET /demo/settings/notifications", s.serveNotificationSettings)
		mux.HandleFunc("GET /demo/supabase.js", s.serveSupabaseJS)
		mux.HandleFunc("GET /demo/{$}", s.serveDemoIndex)
	}
}

func cacheControl(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// operator lets operators through; others are sent to /login (pages) or refused (API, 401).
func (s *Server) operator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isOperator(r) {
			if r.Method == http.MethodPost && r.Header.Get(CSRFHeader) == "" {
				http.Error(w, "missing "+CSRFHeader+" header", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if !s.loginPossible() {
			http.Error(w, "the dashboard needs an operator login: set VENDORHUB_OPERATOR_TOKEN or SUPABASE_JWT_SECRET",
				http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/dashboard/api/") &&
			strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="vendorhub dashboard"`)
		http.Error(w, "operator login required", http.StatusUnauthorized)
	})
}

func (s *Server) loginPossible() bool { return s.cfg.OperatorToken != "" || s.cfg.Verifier != nil }

// isOperator accepts an operator's Authorization: Bearer token (API clients) or session cookie.
func (s *Server) isOperator(r *http.Request) bool {
	if s.cfg.Dev {
		return true
	}
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, t, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		t = strings.TrimSpace(t)
		_, valid := s.operatorIdentity(t)
		return t != "" && valid
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return false
	}
	ok, err := s.validSession(r.Context(), c.Value)
	if err != nil {
		s.cfg.Logger.Warn("dashboard: reading the session failed", "err", err)
	}
	return ok
}

// IsOperatorClaims reports claims of an operator: app_metadata.role "operator" (set by the
// service role in Supabase Auth), or the service_role itself.
func IsOperatorClaims(c auth.Claims) bool {
	if c.Role == auth.RoleServiceRole {
		return true
	}
	var m struct {
		AppMetadata struct {
			Role string `json:"role"`
		} `json:"app_metadata"`
	}
	return json.Unmarshal(c.JSON, &m) == nil && m.AppMetadata.Role == "operator"
}

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", map[string]any{"Next": safeNext(r.URL.Query().Get("next")), "Error": ""})
}

func (s *Server) serveLoginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	id, ok := s.operatorIdentity(tok)
	if tok == "" || !ok {
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, r, "login", map[string]any{"Next": next, "Error": "That token is not an operator's."})
		return
	}
	value, exp, err := s.openSession(r.Context(), id)
	if err != nil {
		s.fail(w, "opening the session", err)
		return
	}
	dropLegacyCookie(w, r)
	http.SetCookie(w, s.sessionCookie(r, value, exp))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		if err := s.closeSession(r.Context(), c.Value); err != nil {
			s.fail(w, "closing the session", err)
			return
		}
	}
	dropLegacyCookie(w, r)
	http.SetCookie(w, s.sessionCookie(r, "", time.Time{}))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps the after-login redirect on this site: a path that starts with a single "/",
// holds no backslash, space or control character, and parses with neither scheme nor host.
// Anything else gives "/".
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if c <= ' ' || c == 0x7f || c == '\\' || unicode.IsControl(c) || unicode.IsSpace(c) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || strings.Contains(u.Path, `\`) {
		return "/"
	}
	return next
}

func (s *Server) serveRiverUI(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	h := s.riverui
	s.mu.RUnlock()
	if h == nil {
		http.Error(w, "River UI is starting", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// render executes page name with data inside the layout.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data map[string]any) {
	t, ok := s.tmpl[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	data["Dev"] = s.cfg.Dev
	data["Instance"] = s.cfg.Instance
	data["Path"] = r.URL.Path
	_, err := r.Cookie(CookieName)
	data["SignedIn"] = !s.cfg.Dev && err == nil
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	if err := t.ExecuteTemplate(w, "layout", data); err != nil {
		s.cfg.Logger.Error("dashboard: render", "page", name, "err", err)
	}
}

// fail answers a page whose data could not be read.
func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	s.cfg.Logger.Error("dashboard: "+what, "err", err)
	http.Error(w, what+": "+err.Error(), http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
