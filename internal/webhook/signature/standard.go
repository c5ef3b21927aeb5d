package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ToleranceDefault is how far a webhook timestamp may be from now, in the past or the future.
const ToleranceDefault = 5 * time.Minute

// SecretPrefix prefixes serialized Standard Webhooks secrets.
const SecretPrefix = "whsec_"

// Header names of a signature scheme.
type Headers struct {
	ID, Timestamp, Signature string
}

var (
	// StandardHeaders are the Standard Webhooks headers.
	StandardHeaders = Headers{ID: "webhook-id", Timestamp: "webhook-timestamp", Signature: "webhook-signature"}
	// SvixHeaders are Svix's (and so Resend's) headers.
	SvixHeaders = Headers{ID: "svix-id", Timestamp: "svix-timestamp", Signature: "svix-signature"}
)

// Limits on header contents, so hostile input costs little.
const (
	maxIDLen         = 256
	maxSignatureHdr  = 4096
	maxSignatures    = 16
	signatureVersion = "v1"
)

// ParseSecret decodes a Standard Webhooks secret: "whsec_" (optional) + base64.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), SecretPrefix)
	if s == "" {
		return nil, fail(ErrInvalidSecret, "empty")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, fail(ErrInvalidSecret, "not base64")
		}
	}
	if len(b) == 0 {
		return nil, fail(ErrInvalidSecret, "empty")
	}
	return b, nil
}

// FormatSecret serializes a secret as "whsec_" + base64.
func FormatSecret(secret []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(secret)
}

// Sign returns the "v1,<base64>" signature of body sent as msgID at ts.
func Sign(secret []byte, msgID string, ts time.Time, body []byte) string {
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(mac(secret, msgID, ts.Unix(), body))
}

// SignAll returns the space-separated signatures of body under each secret (rotation).
func SignAll(secrets [][]byte, msgID string, ts time.Time, body []byte) string {
	parts := make([]string, len(secrets))
	for i, s := range secrets {
		parts[i] = Sign(s, msgID, ts, body)
	}
	return strings.Join(parts, " ")
}

// SetHeaders sets id, timestamp and signature headers on h for a message signed with secrets.
func SetHeaders(h http.Header, names Headers, secrets [][]byte, msgID string, ts time.Time, body []byte) {
	h.Set(names.ID, msgID)
	h.Set(names.Timestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(names.Signature, SignAll(secrets, msgID, ts, body))
}

func mac(secret []byte, msgID string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is one entry of a signature header.
type Signature struct {
	Version string // "v1" for HMAC-SHA256; other versions are ignored by Verify
	MAC     []byte
}

// ParseSignatures parses a space-separated list of "version,base64" entries. Entries of
// unknown versions are kept (with a nil MAC if they are not base64) so that Verify can skip
// them; an empty header, too many entries or an entry without a comma is ErrMalformed.
func ParseSignatures(header string) ([]Signature, error) {
	if len(header) > maxSignatureHdr {
		return nil, fail(ErrMalformed, "signature header too long")
	}
	fields := strings.Fields(header)
	if len(fields) == 0 {
		return nil, fail(ErrMalformed, "no signatures")
	}
	if len(fields) > maxSignatures {
		return nil, fail(ErrMalformed, "too many signatures")
	}
	out := make([]Signature, 0, len(fields))
	for _, f := range fields {
		v, b64, ok := strings.Cut(f, ",")
		if !ok || v == "" {
			return nil, fail(ErrMalformed, "entry without version")
		}
		sig := Signature{Version: v}
		if b, err := base64.StdEncoding.DecodeString(b64); err == nil {
			sig.MAC = b
		} else if v == signatureVersion {
			return nil, fail(ErrMalformed, "v1 signature is not base64")
		}
		out = append(out, sig)
	}
	return out, nil
}

// ParseTimestamp parses a unix-seconds timestamp header.
func ParseTimestamp(s string) (time.Time, error) {
	if s == "" || len(s) > 12 {
		return time.Time{}, fail(ErrInvalidTimestamp, "not unix seconds")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fail(ErrInvalidTimestamp, "not unix seconds")
	}
	return time.Unix(n, 0), nil
}

// Message is what a verified Standard Webhooks / Svix request identifies itself as.
type Message struct {
	ID        string
	Timestamp time.Time
}

// VerifyStandard checks a Standard Webhooks or Svix signed request: all three headers present,
// timestamp within tolerance of now (both ways; tolerance <= 0 means ToleranceDefault), and at
// least one "v1" signature matching one of secrets (constant-time).
func VerifyStandard(secrets [][]byte, names Headers, h http.Header, body []byte, now time.Time, tolerance time.Duration) (Message, error) {
	id := h.Get(names.ID)
	tsHdr := h.Get(names.Timestamp)
	sigHdr := h.Get(names.Signature)
	switch {
	case id == "":
		return Message{}, fail(ErrMissingHeader, names.ID)
	case tsHdr == "":
		return Message{}, fail(ErrMissingHeader, names.Timestamp)
	case sigHdr == "":
		return Message{}, fail(ErrMissingHeader, names.Signature)
	}
	if len(id) > maxIDLen || strings.ContainsAny(id, ". \t") {
		return Message{}, fail(ErrMalformed, names.ID+" must be 1-256 characters without '.' or spaces")
	}
	ts, err := ParseTimestamp(tsHdr)
	if err != nil {
		return Message{}, err
	}
	if tolerance <= 0 {
		tolerance = ToleranceDefault
	}
	if now.Sub(ts) > tolerance {
		return Message{}, fail(ErrTimestampTooOld, names.Timestamp)
	}
	if ts.Sub(now) > tolerance {
		return Message{}, fail(ErrTimestampTooNew, names.Timestamp)
	}
	sigs, err := ParseSignatures(sigHdr)
	if err != nil {
		return Message{}, err
	}
	if len(secrets) == 0 {
		return Message{}, fail(ErrInvalidSecret, "no secret configured")
	}
	for _, secret := range secrets {
		want := mac(secret, id, ts.Unix(), body)
		for _, s := range sigs {
			if s.Version == signatureVersion && hmac.Equal(s.MAC, want) {
				return Message{ID: id, Timestamp: ts}, nil
			}
		}
	}
	return Message{}, fail(ErrSignatureMismatch, strconv.Itoa(len(sigs))+" signature(s) checked")
}
