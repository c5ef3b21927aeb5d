package dashboard_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/dashboard"
	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

const opToken = "op-token-123"

// login posts the login form and returns the answer's Location and session cookie.
func login(t *testing.T, base, token, next string, header map[string]string) (*http.Response, *http.Cookie) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"token": {token}, "next": {next}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == dashboard.CookieName {
			return resp, c
		}
	}
	return resp, nil
}

func withCookie(c *http.Cookie) map[string]string {
	return map[string]string{"Cookie": c.Name + "=" + c.Value, "Accept": "text/html"}
}

// After login, the redirect stays on this site whatever next says.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, dashboard.Config{OperatorToken: opToken})
	for next, want := range map[string]string{
		"/ok?x=1":                 "/ok?x=1",
		"/admin/integrations":     "/admin/integrations",
		"/riverui/jobs?state=all": "/riverui/jobs?state=all",
		"//x":                     "/",
		"//evil.example/":         "/",
		"/\t/x":                   "/",
		"/\x00/x":                 "/",
		"/\n/evil.example":        "/",
		`/\x`:                     "/",
		`/\/evil.example`:         "/",
		"/%2F/evil.example":       "/", // decodes to //evil.example
		"/%5Cevil.example":        "/", // decodes to a backslash
		"https://x":               "/",
		"https:/x":                "/",
		"%2F%2Fx":                 "/",
		"javascript:alert(1)":     "/",
		"x":                       "/",
		" /x":                     "/",
		"/ /x":                    "/",
		"/\u3000/x":               "/",
		"":                        "/",
	} {
		resp, c := login(t, srv.URL, opToken, next, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "next %q", next)
		require.Equal(t, want, resp.Header.Get("Location"), "next %q", next)
		require.NotNil(t, c, "next %q", next)
	}
	// The login page carries only a safe next into its form.
	_, body := get(t, noRedirect(), srv.URL+"/login?next="+url.QueryEscape("//evil.example"), nil)
	require.Contains(t, body, `name="next" value="/"`)
}

// The cookie holds an opaque 256-bit session id, never the token; the session lives in
// Postgres (hashed), any instance on the database honours it, and logout deletes it.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSeededDB(t)
	serve := func(cfg dashboard.Config) *httptest.Server {
		mux := http.NewServeMux()
		newDashboard(t, db, cfg).Register(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	a := serve(dashboard.Config{OperatorToken: opToken})
	b := serve(dashboard.Config{OperatorToken: opToken}) // a second instance

	resp, c := login(t, a.URL, opToken, "/admin/integrations", nil)
	require.Equal(t, "/admin/integrations", resp.Header.Get("Location"))
	require.NotNil(t, c)
	require.NotContains(t, c.Value, opToken)
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	require.NoError(t, err)
	require.Len(t, raw, 32, "256 random bits")
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "/", c.Path)
	require.False(t, c.Secure, "plain http without an https public URL")
	require.Greater(t, c.MaxAge, 11*3600)
	require.LessOrEqual(t, c.MaxAge, 12*3600)

	h := sha256.Sum256(raw)
	var operator, method string
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select operator, method from vendorhub.dashboard_sessions where id_hash = $1`, h[:]).
		Scan(&operator, &method))
	require.Equal(t, "operator_token", method)
	var n int
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select count(*) from vendorhub.dashboard_sessions
		where position(convert_to($1, 'UTF8') in id_hash) > 0 or operator like '%' || $1 || '%'`, opToken).Scan(&n))
	require.Zero(t, n, "the token is stored nowhere")

	for _, srv := range []*httptest.Server{a, b} {
		resp, body := get(t, noRedirect(), srv.URL+"/admin/integrations", withCookie(c))
		require.Equal(t, http.StatusOK, resp.StatusCode, srv.URL)
		require.Contains(t, body, `data-testid="logout"`)
	}
	// A made-up id, or the token itself in the cookie, opens nothing.
	for _, v := range []string{base64.RawURLEncoding.EncodeToString(make([]byte, 32)), opToken} {
		resp, _ := get(t, noRedirect(), a.URL+"/admin/integrations", withCookie(&http.Cookie{Name: dashboard.CookieName, Value: v}))
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}

	// A rotated operator token ends its sessions.
	rotated := serve(dashboard.Config{OperatorToken: "op-token-456"})
	resp, _ = get(t, noRedirect(), rotated.URL+"/admin/integrations", withCookie(c))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	// Logout on one instance deletes the session for all, and clears the cookie.
	req, _ := http.NewRequest(http.MethodPost, b.URL+"/logout", nil)
	req.Header.Set("Cookie", c.Name+"="+c.Value)
	resp, err = noRedirect().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/login", resp.Header.Get("Location"))
	require.Len(t, resp.Cookies(), 1)
	require.Equal(t, dashboard.CookieName, resp.Cookies()[0].Name)
	require.Negative(t, resp.Cookies()[0].MaxAge)
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select count(*) from vendorhub.dashboard_sessions where id_hash = $1`, h[:]).Scan(&n))
	require.Zero(t, n)
	resp, _ = get(t, noRedirect(), a.URL+"/admin/integrations", withCookie(c))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	// Expired sessions stop working and are pruned.
	_, c2 := login(t, a.URL, opToken, "/", nil)
	require.NotNil(t, c2)
	_, err = db.Pool.Exec(t.Context(), `update vendorhub.dashboard_sessions set created_at = now() - interval '13 hours', expires_at = now() - interval '1 hour'`)
	require.NoError(t, err)
	resp, _ = get(t, noRedirect(), a.URL+"/admin/integrations", withCookie(c2))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	pruned, err := newDashboard(t, db, dashboard.Config{OperatorToken: opToken}).PruneSessions(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 1, pruned)
}

// A JWT login's session ends with the token, and names the operator.
func TestSessionOfAJWT(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{JWTSecret: auth.DevJWTSecret})
	require.NoError(t, err)
	db, srv := newServer(t, dashboard.Config{Verifier: v})
	svc, err := auth.MintAPIKey(auth.DevJWTSecret, auth.RoleServiceRole)
	require.NoError(t, err)
	_, c := login(t, srv.URL, svc, "/", nil)
	require.NotNil(t, c)
	require.NotContains(t, c.Value, svc)
	var method string
	var capped bool
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select method, expires_at <= now() + interval '12 hours' from vendorhub.dashboard_sessions`).
		Scan(&method, &capped))
	require.Equal(t, "service_role", method)
	require.True(t, capped, "a long-lived key still gets at most the session TTL")
	resp, _ := get(t, noRedirect(), srv.URL+"/admin/integrations", withCookie(c))
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// The cookie is Secure with an https public URL, or over TLS at a trusted proxy; an untrusted
// peer's X-Forwarded-Proto does not count.
func TestSessionCookieSecure(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSeededDB(t)
	serve := func(cfg dashboard.Config, proxies string) string {
		p, err := edge.ParseProxies(proxies)
		require.NoError(t, err)
		mux := http.NewServeMux()
		newDashboard(t, db, cfg).Register(mux)
		srv := httptest.NewServer(p.Handler(mux))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	https := map[string]string{"X-Forwarded-Proto": "https"}

	_, c := login(t, serve(dashboard.Config{OperatorToken: opToken, PublicURL: "https://hub.example.com"}, ""), opToken, "/", nil)
	require.True(t, c.Secure, "https public URL")
	_, c = login(t, serve(dashboard.Config{OperatorToken: opToken}, "127.0.0.0/8"), opToken, "/", https)
	require.True(t, c.Secure, "TLS ended at a trusted proxy")
	_, c = login(t, serve(dashboard.Config{OperatorToken: opToken}, "10.0.0.0/8"), opToken, "/", https)
	require.False(t, c.Secure, "an untrusted peer's X-Forwarded-Proto")
	_, c = login(t, serve(dashboard.Config{OperatorToken: opToken, PublicURL: "http://127.0.0.1:54380"}, ""), opToken, "/", nil)
	require.False(t, c.Secure)
}
