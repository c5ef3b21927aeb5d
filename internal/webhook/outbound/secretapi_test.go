package outbound_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

func TestSecretHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v, err := auth.NewVerifier(auth.Config{JWTSecret: auth.DevJWTSecret})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(outbound.SecretPattern, &outbound.SecretHandler{Pool: b.db.Pool, Keyring: b.keyring, Verifier: v, Config: b.cfg})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	roll := func(endpoint, token string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhook-endpoints/"+endpoint+"/secret", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		return resp.StatusCode, m
	}
	mint := func(user string) string {
		tok, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: user})
		require.NoError(t, err)
		return tok
	}
	before := mustSecret(t, b)

	code, _ := roll(b.endpoint, "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = roll(b.endpoint, "not-a-jwt")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = roll(b.endpoint, mint(uuid.NewString())) // not a member of the vendor
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, before, mustSecret(t, b), "refusals change nothing")

	code, body := roll(b.endpoint, mint(b.member))
	require.Equal(t, http.StatusOK, code)
	s, _ := body["secret"].(string)
	require.True(t, strings.HasPrefix(s, "whsec_"))
	require.Equal(t, s, mustSecret(t, b))
	require.NotEqual(t, before, s)
	until, err := time.Parse(time.RFC3339Nano, body["previous_valid_until"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, b.clock.Now().Add(outbound.RotationOverlapDefault), until, time.Second)
	require.Equal(t, 1, b.count(t, `select count(*) from vendorhub.audit_log where action = $1 and actor = $2`, outbound.ActionSecretRolled, b.member))
	var auditText string
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), `select string_agg(a::text, ' ') from vendorhub.audit_log a`).Scan(&auditText))
	require.NotContains(t, auditText, s)
}
