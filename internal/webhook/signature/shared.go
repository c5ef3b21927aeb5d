package signature

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Twilio's scheme is HMAC-SHA1
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"sort"
)

// maxSharedSecret bounds a presented shared secret (header or JSON field).
const maxSharedSecret = 1024

// VerifyShared compares a presented shared secret (a Zapier header, Google's
// X-Goog-Channel-Token, Graph's clientState) with the expected one in constant time. Both are
// hashed first, so the comparison leaks neither content nor length. what names the header or
// field, for the error.
func VerifyShared(expected, presented, what string) error {
	if presented == "" {
		return fail(ErrMissingHeader, what)
	}
	if len(presented) > maxSharedSecret {
		return fail(ErrMalformed, what+" too long")
	}
	if expected == "" {
		return fail(ErrInvalidSecret, "no secret configured for "+what)
	}
	a := sha256.Sum256([]byte(expected))
	b := sha256.Sum256([]byte(presented))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return fail(ErrSignatureMismatch, what)
	}
	return nil
}

// twilioSign is Twilio's documented algorithm: URL, then each parameter name+value sorted by
// name (first value of repeated names, as twilio-go's validator reads them), HMAC-SHA1, base64.
func twilioSign(authToken, publicURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(publicURL))
	for _, k := range keys {
		m.Write([]byte(k))
		m.Write([]byte(params.Get(k)))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
