package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/report"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
)

// inboundSource maps a connection kind to its ingress source segment.
var inboundSource = map[string]webhook.Source{
	"honeybook":       webhook.SourceHoneyBook,
	"dubsado":         webhook.SourceDubsado,
	"google_calendar": webhook.SourceGoogleCalendar,
	"outlook":         webhook.SourceOutlook,
}

// testable kinds are those a shared-secret test webhook can be signed for (Zapier bridges).
var testable = map[string]bool{"honeybook": true, "dubsado": true}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// connectionRow is one row of /admin/integrations.
type connectionRow struct {
	ID, Kind, Title, Vendor, Status string
	WebhookURL                      string
	TestID                          string // data-testid of the URL: "<kind>-webhook-url" for the first of a kind
	Testable                        bool
	HasSecret                       bool
	LastSync, LastWebhook           *time.Time
	LastError                       string
	Received7d                      int64
}

func (s *Server) connections(ctx context.Context, base string) ([]connectionRow, error) {
	rows, err := s.pool.Query(ctx, `
select c.id::text, c.kind, c.display_name, v.name, c.status, c.last_sync_at,
       (select max(i.received_at) from vendorhub.webhook_inbox i where i.connection_id = c.id),
       coalesce(c.last_error, ''),
       exists (select 1 from vendorhub.integration_credentials k where k.connection_id = c.id),
       (select count(*) from vendorhub.webhook_inbox i where i.connection_id = c.id and i.received_at > now() - interval '7 days')
from public.integration_connections c join public.vendors v on v.id = c.vendor_id
order by c.kind, c.display_name, c.id`)
	if err != nil {
		return nil, fmt.Errorf("dashboard: connections: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connectionRow, error) {
		var x connectionRow
		return x, r.Scan(&x.ID, &x.Kind, &x.Title, &x.Vendor, &x.Status, &x.LastSync, &x.LastWebhook, &x.LastError,
			&x.HasSecret, &x.Received7d)
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: connections: %w", err)
	}
	first := map[string]bool{}
	for i := range out {
		c := &out[i]
		if src, ok := inboundSource[c.Kind]; ok {
			c.WebhookURL = strings.TrimSuffix(base, "/") + "/webhooks/" + string(src) + "/" + c.ID
			if !first[c.Kind] {
				first[c.Kind] = true
				c.TestID = strings.ReplaceAll(c.Kind, "_", "-") + "-webhook-url"
			}
		}
		c.Testable = testable[c.Kind]
	}
	return out, nil
}

// baseURL is the URL senders reach this server at, as the browser sees it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if edge.IsHTTPS(r) { // TLS here, or X-Forwarded-Proto from a trusted proxy
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) serveIntegrations(w http.ResponseWriter, r *http.Request) {
	conns, err := s.connections(r.Context(), baseURL(r))
	if err != nil {
		s.fail(w, "integrations", err)
		return
	}
	s.render(w, r, "integrations", map[string]any{"Title": "Integrations", "Conns": conns, "CSRF": CSRFHeader})
}

// TestResult is the outcome of a test webhook, as the admin page shows it.
type TestResult struct {
	OK      bool   `json:"ok"`
	Status  int    `json:"status,omitempty"` // the ingress's HTTP status
	Message string `json:"message"`
	InboxID string `json:"inbox_id,omitempty"`
	EventID string `json:"event_id,omitempty"`
}

func (s *Server) serveTestWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !uuidRE.MatchString(id) {
		writeJSON(w, http.StatusBadRequest, TestResult{Message: "connection id must be a UUID"})
		return
	}
	res, status := s.TestWebhook(r.Context(), strings.ToLower(id))
	writeJSON(w, status, res)
}

// TestWebhook posts a signed test event for connection id through the real ingress and
// reports the outcome, with the HTTP status this endpoint answers. In dev mode a Zapier
// connection without a secret gets a generated one first.
func (s *Server) TestWebhook(ctx context.Context, id string) (TestResult, int) {
	var kind, status string
	err := s.pool.QueryRow(ctx, `select kind, status from public.integration_connections where id = $1`, id).Scan(&kind, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return TestResult{Message: "no such connection"}, http.StatusNotFound
	}
	if err != nil {
		return TestResult{Message: "reading the connection failed: " + err.Error()}, http.StatusInternalServerError
	}
	if !testable[kind] {
		return TestResult{Message: fmt.Sprintf("test webhooks are for HoneyBook and Dubsado (Zapier) connections, not %s", kind)},
			http.StatusBadRequest
	}
	if s.cfg.Keyring == nil || s.cfg.IngressURL == nil {
		return TestResult{Message: "no keyring configured: set VENDORHUB_ENCRYPTION_KEYS"}, http.StatusServiceUnavailable
	}
	sec, err := s.secret(ctx, id)
	if err != nil {
		return TestResult{Message: err.Error()}, http.StatusConflict
	}
	eventID := "vendorhub-test-" + randomHex(8)
	body, _ := json.Marshal(map[string]any{"event": "vendorhub.test", "test": true, "connection_id": id,
		"sent_at": time.Now().UTC().Format(time.RFC3339), "note": "test event sent from the vendorhub dashboard"})
	src := inboundSource[kind]
	url := strings.TrimSuffix(s.cfg.IngressURL(), "/") + "/webhooks/" + string(src) + "/" + id
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return TestResult{Message: err.Error()}, http.StatusInternalServerError
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.ZapierSecretHeader, sec)
	req.Header.Set(webhook.EventIDHeader, eventID)
	req.Header.Set("User-Agent", "vendorhub-dashboard-test")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return TestResult{Message: "the ingress did not answer: " + err.Error(), EventID: eventID}, http.StatusBadGateway
	}
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	res := TestResult{Status: resp.StatusCode, EventID: eventID}
	if resp.StatusCode != http.StatusOK {
		res.Message = fmt.Sprintf("The ingress refused the test webhook: HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(excerpt)))
		return res, http.StatusOK
	}
	err = s.pool.QueryRow(ctx, `select id::text from vendorhub.webhook_inbox where source = $1 and provider_event_id = $2`,
		src.InboxSource(), eventID).Scan(&res.InboxID)
	if err != nil {
		res.Message = "The ingress answered 200 but no inbox row was found: " + err.Error()
		return res, http.StatusOK
	}
	res.OK = true
	res.Message = fmt.Sprintf("Test webhook delivered: HTTP 200, stored in the inbox as %s", res.InboxID)
	return res, http.StatusOK
}

// secret returns the connection's webhook secret; in dev mode a missing one is generated.
func (s *Server) secret(ctx context.Context, id string) (string, error) {
	cred, err := integration.ReadCredential(ctx, s.cfg.Keyring, s.pool, id)
	switch {
	case err == nil && cred.Secret != "":
		return cred.Secret, nil
	case err != nil && !errors.Is(err, secret.ErrNotFound):
		return "", fmt.Errorf("reading the connection's secret failed: %v", err)
	case !s.cfg.Dev:
		return "", errors.New("this connection has no webhook secret yet: set one before testing")
	}
	if err := ProvisionSecret(ctx, s.pool, s.cfg.Keyring, id, cred); err != nil {
		return "", err
	}
	cred, err = integration.ReadCredential(ctx, s.cfg.Keyring, s.pool, id)
	if err != nil {
		return "", fmt.Errorf("reading the new secret failed: %v", err)
	}
	return cred.Secret, nil
}

// ProvisionSecret gives connection id a generated webhook secret, keeping the rest of its
// credential. For dev mode: production secrets come from the vendor's Zap template.
func ProvisionSecret(ctx context.Context, q integration.Querier, k *secret.Keyring, id string, cred integration.Credential) error {
	if err := k.Register(ctx, q); err != nil {
		return err
	}
	cred.Secret = "whsec_dev_" + randomHex(24)
	if err := integration.WriteCredential(ctx, k, q, id, cred); err != nil {
		return fmt.Errorf("storing a webhook secret failed: %v", err)
	}
	return nil
}

// ProvisionDevSecrets gives every Zapier connection without a webhook secret a generated
// one, so `vendorhub dev` can receive (and the admin page send) signed test webhooks at once.
// It returns the number provisioned.
func ProvisionDevSecrets(ctx context.Context, q integration.Querier, k *secret.Keyring) (int, error) {
	rows, err := q.Query(ctx, `
select c.id::text from public.integration_connections c
where c.kind = any($1) and not exists (select 1 from vendorhub.integration_credentials k where k.connection_id = c.id)`,
		[]string{"honeybook", "dubsado"})
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := ProvisionSecret(ctx, q, k, id, integration.Credential{}); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// healthRanges are the ranges the health page offers.
var healthRanges = []struct {
	Key   string
	Label string
	Span  time.Duration
}{
	{"24h", "24 hours", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
	{"90d", "90 days", 90 * 24 * time.Hour},
}

func (s *Server) serveIntegrationHealth(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("range")
	span := 30 * 24 * time.Hour
	found := key == ""
	for _, hr := range healthRanges {
		if hr.Key == key {
			span, found = hr.Span, true
		}
	}
	if !found {
		http.Error(w, "range must be one of 24h, 7d, 30d, 90d", http.StatusBadRequest)
		return
	}
	if key == "" {
		key = "30d"
	}
	to := time.Now()
	rep, err := report.Build(r.Context(), s.pool, to.Add(-span), to, report.Options{RecentErrors: 10})
	if err != nil {
		s.fail(w, "integration health", err)
		return
	}
	var uptime *float64
	if len(rep.Uptime) > 0 {
		var u float64
		for _, x := range rep.Uptime {
			u += x.Uptime
		}
		u /= float64(len(rep.Uptime))
		uptime = &u
	}
	sample := s.cfg.Monitor.Latest()
	s.render(w, r, "health", map[string]any{"Title": "Integration health", "R": rep, "Range": key, "Ranges": healthRanges,
		"Uptime": uptime, "Sample": sample, "Level": healthLevel(rep.OverallHealth),
		"FromISO": rep.From.UTC().Format(time.RFC3339Nano), "ToISO": rep.To.UTC().Format(time.RFC3339Nano)})
}

// healthLevel names an overall health figure.
func healthLevel(v *float64) string {
	switch {
	case v == nil:
		return "no data"
	case *v >= 0.99:
		return LevelHealthy
	case *v >= 0.9:
		return LevelDegraded
	}
	return "unhealthy"
}
