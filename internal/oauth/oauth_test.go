package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/secret"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	db        *pgtest.DB
	keyring   *secret.Keyring
	refresher *oauth.Refresher
	vendor    string
}

func setup(t *testing.T, kind integration.Kind, tokenURL string) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	k := it.Keyring(t)
	return &bundle{db: db, keyring: k, vendor: it.Vendor(t, db.Pool, "Vendor", "UTC"),
		refresher: &oauth.Refresher{Pool: db.Pool, Keyring: k, Providers: map[integration.Kind]*oauth2.Config{
			kind: {ClientID: "client", ClientSecret: "client-secret", Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}},
		}}}
}

func (b *bundle) connection(t *testing.T, kind integration.Kind, cred integration.Credential) string {
	return it.Connection(t, b.db.Pool, b.keyring, b.vendor, kind, nil, cred)
}

func (b *bundle) stored(t *testing.T, conn string) integration.Credential {
	t.Helper()
	c, err := integration.ReadCredential(context.Background(), b.keyring, b.db.Pool, conn)
	require.NoError(t, err)
	return c
}

func TestRefreshAheadOfExpiryWithRotation(t *testing.T) {
	t.Parallel()
	graph := providerfake.NewGraph()
	defer graph.Close()
	graph.Tokens.RevokeRotated = true // the old refresh token dies at once: only the stored new one works
	graph.Tokens.AccessTTL = 10 * time.Minute
	b := setup(t, integration.Outlook, graph.TokenURL())
	ctx := context.Background()
	rt1 := graph.Tokens.IssueRefreshToken()
	conn := b.connection(t, integration.Outlook, integration.Credential{
		AccessToken: "at-old", RefreshToken: rt1, TokenType: "Bearer", Expiry: time.Now().Add(5 * time.Minute), // inside the 15-minute margin
		Secret: "client-state"})

	tok, err := b.refresher.Token(ctx, conn)
	require.NoError(t, err)
	require.NotEqual(t, "at-old", tok.AccessToken)
	require.Equal(t, 1, graph.Tokens.Refreshes())
	st := b.stored(t, conn)
	require.Equal(t, tok.AccessToken, st.AccessToken)
	require.NotEqual(t, rt1, st.RefreshToken, "the rotated refresh token is stored")
	require.Equal(t, "client-state", st.Secret, "the rest of the credential is kept")
	require.True(t, graph.Tokens.ValidAccess(&http.Request{Header: http.Header{"Authorization": {"Bearer " + tok.AccessToken}}}))

	// 10-minute tokens are always inside the margin: the next call refreshes again, with the
	// rotated token (the first one is revoked, so this fails if rotation was not stored).
	tok2, err := b.refresher.Token(ctx, conn)
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, tok2.AccessToken)
	require.Equal(t, 2, graph.Tokens.Refreshes())

	// A token well before expiry is used as is.
	graph.Tokens.AccessTTL = time.Hour
	_, err = b.refresher.Token(ctx, conn)
	require.NoError(t, err)
	require.Equal(t, 3, graph.Tokens.Refreshes())
	_, err = b.refresher.Token(ctx, conn)
	require.NoError(t, err)
	require.Equal(t, 3, graph.Tokens.Refreshes(), "no refresh while the token is valid beyond the margin")

	var expires time.Time
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select token_expires_at from vendorhub.calendar_sync where connection_id = $1`, conn).Scan(&expires))
	require.WithinDuration(t, time.Now().Add(time.Hour), expires, time.Minute)
}

func TestConcurrentRefreshSpendsTheRefreshTokenOnce(t *testing.T) {
	t.Parallel()
	graph := providerfake.NewGraph()
	defer graph.Close()
	graph.Tokens.RevokeRotated = true // a second refresh with the same token would be invalid_grant
	b := setup(t, integration.Outlook, graph.TokenURL())
	conn := b.connection(t, integration.Outlook, integration.Credential{RefreshToken: graph.Tokens.IssueRefreshToken()})

	const workers = 8
	var wg sync.WaitGroup
	toks := make([]string, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := b.refresher.Token(context.Background(), conn)
			errs[i] = err
			if tok != nil {
				toks[i] = tok.AccessToken
			}
		}()
	}
	wg.Wait()
	for i := range workers {
		require.NoError(t, errs[i])
		require.Equal(t, toks[0], toks[i], "every worker gets the one refreshed token")
	}
	require.Equal(t, 1, graph.Tokens.Refreshes())
}

func TestRevokedGrantMarksNeedsReauthAndNotifies(t *testing.T) {
	t.Parallel()
	google := providerfake.NewGoogleCalendar()
	defer google.Close()
	b := setup(t, integration.GoogleCalendar, google.TokenURL())
	ctx := context.Background()
	slot := it.Slot(t, b.db.Pool)
	rt := google.Tokens.IssueRefreshToken()
	conn := b.connection(t, integration.GoogleCalendar, integration.Credential{RefreshToken: rt})
	it.Events(t, b.db.Pool, slot) // drop the connection's creation events
	google.Tokens.Revoke(rt)

	_, err := b.refresher.Token(ctx, conn)
	require.ErrorIs(t, err, oauth.ErrReauthRequired)
	var re *oauth.ReauthRequiredError
	require.True(t, errors.As(err, &re))
	require.Equal(t, conn, re.ConnectionID)
	require.NotContains(t, err.Error(), rt, "errors never carry the token")

	var status, lastErr string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select status, last_error from public.integration_connections where id = $1`, conn).Scan(&status, &lastErr))
	require.Equal(t, integration.StatusNeedsReauth, status)
	require.Contains(t, lastErr, "invalid_grant")

	evs := it.Events(t, b.db.Pool, slot, event.IntegrationFailed, event.ConnectionChanged)
	require.Len(t, evs, 2)
	types := map[event.Type]event.Envelope{}
	for _, e := range evs {
		types[e.Type] = e
	}
	require.Contains(t, types, event.ConnectionChanged)
	failed := types[event.IntegrationFailed]
	require.Equal(t, b.vendor, *failed.Subject.VendorID, "routed to the vendor")
	require.Contains(t, string(failed.Data), `"reason": "needs_reauth"`)

	// Later calls fail fast without calling Google.
	calls := google.Len()
	_, err = b.refresher.Token(ctx, conn)
	require.ErrorIs(t, err, oauth.ErrReauthRequired)
	require.Equal(t, calls, google.Len())
	require.Empty(t, it.Events(t, b.db.Pool, slot, event.IntegrationFailed), "notified once")
}

func TestTransientTokenFailureChangesNothing(t *testing.T) {
	t.Parallel()
	google := providerfake.NewGoogleCalendar()
	defer google.Close()
	b := setup(t, integration.GoogleCalendar, google.TokenURL())
	ctx := context.Background()
	rt := google.Tokens.IssueRefreshToken()
	conn := b.connection(t, integration.GoogleCalendar, integration.Credential{RefreshToken: rt})
	google.Tokens.Push(providerfake.Fault{Status: http.StatusServiceUnavailable, RetryAfter: 3 * time.Second})

	_, err := b.refresher.Token(ctx, conn)
	require.Error(t, err)
	require.True(t, provider.IsRetryable(err), "5xx is transient: %v", err)
	require.Equal(t, 3*time.Second, provider.RetryAfterOf(err))
	var status string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select status from public.integration_connections where id = $1`, conn).Scan(&status))
	require.Equal(t, integration.StatusActive, status)
	require.Equal(t, rt, b.stored(t, conn).RefreshToken)

	tok, err := b.refresher.Token(ctx, conn)
	require.NoError(t, err, "the next attempt succeeds")
	require.Equal(t, rt, b.stored(t, conn).RefreshToken, "Google keeps the refresh token when it sends none")
	require.NotEmpty(t, tok.AccessToken)

	due, err := oauth.Due(ctx, b.db.Pool, oauth.MarginDefault, oauth.IdleRefreshDefault)
	require.NoError(t, err)
	require.NotContains(t, due, conn, "just refreshed: not due")
}

// A connection that was never authorized (no stored credential) needs re-authorization: one
// needs_reauth mark and one integration.failed, then fast failures — not a job retried for ever.
func TestMissingCredentialMarksNeedsReauth(t *testing.T) {
	t.Parallel()
	google := providerfake.NewGoogleCalendar()
	defer google.Close()
	b := setup(t, integration.GoogleCalendar, google.TokenURL())
	ctx := context.Background()
	slot := it.Slot(t, b.db.Pool)
	conn := b.connection(t, integration.GoogleCalendar, integration.Credential{RefreshToken: google.Tokens.IssueRefreshToken()})
	_, err := b.db.Pool.Exec(ctx, `delete from vendorhub.integration_credentials where connection_id = $1`, conn)
	require.NoError(t, err)
	it.Events(t, b.db.Pool, slot) // drop the set-up events

	_, err = b.refresher.Token(ctx, conn)
	require.ErrorIs(t, err, oauth.ErrReauthRequired)
	var status string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select status from public.integration_connections where id = $1`, conn).Scan(&status))
	require.Equal(t, integration.StatusNeedsReauth, status)
	require.Len(t, it.Events(t, b.db.Pool, slot, event.IntegrationFailed), 1)

	_, err = b.refresher.Token(ctx, conn)
	require.ErrorIs(t, err, oauth.ErrReauthRequired)
	require.Empty(t, it.Events(t, b.db.Pool, slot, event.IntegrationFailed), "notified once")
	require.Zero(t, google.Len(), "Google was never called")
}
