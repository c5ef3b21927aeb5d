package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
)

func devVerifier(t *testing.T) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{JWTSecret: auth.DevJWTSecret, OpaqueKeys: auth.DevOpaqueKeys()})
	require.NoError(t, err)
	return v
}

func TestDevKeysVerify(t *testing.T) {
	t.Parallel()
	v := devVerifier(t)
	c, err := v.Verify(auth.DevAnonKey)
	require.NoError(t, err)
	require.Equal(t, auth.RoleAnon, c.Role)
	require.Equal(t, int64(1983812996), c.ExpiresAt.Unix())
	c, err = v.Verify(auth.DevServiceRoleKey)
	require.NoError(t, err)
	require.Equal(t, auth.RoleServiceRole, c.Role)

	jwtKey, err := v.ResolveAPIKey(auth.DevPublishableKey)
	require.NoError(t, err)
	require.Equal(t, auth.DevAnonKey, jwtKey)
	_, err = v.ResolveAPIKey("sb_publishable_nope")
	require.ErrorIs(t, err, auth.ErrUnknownKey)
	same, err := v.ResolveAPIKey(auth.DevAnonKey)
	require.NoError(t, err)
	require.Equal(t, auth.DevAnonKey, same)
}

func TestUserTokenRoundTrip(t *testing.T) {
	t.Parallel()
	v := devVerifier(t)
	tok, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: "8d0f7a52-0000-4000-8000-000000000001", Email: "a@example.com", TTL: time.Minute})
	require.NoError(t, err)
	c, err := v.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, "authenticated", c.Role)
	require.Equal(t, "8d0f7a52-0000-4000-8000-000000000001", c.Subject)
	require.Equal(t, "a@example.com", c.Email)
	var m map[string]any
	require.NoError(t, json.Unmarshal(c.JSON, &m))
	require.Equal(t, "authenticated", m["aud"])
	require.Equal(t, c.Subject, m["sub"])
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := devVerifier(t)
	expired, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: "u", IssuedAt: now.Add(-2 * time.Hour), TTL: time.Hour})
	require.NoError(t, err)
	otherSecret, err := auth.MintUser("another-secret-that-is-at-least-32-characters", auth.UserToken{UserID: "u"})
	require.NoError(t, err)
	noRole, err := auth.MintHS256(auth.DevJWTSecret, jwt.MapClaims{"sub": "u", "exp": now.Add(time.Hour).Unix()})
	require.NoError(t, err)
	noExp, err := auth.MintHS256(auth.DevJWTSecret, jwt.MapClaims{"sub": "u", "role": "authenticated"})
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"role": "service_role", "exp": now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	for _, tc := range []struct {
		name, token string
		kind        error
		code        string
	}{
		{"expired", expired, auth.ErrExpired, "InvalidJWTToken"},
		{"wrong secret", otherSecret, auth.ErrSignature, "JwtSignatureError"},
		{"no role", noRole, auth.ErrMissingClaims, "InvalidJWTToken"},
		{"no exp", noExp, auth.ErrMissingClaims, "InvalidJWTToken"},
		{"alg none", none, auth.ErrSignature, "JwtSignatureError"},
		{"garbage", "not.a.jwt", auth.ErrMalformed, "MalformedJWT"},
		{"empty", "", auth.ErrMalformed, "MalformedJWT"},
		{"opaque key", auth.DevPublishableKey, auth.ErrMalformed, "MalformedJWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.token)
			require.ErrorIs(t, err, tc.kind)
			var te *auth.TokenError
			require.True(t, errors.As(err, &te))
			require.Equal(t, tc.code, te.Code)
		})
	}
	_, err = v.Verify(expired)
	var te *auth.TokenError
	require.True(t, errors.As(err, &te))
	require.InDelta(t, time.Hour.Seconds(), te.ExpiredFor.Seconds(), 60)
	require.Contains(t, te.Reason(), "InvalidJWTToken: Token has expired 36")
}

func TestSecretTooShort(t *testing.T) {
	t.Parallel()
	_, err := auth.NewVerifier(auth.Config{JWTSecret: "short"})
	require.Error(t, err)
	_, err = auth.NewVerifier(auth.Config{})
	require.Error(t, err)
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &rsaKey.PublicKey, KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"},
		{Key: &ecKey.PublicKey, KeyID: "ec-1", Algorithm: "ES256", Use: "sig"},
	}}
	doc, err := json.Marshal(set)
	require.NoError(t, err)
	v, err := auth.NewVerifier(auth.Config{JWKS: doc})
	require.NoError(t, err)

	claims := auth.UserToken{UserID: "u1"}.Claims()
	tok, err := auth.MintSigned("RS256", "rsa-1", rsaKey, claims)
	require.NoError(t, err)
	c, err := v.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, "u1", c.Subject)

	tok, err = auth.MintSigned("ES256", "ec-1", ecKey, claims)
	require.NoError(t, err)
	_, err = v.Verify(tok)
	require.NoError(t, err)

	// Signed by a key that is not in the set, under a known kid.
	tok, err = auth.MintSigned("ES256", "ec-1", otherEC, claims)
	require.NoError(t, err)
	_, err = v.Verify(tok)
	require.ErrorIs(t, err, auth.ErrSignature)

	// Unknown kid.
	tok, err = auth.MintSigned("ES256", "ec-2", ecKey, claims)
	require.NoError(t, err)
	_, err = v.Verify(tok)
	require.ErrorIs(t, err, auth.ErrNoVerificationKey)

	// HS256 with no secret configured.
	tok, err = auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: "u1"})
	require.NoError(t, err)
	_, err = v.Verify(tok)
	require.ErrorIs(t, err, auth.ErrNoVerificationKey)

	// A JWKS that leaks a private key is refused.
	priv, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ecKey, KeyID: "ec-1", Algorithm: "ES256"}}})
	require.NoError(t, err)
	_, err = auth.NewVerifier(auth.Config{JWKS: priv})
	require.Error(t, err)
	_, err = auth.NewVerifier(auth.Config{JWKS: []byte(`{"keys":[]}`)})
	require.Error(t, err)
	_, err = auth.NewVerifier(auth.Config{JWKS: []byte(`nope`)})
	require.Error(t, err)
}

func TestMintAPIKeyReproducesCLIKeys(t *testing.T) {
	t.Parallel()
	anon, err := auth.MintAPIKey(auth.DevJWTSecret, auth.RoleAnon)
	require.NoError(t, err)
	require.Equal(t, auth.DevAnonKey, anon)
	svc, err := auth.MintAPIKey(auth.DevJWTSecret, auth.RoleServiceRole)
	require.NoError(t, err)
	require.Equal(t, auth.DevServiceRoleKey, svc)
}
