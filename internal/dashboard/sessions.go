package dashboard

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/edge"
)

// Sessions: /login checks the token once and opens a server-side session; the cookie holds
// only its random 256-bit id. Sessions live in vendorhub.dashboard_sessions (hashed ids), so
// every sidecar instance behind a load balancer honours them and logout ends them everywhere.

// SessionTTLDefault is how long a dashboard session lasts (at most the token's own expiry).
const SessionTTLDefault = 12 * time.Hour

// SessionPruneInterval is the time between two deletions of expired sessions.
const SessionPruneInterval = 10 * time.Minute

// legacyCookieName is the cookie of earlier versions, which held the token itself.
const legacyCookieName = "vendorhub_operator"

// Login methods, as stored.
const (
	methodOperatorToken = "operator_token"
	methodJWT           = "jwt"
	methodServiceRole   = "service_role"
)

// identity is who a valid operator token belongs to.
type identity struct {
	operator   string
	method     string
	credential []byte    // SHA-256 of the operator token (methodOperatorToken)
	expires    time.Time // the token's expiry; zero when it has none
}

// operatorIdentity accepts the operator token, or a JWT with app_metadata.role "operator" or
// the service_role role.
func (s *Server) operatorIdentity(tok string) (identity, bool) {
	if s.cfg.OperatorToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.OperatorToken)) == 1 {
		h := sha256.Sum256([]byte(tok))
		return identity{operator: "operator token", method: methodOperatorToken, credential: h[:]}, true
	}
	if s.cfg.Verifier == nil {
		return identity{}, false
	}
	tok, err := s.cfg.Verifier.ResolveAPIKey(tok)
	if err != nil {
		return identity{}, false
	}
	c, err := s.cfg.Verifier.Verify(tok)
	if err != nil || !IsOperatorClaims(c) {
		return identity{}, false
	}
	id := identity{operator: cmp.Or(c.Email, c.Subject, c.Role), method: methodJWT, expires: c.ExpiresAt}
	if c.Role == auth.RoleServiceRole {
		id.method = methodServiceRole
	}
	if len(id.operator) > 320 {
		id.operator = id.operator[:320]
	}
	return id, true
}

// newSessionID returns a cookie value (256 random bits, base64url) and its stored hash.
func newSessionID() (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), h[:]
}

// sessionHash is the stored hash of a cookie value; false for a value no session can have.
func sessionHash(cookie string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || len(b) != 32 {
		return nil, false
	}
	h := sha256.Sum256(b)
	return h[:], true
}

// openSession stores a session for id and returns the cookie value and its expiry.
func (s *Server) openSession(ctx context.Context, id identity) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(s.cfg.SessionTTL)
	if !id.expires.IsZero() && id.expires.Before(exp) {
		exp = id.expires
	}
	value, hash := newSessionID()
	_, err := s.pool.Exec(ctx, `insert into vendorhub.dashboard_sessions (id_hash, operator, method, credential_hash, created_at, expires_at)
		values ($1, $2, $3, $4, $5, $6)`, hash, id.operator, id.method, id.credential, now, exp)
	return value, exp, err
}

// validSession reports whether cookie names a live session. An operator-token session ends
// when VENDORHUB_OPERATOR_TOKEN changes.
func (s *Server) validSession(ctx context.Context, cookie string) (bool, error) {
	hash, ok := sessionHash(cookie)
	if !ok {
		return false, nil
	}
	var method string
	var cred []byte
	err := s.pool.QueryRow(ctx, `select method, credential_hash from vendorhub.dashboard_sessions
		where id_hash = $1 and expires_at > now()`, hash).Scan(&method, &cred)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if method == methodOperatorToken {
		cur := sha256.Sum256([]byte(s.cfg.OperatorToken))
		return s.cfg.OperatorToken != "" && subtle.ConstantTimeCompare(cur[:], cred) == 1, nil
	}
	return true, nil
}

// closeSession deletes the session cookie names.
func (s *Server) closeSession(ctx context.Context, cookie string) error {
	hash, ok := sessionHash(cookie)
	if !ok {
		return nil
	}
	_, err := s.pool.Exec(ctx, `delete from vendorhub.dashboard_sessions where id_hash = $1`, hash)
	return err
}

// PruneSessions deletes expired sessions and returns how many.
func (s *Server) PruneSessions(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `delete from vendorhub.dashboard_sessions where expires_at <= now()`)
	return tag.RowsAffected(), err
}

// RunSessionPruner deletes expired sessions every SessionPruneInterval until ctx ends.
func (s *Server) RunSessionPruner(ctx context.Context) error {
	t := time.NewTicker(SessionPruneInterval)
	defer t.Stop()
	for {
		if _, err := s.PruneSessions(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("dashboard: pruning expired sessions failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// secureCookies reports whether the session cookie must be Secure: the public URL is https,
// or r came over TLS (here or at a trusted proxy).
func (s *Server) secureCookies(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(s.cfg.PublicURL), "https://") || edge.IsHTTPS(r)
}

// sessionCookie is the cookie of a session; an empty value with a past expiry deletes it.
func (s *Server) sessionCookie(r *http.Request, value string, exp time.Time) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.secureCookies(r)}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = exp.UTC()
		c.MaxAge = max(1, int(time.Until(exp).Seconds()))
	}
	return c
}

// dropLegacyCookie deletes an earlier version's token cookie from the browser.
func dropLegacyCookie(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(legacyCookieName); err == nil {
		http.SetCookie(w, &http.Cookie{Name: legacyCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	}
}
