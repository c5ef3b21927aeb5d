// Package secret encrypts vendorhub's integration secrets and OAuth tokens at rest with
// AES-256-GCM under a keyring of named keys.
//
// Keys come from VENDORHUB_ENCRYPTION_KEYS, "kid2:base64(32 bytes),kid1:base64(32 bytes)": the
// first key is active (new writes), the others only decrypt. Every ciphertext is stored with the
// id of the key that sealed it, and is a fresh 12-byte nonce followed by the GCM output; the
// additional data binds it to its row (the connection id), so a ciphertext copied to another row
// does not open.
//
// Rotation without downtime: deploy every instance with "new,old", run `vendorhub keys rotate`
// (re-encrypts every row still under an old key), then `vendorhub keys retire old` (refused
// while any row uses it; afterwards the database refuses writes under it) and drop it from the
// environment. Key material never reaches logs, the audit log or error messages; a Keyring
// formats as its key ids only.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// EnvKeys is the environment variable holding the keyring spec.
const EnvKeys = "VENDORHUB_ENCRYPTION_KEYS"

// KeySize is the size of every key: AES-256.
const KeySize = 32

const nonceSize = 12

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// Keyring holds named AES-256-GCM keys; the first is active. It is safe for concurrent use.
type Keyring struct {
	ids   []string // ids[0] is active
	aeads map[string]cipher.AEAD
	check map[string][]byte // key check values (HMAC of a constant), safe to store
}

// Key is one named key, for NewKeyring.
type Key struct {
	ID       string
	Material []byte // KeySize bytes
}

// SpecError reports a malformed keyring spec. It names the entry's position and key id only.
type SpecError struct {
	Index  int    // 1-based position of the entry in the spec (0 = the whole spec)
	KeyID  string // the key id, when one could be read
	Reason string
}

func (e *SpecError) Error() string {
	where := "keyring spec"
	if e.Index > 0 {
		where = fmt.Sprintf("keyring entry %d", e.Index)
		if e.KeyID != "" {
			where += fmt.Sprintf(" (key id %q)", e.KeyID)
		}
	}
	return fmt.Sprintf("secret: %s: %s (%s wants \"kid:base64(32 bytes),...\")", where, e.Reason, EnvKeys)
}

// MissingKeyError reports a ciphertext sealed under a key id that is not in the keyring.
type MissingKeyError struct{ KeyID string }

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("secret: encryption key %q is not in the keyring: add it to %s (as a non-first entry) to decrypt rows sealed with it",
		e.KeyID, EnvKeys)
}

// ErrDecrypt reports a ciphertext that fails authentication: wrong key material under that id,
// a ciphertext moved to another row, or tampering.
var ErrDecrypt = errors.New("secret: ciphertext failed authentication (wrong key material, wrong row, or tampered)")

// ParseKeyring parses "kid2:base64,kid1:base64". Standard and URL-safe base64, padded or not,
// are accepted. Errors never contain key material.
func ParseKeyring(spec string) (*Keyring, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, &SpecError{Reason: "no keys"}
	}
	var keys []Key
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, &SpecError{Index: i + 1, Reason: "missing ':' between key id and key"}
		}
		id = strings.TrimSpace(id)
		if !keyIDPattern.MatchString(id) {
			return nil, &SpecError{Index: i + 1, Reason: "key id must be 1-63 characters of [A-Za-z0-9_.-], starting with a letter or digit"}
		}
		material, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, &SpecError{Index: i + 1, KeyID: id, Reason: err.Error()}
		}
		keys = append(keys, Key{ID: id, Material: material})
	}
	return NewKeyring(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("key is %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not valid base64")
}

// NewKeyring builds a keyring from keys; keys[0] is active.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, &SpecError{Reason: "no keys"}
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD, len(keys)), check: make(map[string][]byte, len(keys))}
	for i, key := range keys {
		if !keyIDPattern.MatchString(key.ID) {
			return nil, &SpecError{Index: i + 1, Reason: "invalid key id"}
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, &SpecError{Index: i + 1, KeyID: key.ID, Reason: "duplicate key id"}
		}
		if len(key.Material) != KeySize {
			return nil, &SpecError{Index: i + 1, KeyID: key.ID, Reason: fmt.Sprintf("key is %d bytes, want %d", len(key.Material), KeySize)}
		}
		block, err := aes.NewCipher(key.Material)
		if err != nil {
			return nil, &SpecError{Index: i + 1, KeyID: key.ID, Reason: "cannot build AES cipher"}
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, &SpecError{Index: i + 1, KeyID: key.ID, Reason: "cannot build GCM"}
		}
		mac := hmac.New(sha256.New, key.Material)
		mac.Write([]byte("vendorhub key check v1"))
		k.ids = append(k.ids, key.ID)
		k.aeads[key.ID] = aead
		k.check[key.ID] = mac.Sum(nil)[:16]
	}
	return k, nil
}

// GenerateKey returns KeySize fresh random bytes.
func GenerateKey() []byte {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return b
}

// EncodeKey renders key material for a keyring spec entry ("id:" + EncodeKey(material)).
func EncodeKey(material []byte) string { return base64.StdEncoding.EncodeToString(material) }

// ActiveKeyID is the id of the key new writes use.
func (k *Keyring) ActiveKeyID() string { return k.ids[0] }

// KeyIDs lists the key ids, active first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// Has reports whether the keyring holds keyID.
func (k *Keyring) Has(keyID string) bool { _, ok := k.aeads[keyID]; return ok }

// CheckValue is a 16-byte fingerprint of a key's material (HMAC-SHA256 of a constant under the
// key). It reveals nothing about the key and detects a key id reused for different material.
func (k *Keyring) CheckValue(keyID string) ([]byte, error) {
	c, ok := k.check[keyID]
	if !ok {
		return nil, &MissingKeyError{KeyID: keyID}
	}
	return append([]byte(nil), c...), nil
}

// Seal encrypts plaintext under the active key, binding aad. The ciphertext is a fresh random
// nonce followed by the GCM output.
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error) {
	id := k.ids[0]
	aead := k.aeads[id]
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return "", nil, fmt.Errorf("secret: nonce: %w", err)
	}
	return id, aead.Seal(out, out, plaintext, aad), nil
}

// Open decrypts a ciphertext produced by Seal under keyID with the same aad. A key id missing
// from the keyring gives *MissingKeyError; anything that fails authentication gives ErrDecrypt.
func (k *Keyring) Open(keyID string, ciphertext, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, &MissingKeyError{KeyID: keyID}
	}
	if len(ciphertext) < nonceSize+aead.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(nil, ciphertext[:nonceSize], ciphertext[nonceSize:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// String shows key ids only.
func (k *Keyring) String() string {
	if k == nil {
		return "secret.Keyring(nil)"
	}
	return fmt.Sprintf("secret.Keyring{active: %s, keys: %s}", k.ids[0], strings.Join(k.ids, ","))
}

// Format makes every fmt verb (%v, %+v, %#v, %s) print String, never key material.
func (k *Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue makes slog print key ids only.
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }
