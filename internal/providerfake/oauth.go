package providerfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// OAuthTokens is the OAuth 2.0 token endpoint shared by the Google and Microsoft identity fakes
// (RFC 6749 §6 refresh_token grant). Refresh tokens are issued by the test, can be revoked, and
// rotate on use when Rotate is set; access tokens expire after AccessTTL.
type OAuthTokens struct {
	// Faults script failures of the token endpoint alone (the API's faults are the fake's own).
	Faults

	mu        sync.Mutex
	refresh   map[string]oauthGrant // refresh token → grant
	access    map[string]time.Time  // access token → expiry
	refreshes int

	// Rotate makes every refresh return a new refresh token (Microsoft identity does; Google does not).
	Rotate bool
	// RevokeRotated makes a rotated refresh token unusable at once, so a client that keeps
	// using the old one fails with invalid_grant (stricter than Microsoft, which lets old ones expire).
	RevokeRotated bool
	// AccessTTL is the lifetime of issued access tokens (expires_in). Zero means one hour.
	AccessTTL time.Duration
	// ClientID and ClientSecret, when set, must match the request's client credentials.
	ClientID, ClientSecret string
}

type oauthGrant struct {
	revoked bool
	scope   string
}

func newOAuthTokens() *OAuthTokens {
	return &OAuthTokens{refresh: map[string]oauthGrant{}, access: map[string]time.Time{}}
}

func randomToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// IssueRefreshToken creates a valid refresh token, as a completed authorization-code flow would.
func (o *OAuthTokens) IssueRefreshToken() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := randomToken("rt-")
	o.refresh[t] = oauthGrant{scope: "calendar"}
	return t
}

// IssueAccessToken creates a valid access token expiring at exp (for tests that start with a
// token in hand).
func (o *OAuthTokens) IssueAccessToken(exp time.Time) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := randomToken("at-")
	o.access[t] = exp
	return t
}

// Revoke revokes a refresh token: the next refresh with it answers invalid_grant.
func (o *OAuthTokens) Revoke(refreshToken string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.refresh[refreshToken]
	g.revoked = true
	o.refresh[refreshToken] = g
}

// Refreshes counts successful refresh_token grants.
func (o *OAuthTokens) Refreshes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refreshes
}

// ValidAccess reports whether the request carries a live bearer access token.
func (o *OAuthTokens) ValidAccess(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	exp, ok := o.access[tok]
	return ok && time.Now().Before(exp)
}

// serveToken answers POST <token endpoint> with the documented JSON bodies: 200 with
// access_token/expires_in/token_type(/refresh_token), 400 invalid_grant for unknown or revoked
// refresh tokens, 400 unsupported_grant_type, 401 invalid_client.
func (o *OAuthTokens) serveToken(w http.ResponseWriter, r *http.Request, invalidGrantDescription string) {
	writeErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if ft, ok := o.Next(); ok {
		WriteFault(w, r, ft, "application/json", `{"error":"temporarily_unavailable"}`)
		return
	}
	if r.Method != http.MethodPost {
		writeErr(http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeErr(http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if o.ClientID != "" && (id != o.ClientID || secret != o.ClientSecret) {
		writeErr(http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "refresh_token" {
		writeErr(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	rt := r.PostForm.Get("refresh_token")
	o.mu.Lock()
	g, ok := o.refresh[rt]
	if !ok || g.revoked {
		o.mu.Unlock()
		writeErr(http.StatusBadRequest, "invalid_grant", invalidGrantDescription)
		return
	}
	ttl := o.AccessTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	at := randomToken("at-")
	o.access[at] = time.Now().Add(ttl)
	resp := map[string]any{"access_token": at, "expires_in": int(ttl / time.Second), "token_type": "Bearer", "scope": g.scope}
	if o.Rotate {
		nrt := randomToken("rt-")
		o.refresh[nrt] = oauthGrant{scope: g.scope}
		if o.RevokeRotated {
			g.revoked = true
			o.refresh[rt] = g
		}
		resp["refresh_token"] = nrt
	}
	o.refreshes++
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}
