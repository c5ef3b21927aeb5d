// Package auth verifies and mints Supabase JWTs: HS256 tokens signed with the project's JWT
// secret and, for projects on asymmetric signing keys, RS256/ES256/EdDSA tokens checked
// against a JSON Web Key Set. The Realtime gateway, the dashboard and the dev RPC endpoint
// share it.
//
// It also knows the Supabase CLI's local defaults (DevJWTSecret, DevAnonKey,
// DevServiceRoleKey and the opaque sb_publishable_/sb_secret_ keys) so that supabase-js code
// written against `supabase start` works unchanged against `vendorhub dev`.
package auth

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Local defaults of the Supabase CLI (apps/cli-go/pkg/config/apikeys.go).
const (
	// DevJWTSecret is the HS256 secret of every local Supabase stack.
	DevJWTSecret = "super-secret-jwt-token-with-at-least-32-characters-long"
	// DevAnonKey is the local anon key: {"iss":"supabase-demo","role":"anon","exp":1983812996}.
	DevAnonKey = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
	// DevServiceRoleKey is the local service_role key.
	DevServiceRoleKey = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
	// DevPublishableKey is the local opaque publishable key; Kong swaps it for DevAnonKey.
	DevPublishableKey = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
	// DevSecretKey is the local opaque secret key; Kong swaps it for DevServiceRoleKey.
	DevSecretKey = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"
)

// DevOpaqueKeys maps the CLI's local opaque keys to the JWTs Kong substitutes for them.
func DevOpaqueKeys() map[string]string {
	return map[string]string{DevPublishableKey: DevAnonKey, DevSecretKey: DevServiceRoleKey}
}

// Roles Supabase puts in the role claim.
const (
	RoleAnon          = "anon"
	RoleAuthenticated = "authenticated"
	RoleServiceRole   = "service_role"
)

// OpaqueKeyPrefix starts the new-style API keys (sb_publishable_…, sb_secret_…), which are not JWTs.
const OpaqueKeyPrefix = "sb_"

// Claims is what a verified token says.
type Claims struct {
	// Role is the Postgres role the token acts as (claim "role").
	Role string
	// Subject is the auth user id (claim "sub"), empty for API keys.
	Subject string
	// Email is the claim "email", when present.
	Email string
	// ExpiresAt is the claim "exp".
	ExpiresAt time.Time
	// JSON is the full claims object, as PostgREST and Realtime put it in request.jwt.claims.
	JSON json.RawMessage
}

// Sentinel errors, wrapped by *TokenError; classify with errors.Is.
var (
	ErrMalformed         = errors.New("malformed JWT")
	ErrSignature         = errors.New("JWT signature invalid")
	ErrExpired           = errors.New("JWT expired")
	ErrMissingClaims     = errors.New("fields `role` and `exp` are required in JWT")
	ErrUnknownKey        = errors.New("unknown opaque API key")
	ErrNoVerificationKey = errors.New("no key to verify this JWT")
)

// TokenError says why a token was refused. Code is the Supabase Realtime error code for it
// ("InvalidJWTToken", "MalformedJWT", "JwtSignatureError", …) and Error() is the message
// Realtime would show after that code.
type TokenError struct {
	Kind error  // one of the sentinels above
	Code string // Realtime's error code
	Msg  string
	// ExpiredFor is how long ago the token expired, for ErrExpired.
	ExpiredFor time.Duration
}

func (e *TokenError) Error() string { return e.Msg }

// Unwrap exposes the sentinel.
func (e *TokenError) Unwrap() error { return e.Kind }

// Reason renders "<Code>: <message>", the shape of a Realtime join error reason.
func (e *TokenError) Reason() string { return e.Code + ": " + e.Msg }

// Config configures a Verifier. At least one of JWTSecret and JWKS must be set.
type Config struct {
	// JWTSecret verifies HS256 tokens (SUPABASE_JWT_SECRET). Default: none.
	JWTSecret string
	// JWKS is a JSON Web Key Set with the project's asymmetric public keys (RS256, ES256,
	// EdDSA), as served at <SUPABASE_URL>/auth/v1/.well-known/jwks.json. Default: none.
	JWKS []byte
	// OpaqueKeys maps opaque sb_publishable_/sb_secret_ keys to the JWT they stand for, like
	// Supabase's API gateway does. Default: none (opaque keys are refused).
	OpaqueKeys map[string]string
	// Leeway tolerates clock skew on exp. Default: 0.
	Leeway time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Verifier checks Supabase JWTs. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	keys   *KeySet
	opaque map[string]string
	leeway time.Duration
	now    func() time.Time
}

// NewVerifier builds a Verifier from cfg.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{opaque: cfg.OpaqueKeys, leeway: cfg.Leeway, now: cfg.Now}
	if v.now == nil {
		v.now = time.Now
	}
	if cfg.JWTSecret != "" {
		if len(cfg.JWTSecret) < 32 {
			return nil, fmt.Errorf("auth: JWTSecret must be at least 32 characters (Supabase requires it)")
		}
		v.secret = []byte(cfg.JWTSecret)
	}
	if len(cfg.JWKS) > 0 {
		ks, err := ParseKeySet(cfg.JWKS)
		if err != nil {
			return nil, err
		}
		v.keys = ks
	}
	if v.secret == nil && v.keys == nil {
		return nil, fmt.Errorf("auth: set JWTSecret or JWKS")
	}
	return v, nil
}

// ResolveAPIKey returns the JWT an API key stands for: opaque sb_… keys are looked up in
// Config.OpaqueKeys, anything else is returned as is.
func (v *Verifier) ResolveAPIKey(key string) (string, error) {
	if !strings.HasPrefix(key, OpaqueKeyPrefix) {
		return key, nil
	}
	if jwtKey, ok := v.opaque[key]; ok {
		return jwtKey, nil
	}
	return "", &TokenError{Kind: ErrUnknownKey, Code: "InvalidJWTToken", Msg: "Invalid API key"}
}

// Verify checks token's signature and expiry and that it carries role and exp.
func (v *Verifier) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, &TokenError{Kind: ErrMalformed, Code: "MalformedJWT", Msg: "The token provided is not a valid JWT"}
	}
	mc := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"}),
		jwt.WithTimeFunc(v.now),
		jwt.WithLeeway(v.leeway),
		jwt.WithJSONNumber(),
	)
	_, err := parser.ParseWithClaims(token, mc, v.keyFunc)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		c, _ := claimsFrom(mc)
		ago := v.now().Sub(c.ExpiresAt)
		return Claims{}, &TokenError{Kind: ErrExpired, Code: "InvalidJWTToken", ExpiredFor: ago,
			Msg: fmt.Sprintf("Token has expired %d seconds ago", int64(math.Max(0, ago.Seconds())))}
	case errors.Is(err, ErrNoVerificationKey):
		return Claims{}, &TokenError{Kind: ErrNoVerificationKey, Code: "JwtSignatureError", Msg: "Failed to validate JWT: " + err.Error()}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return Claims{}, &TokenError{Kind: ErrSignature, Code: "JwtSignatureError", Msg: "Failed to validate JWT signature"}
	default:
		return Claims{}, &TokenError{Kind: ErrMalformed, Code: "MalformedJWT", Msg: "The token provided is not a valid JWT"}
	}
	c, err := claimsFrom(mc)
	if err != nil {
		return Claims{}, err
	}
	return c, nil
}

func (v *Verifier) keyFunc(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if v.secret == nil {
			return nil, fmt.Errorf("%w: HS256 token but no JWT secret configured", ErrNoVerificationKey)
		}
		return v.secret, nil
	default:
		if v.keys == nil {
			return nil, fmt.Errorf("%w: %s token but no JWKS configured", ErrNoVerificationKey, t.Method.Alg())
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := v.keys.Key(kid, t.Method.Alg())
		if !ok {
			return nil, fmt.Errorf("%w: no JWKS key for kid %q", ErrNoVerificationKey, kid)
		}
		return k, nil
	}
}

func claimsFrom(mc jwt.MapClaims) (Claims, error) {
	missing := &TokenError{Kind: ErrMissingClaims, Code: "InvalidJWTToken", Msg: "Fields `role` and `exp` are required in JWT"}
	role, _ := mc["role"].(string)
	exp, err := mc.GetExpirationTime()
	if err != nil || exp == nil || role == "" {
		return Claims{}, missing
	}
	raw, err := json.Marshal(mc)
	if err != nil {
		return Claims{}, missing
	}
	c := Claims{Role: role, ExpiresAt: exp.Time, JSON: raw}
	c.Subject, _ = mc["sub"].(string)
	c.Email, _ = mc["email"].(string)
	return c, nil
}

// publicKey is what JWKS keys verify with.
type publicKey = crypto.PublicKey
