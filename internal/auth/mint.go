package auth

import (
	"crypto"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// UserToken describes a Supabase Auth access token for a signed-in user.
type UserToken struct {
	// UserID is the auth.users id (claim "sub").
	UserID string
	// Email is the claim "email".
	Email string
	// Role is the claim "role". Default: "authenticated".
	Role string
	// TTL is how long the token is valid. Default: one hour, like Supabase Auth's jwt_expiry.
	TTL time.Duration
	// IssuedAt is the issue time. Default: now.
	IssuedAt time.Time
}

// UserTokenTTLDefault is Supabase Auth's default access-token lifetime.
const UserTokenTTLDefault = time.Hour

// Claims returns the claims of the token in the shape Supabase Auth issues.
func (u UserToken) Claims() jwt.MapClaims {
	role := u.Role
	if role == "" {
		role = RoleAuthenticated
	}
	ttl := u.TTL
	if ttl == 0 {
		ttl = UserTokenTTLDefault
	}
	iat := u.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	return jwt.MapClaims{
		"iss":           "vendorhub-dev",
		"aud":           "authenticated",
		"sub":           u.UserID,
		"email":         u.Email,
		"role":          role,
		"aal":           "aal1",
		"iat":           iat.Unix(),
		"exp":           iat.Add(ttl).Unix(),
		"app_metadata":  map[string]any{"provider": "email", "providers": []string{"email"}},
		"user_metadata": map[string]any{},
		"is_anonymous":  false,
	}
}

// MintHS256 signs claims with secret (HS256), as Supabase Auth does with a legacy JWT secret.
func MintHS256(secret string, claims jwt.Claims) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("auth: mint: empty secret")
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}

// MintUser mints an HS256 access token for a user.
func MintUser(secret string, u UserToken) (string, error) {
	return MintHS256(secret, u.Claims())
}

// MintSigned signs claims with an asymmetric private key (alg RS256, ES256 or EdDSA) under kid,
// as Supabase Auth does with signing keys. Used by tests of JWKS verification.
func MintSigned(alg, kid string, key crypto.Signer, claims jwt.Claims) (string, error) {
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return "", fmt.Errorf("auth: mint: unknown alg %q", alg)
	}
	t := jwt.NewWithClaims(m, claims)
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// apiKeyClaims are the claims of Supabase's legacy API keys, in the CLI's field order so that
// signing them reproduces the well-known local keys byte for byte.
type apiKeyClaims struct {
	Iss  string `json:"iss"`
	Role string `json:"role"`
	Exp  int64  `json:"exp"`
}

func (c apiKeyClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}
func (c apiKeyClaims) GetIssuedAt() (*jwt.NumericDate, error)  { return nil, nil }
func (c apiKeyClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c apiKeyClaims) GetIssuer() (string, error)              { return c.Iss, nil }
func (c apiKeyClaims) GetSubject() (string, error)             { return "", nil }
func (c apiKeyClaims) GetAudience() (jwt.ClaimStrings, error)  { return nil, nil }

// APIKeyExpiry is the exp of the Supabase CLI's local API keys (2032-11-12).
const APIKeyExpiry = 1983812996

// MintAPIKey signs a legacy API key for role (anon or service_role) with secret, as the
// Supabase CLI does for a local stack: with DevJWTSecret it returns DevAnonKey and
// DevServiceRoleKey.
func MintAPIKey(secret, role string) (string, error) {
	return MintHS256(secret, apiKeyClaims{Iss: "supabase-demo", Role: role, Exp: APIKeyExpiry})
}
