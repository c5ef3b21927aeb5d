package dashboard_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/dashboard"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/secret"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newServer(t *testing.T, cfg dashboard.Config) (*pgtest.DB, *httptest.Server) {
	t.Helper()
	db := pgtest.NewSeededDB(t)
	mux := http.NewServeMux()
	newDashboard(t, db, cfg).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return db, srv
}

// newDashboard returns a dashboard on db.
func newDashboard(t *testing.T, db *pgtest.DB, cfg dashboard.Config) *dashboard.Server {
	t.Helper()
	mon, err := health.NewMonitor(db.Pool, health.MonitorConfig{Slot: "dash_test", Instance: "dash", SampleInterval: -1, Logger: quiet})
	require.NoError(t, err)
	_, err = mon.Poll(t.Context())
	require.NoError(t, err)
	b, err := breaker.New(breaker.Config{}, nil)
	require.NoError(t, err)
	cfg.Monitor, cfg.Breakers, cfg.Logger = mon, b, quiet
	s, err := dashboard.New(db.Pool, cfg)
	require.NoError(t, err)
	return s
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Outside dev mode the dashboard needs an operator: the token, a JWT with the operator claim,
// or the service role; anyone else is sent to /login (pages) or refused (API).
func TestOperatorLogin(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.Config{JWTSecret: auth.DevJWTSecret})
	require.NoError(t, err)
	_, srv := newServer(t, dashboard.Config{OperatorToken: "op-token-123", Verifier: v})
	c := noRedirect()

	resp, _ := get(t, c, srv.URL+"/", map[string]string{"Accept": "text/html"})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next=%2F", resp.Header.Get("Location"))
	resp, _ = get(t, c, srv.URL+"/dashboard/api/overview", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = get(t, c, srv.URL+"/demo/vendor-connections?as=lena", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no demo pages outside dev mode")

	resp, body := get(t, c, srv.URL+"/", map[string]string{"Authorization": "Bearer op-token-123"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `data-testid="overall-health"`)

	user := auth.UserToken{UserID: "10000000-0000-4000-8000-000000000004", Email: "lena@lumenandlace.example.com"}
	plain, err := auth.MintUser(auth.DevJWTSecret, user)
	require.NoError(t, err)
	resp, _ = get(t, c, srv.URL+"/dashboard/api/overview", map[string]string{"Authorization": "Bearer " + plain})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a user without the operator claim")

	claims := user.Claims()
	claims["app_metadata"] = map[string]any{"provider": "email", "role": "operator"}
	op, err := auth.MintHS256(auth.DevJWTSecret, jwt.MapClaims(claims))
	require.NoError(t, err)
	resp, body = get(t, c, srv.URL+"/dashboard/api/overview", map[string]string{"Authorization": "Bearer " + op})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var ov struct {
		Level    string            `json:"level"`
		Sections map[string]string `json:"sections"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &ov))
	require.Contains(t, ov.Sections["integrations"], "HoneyBook (via Zapier)")
	require.Contains(t, ov.Sections["deliveries"], "Wild Stem Florals is booked")
	require.NotContains(t, ov.Sections, "mailbox-only-in-dev")

	svc, err := auth.MintAPIKey(auth.DevJWTSecret, auth.RoleServiceRole)
	require.NoError(t, err)
	resp, _ = get(t, c, srv.URL+"/admin/integration-health", map[string]string{"Authorization": "Bearer " + svc})
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The login form opens a session (sessions_test.go looks at its cookie); a wrong token is refused.
	resp, err = c.PostForm(srv.URL+"/login", url.Values{"token": {"nope"}, "next": {"/admin/integrations"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = c.PostForm(srv.URL+"/login", url.Values{"token": {"op-token-123"}, "next": {"//evil.example/"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"), "no redirect off the site")
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == dashboard.CookieName {
			cookie = ck
		}
	}
	require.NotNil(t, cookie)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	resp, _ = get(t, c, srv.URL+"/admin/integrations", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value})
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// A POST without the CSRF header is refused even for an operator.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/integrations/60000000-0000-4000-8000-000000000001/test-webhook", nil)
	req.Header.Set("Authorization", "Bearer op-token-123")
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestNoLoginConfiguredAnswers503(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, dashboard.Config{})
	resp, body := get(t, noRedirect(), srv.URL+"/", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, "VENDORHUB_OPERATOR_TOKEN")
}

func post(t *testing.T, u string) (int, dashboard.TestResult) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, nil)
	req.Header.Set(dashboard.CSRFHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r dashboard.TestResult
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	return resp.StatusCode, r
}

// The test webhook refuses what it cannot send, with a reason, and writes nothing.
func TestTestWebhookRefusals(t *testing.T) {
	t.Parallel()
	k, err := secret.ParseKeyring("kid1:" + secret.EncodeKey(secret.GenerateKey()))
	require.NoError(t, err)
	db, srv := newServer(t, dashboard.Config{Dev: true, Keyring: k, IngressURL: func() string { return "http://127.0.0.1:1" }})
	base := srv.URL + "/admin/integrations/"

	code, r := post(t, base+"not-a-uuid/test-webhook")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, r.Message, "UUID")
	code, r = post(t, base+"60000000-0000-4000-8000-0000000000ff/test-webhook")
	require.Equal(t, http.StatusNotFound, code)
	require.False(t, r.OK)
	code, r = post(t, base+"60000000-0000-4000-8000-000000000003/test-webhook") // Google Calendar
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, r.Message, "google_calendar")

	// Dev mode provisions a secret, then reports that the ingress did not answer.
	code, r = post(t, base+"60000000-0000-4000-8000-000000000002/test-webhook")
	require.Equal(t, http.StatusBadGateway, code)
	require.False(t, r.OK)
	require.Contains(t, r.Message, "did not answer")
	var n int
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select count(*) from vendorhub.integration_credentials
		where connection_id = '60000000-0000-4000-8000-000000000002'`).Scan(&n))
	require.Equal(t, 1, n, "dev mode gave the Dubsado connection a secret")
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select count(*) from vendorhub.webhook_inbox`).Scan(&n))
	require.Zero(t, n)
}

// Demo pages pick the user and show only what RLS lets them see.
func TestDemoPagesRunAsTheChosenUser(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, dashboard.Config{Dev: true})
	c := noRedirect()
	resp, body := get(t, c, srv.URL+"/demo/vendor-connections?as=oscar", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "Kyoto shoot")
	require.NotContains(t, body, "Planning with Lumen &amp; Lace", "another wedding's conversation")
	require.NotContains(t, body, "golden hour")

	resp, body = get(t, c, srv.URL+"/demo/vendor-connections?as=oscar&conversation=40000000-0000-4000-8000-000000000001", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `data-testid="not-participant"`)
	require.NotContains(t, body, "30 minutes for couple portraits", "no messages of a conversation he is not part of")

	resp, body = get(t, c, srv.URL+"/demo/vendor-connections?as=lena&conversation=40000000-0000-4000-8000-000000000001", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "30 minutes for couple portraits")
	require.Contains(t, body, `data-testid="vendor-message-input"`)
	require.Contains(t, body, `data-testid="send-vendor-message"`)

	resp, body = get(t, c, srv.URL+"/demo/settings/notifications?as=sam@wildstem.example.com", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `data-testid="vendor-notifications-toggle"`)
	require.Contains(t, body, `data-testid="push-notifications-enable"`)
	require.Contains(t, body, `value="20:00"`, "Sam's seeded quiet hours")

	resp, _ = get(t, c, srv.URL+"/demo/vendor-connections?as=nobody-here", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = get(t, c, srv.URL+"/demo/vendor-connections?as=lena&conversation=1%27%20or%201=1", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = get(t, c, srv.URL+"/admin/integration-health?range=forever", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, body = get(t, c, srv.URL+"/admin/integrations", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `data-testid="honeybook-webhook-url">`+srv.URL+"/webhooks/honeybook/60000000-0000-4000-8000-000000000001<")
	require.True(t, strings.Contains(body, `data-testid="dubsado-webhook-url"`))
}
