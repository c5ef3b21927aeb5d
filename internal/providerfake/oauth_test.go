package providerfake_test

// The OAuth token endpoints (Google's at <google>/token, Microsoft identity's at
// <graph>/{tenant}/oauth2/v2.0/token) against:
//   RFC 6749 §6 (refresh_token grant) and §5.2 (error body {error, error_description}, 400
//   invalid_grant / unsupported_grant_type, 401 invalid_client): https://www.rfc-editor.org/rfc/rfc6749
//   Google:    https://developers.google.com/identity/protocols/oauth2/web-server#offline
//              (refresh tokens do not rotate; a revoked one answers invalid_grant)
//   Microsoft: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token
//              https://learn.microsoft.com/en-nz/entra/identity-platform/refresh-tokens
//              (every refresh returns a new refresh token; AADSTS error descriptions)
// and the real golang.org/x/oauth2 client.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func TestGoogleOAuthRefresh(t *testing.T) {
	t.Parallel()
	g := providerfake.NewGoogleCalendar()
	defer g.Close()
	g.Tokens.ClientID, g.Tokens.ClientSecret = "cid", "csecret"
	cfg := &oauth2.Config{ClientID: "cid", ClientSecret: "csecret", Endpoint: oauth2.Endpoint{TokenURL: g.TokenURL()}}
	rt := g.Tokens.IssueRefreshToken()
	tok, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.Equal(t, "Bearer", tok.TokenType)
	require.WithinDuration(t, time.Now().Add(time.Hour), tok.Expiry, time.Minute, "expires_in 3600")
	require.Equal(t, rt, tok.RefreshToken, "Google does not rotate refresh tokens")

	g.Tokens.Revoke(rt)
	_, err = cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 400, re.Response.StatusCode)
	require.Equal(t, "invalid_grant", re.ErrorCode)
	require.Equal(t, "Token has been expired or revoked.", re.ErrorDescription)

	bad := &oauth2.Config{ClientID: "cid", ClientSecret: "wrong", Endpoint: cfg.Endpoint}
	_, err = bad.TokenSource(t.Context(), &oauth2.Token{RefreshToken: g.Tokens.IssueRefreshToken()}).Token()
	require.ErrorAs(t, err, &re)
	require.Equal(t, 401, re.Response.StatusCode)
	require.Equal(t, "invalid_client", re.ErrorCode)

	resp, err := http.PostForm(g.TokenURL(), url.Values{"grant_type": {"password"}, "client_id": {"cid"}, "client_secret": {"csecret"}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var e map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Equal(t, "unsupported_grant_type", e["error"])
}

func TestMicrosoftTokenRotates(t *testing.T) {
	t.Parallel()
	g := providerfake.NewGraph()
	defer g.Close()
	require.True(t, strings.HasSuffix(g.TokenURL(), "/common/oauth2/v2.0/token"))
	cfg := &oauth2.Config{ClientID: "app", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: g.TokenURL()},
		Scopes: []string{"offline_access", "Calendars.ReadWrite"}}
	rt := g.Tokens.IssueRefreshToken()
	tok, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	require.NotEqual(t, rt, tok.RefreshToken, "every refresh returns a new refresh token")
	// The old one still works until it expires (Microsoft does not revoke it) …
	_, err = cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
	require.NoError(t, err)
	// … unless the fake is told to be strict, and then the answer is AADSTS invalid_grant.
	g.Tokens.RevokeRotated = true
	next, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	_, err = cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "invalid_grant", re.ErrorCode)
	require.True(t, strings.HasPrefix(re.ErrorDescription, "AADSTS70008"), re.ErrorDescription)
	require.NotEmpty(t, next.AccessToken)
	require.Equal(t, 3, g.Tokens.Refreshes())

	// Faults of the token endpoint alone: 503 temporarily unavailable.
	g.Tokens.Push(providerfake.Fault{Status: http.StatusServiceUnavailable})
	_, err = cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: next.RefreshToken}).Token()
	require.ErrorAs(t, err, &re)
	require.Equal(t, 503, re.Response.StatusCode)
}
