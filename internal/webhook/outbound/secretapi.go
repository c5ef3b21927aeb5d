package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/secret"
)

// SecretPattern is the route of SecretHandler (Go 1.22 ServeMux syntax).
const SecretPattern = "POST /webhook-endpoints/{endpoint}/secret"

// TokenVerifier checks a Supabase JWT: an *auth.Verifier.
type TokenVerifier interface {
	Verify(token string) (auth.Claims, error)
}

// SecretHandler issues an endpoint's signing secret to a member of its vendor:
// POST /webhook-endpoints/<id>/secret with the user's Supabase JWT (Authorization: Bearer)
// rolls the secret and answers {"secret": "whsec_…", "previous_valid_until": …} — the only time
// the secret is shown. Membership is decided by the endpoint's RLS policy, evaluated as the user
// exactly as PostgREST would. Endpoints themselves are created by members through PostgREST.
type SecretHandler struct {
	Pool     *pgxpool.Pool
	Keyring  *secret.Keyring
	Verifier TokenVerifier
	Config   Config
}

func (h *SecretHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := h.Config.WithDefaults()
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeError(w, http.StatusUnauthorized, "a user's Bearer token is required")
		return
	}
	claims, err := h.Verifier.Verify(strings.TrimSpace(token))
	if err != nil || claims.Role != auth.RoleAuthenticated || claims.Subject == "" {
		writeError(w, http.StatusUnauthorized, "invalid token")
		return
	}
	endpoint := r.PathValue("endpoint")
	ctx := r.Context()
	visible, err := endpointVisibleTo(ctx, h.Pool, endpoint, claims.Subject)
	if err != nil {
		cfg.Logger.Error("outbound: secret: membership check", "err", err)
		writeError(w, http.StatusServiceUnavailable, "try again")
		return
	}
	if !visible {
		writeError(w, http.StatusNotFound, "no such endpoint")
		return
	}
	now := cfg.Now()
	s, err := RollSecret(ctx, h.Pool, h.Keyring, endpoint, now, cfg.RotationOverlap)
	if err != nil {
		cfg.Logger.Error("outbound: secret: roll", "endpoint", endpoint, "err", err)
		writeError(w, http.StatusServiceUnavailable, "try again")
		return
	}
	if err := audit.Write(ctx, h.Pool, audit.Entry{Action: ActionSecretRolled, Actor: claims.Subject,
		Subject: "webhook_endpoint:" + endpoint, SourceIP: edge.ClientAddr(r).String()}); err != nil {
		cfg.Logger.Error("outbound: secret: audit", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"secret": s, "previous_valid_until": now.Add(cfg.RotationOverlap).UTC()})
}

// ActionSecretRolled is the audit action of a secret roll.
const ActionSecretRolled = "endpoint.secret_rolled"

// endpointVisibleTo evaluates the endpoint's RLS as user (role authenticated, JWT claims set),
// as PostgREST does.
func endpointVisibleTo(ctx context.Context, pool *pgxpool.Pool, endpoint, user string) (bool, error) {
	if !isUUID(endpoint) {
		return false, nil
	}
	var visible bool
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		claims, _ := json.Marshal(map[string]string{"sub": user, "role": auth.RoleAuthenticated, "aud": "authenticated"})
		if _, err := tx.Exec(ctx, `select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)`,
			string(claims)); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `select true from public.webhook_endpoints where id = $1`, endpoint).Scan(&visible)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return visible, err
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
