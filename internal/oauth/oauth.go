// Package oauth keeps the OAuth tokens of Google and Outlook calendar connections fresh.
//
// Tokens live sealed in vendorhub.integration_credentials (integration.Credential, through
// secret.Keyring). Refresher.Token returns a connection's access token, refreshing it when it
// expires within Margin: the refresh runs inside a transaction holding the connection row
// (SELECT … FOR UPDATE), re-reads the credential after taking the lock and uses another
// worker's fresh token if there is one, so concurrent workers never spend a rotating refresh
// token twice. A rotated refresh token (Microsoft returns a new one on every refresh) is stored
// in the same transaction. invalid_grant (revoked, expired, password changed) is permanent: the
// connection becomes needs_reauth and an integration.failed event, emitted in that transaction,
// tells the vendor to reconnect. Other failures (5xx, network) are transient and change nothing.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/secret"
)

// Defaults of Refresher.
const (
	// MarginDefault refreshes tokens expiring within 15 minutes (Nango's REFRESH_MARGIN).
	MarginDefault = 15 * time.Minute
	// TimeoutDefault bounds one call to a token endpoint.
	TimeoutDefault = 15 * time.Second
	// IdleRefreshDefault refreshes every token at least this often, so idle refresh tokens are
	// not dropped by the provider.
	IdleRefreshDefault = 24 * time.Hour
)

var metricRefreshes = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "vendorhub_oauth_refreshes_total",
	Help: "OAuth token refreshes by connection kind and result (ok, reused, revoked, failed).",
}, []string{"kind", "result"})

// ErrReauthRequired reports a connection whose grant is gone: the vendor must reconnect.
var ErrReauthRequired = errors.New("oauth: connection needs re-authorization")

// ReauthRequiredError names the connection (errors.Is(err, ErrReauthRequired)).
type ReauthRequiredError struct {
	ConnectionID string
	Reason       string
}

func (e *ReauthRequiredError) Error() string {
	return fmt.Sprintf("oauth: connection %s needs re-authorization: %s", e.ConnectionID, e.Reason)
}

// Is makes errors.Is(err, ErrReauthRequired) true.
func (e *ReauthRequiredError) Is(target error) bool { return target == ErrReauthRequired }

// Refresher hands out access tokens of connections, refreshing them ahead of expiry.
type Refresher struct {
	// Pool is the application database. Required.
	Pool *pgxpool.Pool
	// Keyring seals and opens credentials. Required.
	Keyring *secret.Keyring
	// Providers are the OAuth clients (client id, secret, token URL) by connection kind.
	Providers map[integration.Kind]*oauth2.Config
	// HTTPClient calls token endpoints. Defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Limits rate-limits token calls under the kind's provider. Defaults to no limit.
	Limits *integration.Limits
	// Margin refreshes tokens that expire within it. Defaults to MarginDefault.
	Margin time.Duration
	// Timeout bounds one token call. Defaults to TimeoutDefault.
	Timeout time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (r *Refresher) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Refresher) margin() time.Duration {
	if r.Margin > 0 {
		return r.Margin
	}
	return MarginDefault
}

func (r *Refresher) fresh(c integration.Credential) bool {
	return c.AccessToken != "" && !c.Expiry.IsZero() && c.Expiry.After(r.now().Add(r.margin()))
}

func token(c integration.Credential) *oauth2.Token {
	return &oauth2.Token{AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, TokenType: c.TokenType, Expiry: c.Expiry}
}

// Token returns connectionID's access token, refreshed first when it expires within Margin.
func (r *Refresher) Token(ctx context.Context, connectionID string) (*oauth2.Token, error) {
	cred, err := integration.ReadCredential(ctx, r.Keyring, r.Pool, connectionID)
	if err != nil && !errors.Is(err, secret.ErrNotFound) { // a missing one is judged under the lock
		return nil, err
	}
	if err == nil && r.fresh(cred) {
		return token(cred), nil
	}
	return r.refresh(ctx, connectionID, false)
}

// Refresh refreshes connectionID's token now, whatever its expiry (the periodic job that keeps
// idle refresh tokens alive), unless another worker refreshed it within Margin of now.
func (r *Refresher) Refresh(ctx context.Context, connectionID string) (*oauth2.Token, error) {
	return r.refresh(ctx, connectionID, true)
}

func (r *Refresher) refresh(ctx context.Context, connectionID string, force bool) (*oauth2.Token, error) {
	tx, err := r.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	var status, vendorID string
	var kind integration.Kind
	var lastRefresh *time.Time
	err = tx.QueryRow(ctx, `select c.status, c.vendor_id::text, c.kind, s.last_refresh_at
from public.integration_connections c left join vendorhub.calendar_sync s on s.connection_id = c.id
where c.id = $1 for update of c`, connectionID).Scan(&status, &vendorID, &kind, &lastRefresh)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", integration.ErrConnectionNotFound, connectionID)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: lock connection %s: %w", connectionID, err)
	}
	if status == integration.StatusNeedsReauth {
		return nil, &ReauthRequiredError{ConnectionID: connectionID, Reason: "marked needs_reauth"}
	}
	// Re-read under the lock: another worker may have refreshed while we waited.
	cred, err := integration.ReadCredential(ctx, r.Keyring, tx, connectionID)
	if errors.Is(err, secret.ErrNotFound) {
		// Never authorized (or its credential was removed): nothing to retry until the vendor connects it.
		return nil, r.revoked(ctx, tx, connectionID, vendorID, kind, "no credential stored")
	}
	if err != nil {
		return nil, err
	}
	recently := lastRefresh != nil && lastRefresh.After(r.now().Add(-r.margin()))
	if r.fresh(cred) && (!force || recently) {
		metricRefreshes.WithLabelValues(string(kind), "reused").Inc()
		return token(cred), tx.Commit(ctx)
	}
	cfg, ok := r.Providers[kind]
	if !ok {
		return nil, fmt.Errorf("oauth: no OAuth client configured for connection kind %q", kind)
	}
	if cred.RefreshToken == "" {
		return nil, r.revoked(ctx, tx, connectionID, vendorID, kind, "no refresh token stored")
	}
	if err := r.Limits.Wait(ctx, kind.Provider()); err != nil {
		return nil, err
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = TimeoutDefault
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if r.HTTPClient != nil {
		cctx = context.WithValue(cctx, oauth2.HTTPClient, r.HTTPClient)
	}
	// An expired copy makes the token source refresh; it keeps the old refresh token when the
	// answer carries none (Google), and returns the new one when it rotates (Microsoft).
	nt, err := cfg.TokenSource(cctx, &oauth2.Token{RefreshToken: cred.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "unauthorized_client") {
			return nil, r.revoked(ctx, tx, connectionID, vendorID, kind, re.ErrorCode+": "+re.ErrorDescription)
		}
		metricRefreshes.WithLabelValues(string(kind), "failed").Inc()
		_ = tx.Rollback(ctx)
		r.countFailure(ctx, connectionID)
		if errors.As(err, &re) && re.Response != nil {
			return nil, retrieveError(kind.Provider(), re, r.now())
		}
		return nil, provider.Transport(kind.Provider(), "token", err)
	}
	cred.AccessToken, cred.TokenType, cred.Expiry = nt.AccessToken, nt.TokenType, nt.Expiry.UTC()
	if nt.RefreshToken != "" {
		cred.RefreshToken = nt.RefreshToken
	}
	if err := integration.WriteCredential(ctx, r.Keyring, tx, connectionID, cred); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `insert into vendorhub.calendar_sync (connection_id, token_expires_at, last_refresh_at, refresh_failures)
values ($1, $2, now(), 0)
on conflict (connection_id) do update set token_expires_at = excluded.token_expires_at, last_refresh_at = now(),
  refresh_failures = 0, updated_at = now()`, connectionID, cred.Expiry); err != nil {
		return nil, fmt.Errorf("oauth: record refresh of %s: %w", connectionID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("oauth: commit refresh of %s: %w", connectionID, err)
	}
	metricRefreshes.WithLabelValues(string(kind), "ok").Inc()
	return token(cred), nil
}

// revoked marks the connection needs_reauth and emits integration.failed, in tx, and commits.
func (r *Refresher) revoked(ctx context.Context, tx pgx.Tx, connectionID, vendorID string, kind integration.Kind, reason string) error {
	metricRefreshes.WithLabelValues(string(kind), "revoked").Inc()
	msg := "OAuth grant no longer valid (" + reason + "): reconnect this calendar"
	if _, err := tx.Exec(ctx, `update public.integration_connections set status = 'needs_reauth', last_error = left($2, 2000), updated_at = now() where id = $1`,
		connectionID, msg); err != nil {
		return fmt.Errorf("oauth: mark %s needs_reauth: %w", connectionID, err)
	}
	data, _ := json.Marshal(map[string]any{"connection_id": connectionID, "vendor_id": vendorID, "kind": kind,
		"reason": "needs_reauth", "error": msg})
	subject, _ := json.Marshal(map[string]any{"table": "integration_connections", "id": connectionID, "vendor_id": vendorID})
	if _, err := tx.Exec(ctx, `select vendorhub.emit('integration.failed', null, $1::jsonb, $2::jsonb)`, subject, data); err != nil {
		return fmt.Errorf("oauth: emit integration.failed for %s: %w", connectionID, err)
	}
	if _, err := tx.Exec(ctx, `insert into vendorhub.calendar_sync (connection_id, refresh_failures) values ($1, 1)
on conflict (connection_id) do update set refresh_failures = vendorhub.calendar_sync.refresh_failures + 1, updated_at = now()`, connectionID); err != nil {
		return fmt.Errorf("oauth: record failure of %s: %w", connectionID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("oauth: commit needs_reauth of %s: %w", connectionID, err)
	}
	return &ReauthRequiredError{ConnectionID: connectionID, Reason: reason}
}

func (r *Refresher) countFailure(ctx context.Context, connectionID string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = r.Pool.Exec(cctx, `insert into vendorhub.calendar_sync (connection_id, refresh_failures) values ($1, 1)
on conflict (connection_id) do update set refresh_failures = vendorhub.calendar_sync.refresh_failures + 1, updated_at = now()`, connectionID)
}

// Due lists active OAuth connections whose token expires within margin, or that were not
// refreshed for idle (or never), for the periodic refresh job.
func Due(ctx context.Context, q integration.Querier, margin, idle time.Duration) ([]string, error) {
	rows, err := q.Query(ctx, `select c.id::text from public.integration_connections c
left join vendorhub.calendar_sync s on s.connection_id = c.id
where c.kind in ('google_calendar', 'outlook') and c.status = 'active'
  and exists (select 1 from vendorhub.integration_credentials k where k.connection_id = c.id)
  and (s.token_expires_at is null or s.token_expires_at < now() + $1::interval or s.last_refresh_at is null or s.last_refresh_at < now() - $2::interval)
order by s.token_expires_at nulls first`, margin, idle)
	if err != nil {
		return nil, fmt.Errorf("oauth: due connections: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// retrieveError is the adapter of golang.org/x/oauth2's token endpoint error: the answer's
// status and Retry-After, classified, with the OAuth error code.
func retrieveError(name string, re *oauth2.RetrieveError, now time.Time) *provider.Error {
	e := provider.FromStatus(name, "token", re.Response.StatusCode)
	e.RetryAfter = provider.RetryAfterHeader(re.Response.Header, now)
	e.Code = re.ErrorCode // the body is not kept: it may echo request fields
	return e
}
