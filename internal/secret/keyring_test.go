package secret_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/secret"
)

func keyB64(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k, err := secret.ParseKeyring("kid2:" + keyB64(2) + ", kid1:" + keyB64(1))
	require.NoError(t, err)
	require.Equal(t, "kid2", k.ActiveKeyID())
	require.Equal(t, []string{"kid2", "kid1"}, k.KeyIDs())

	id, ct1, err := k.Seal([]byte("token-123"), []byte("conn-a"))
	require.NoError(t, err)
	require.Equal(t, "kid2", id)
	_, ct2, err := k.Seal([]byte("token-123"), []byte("conn-a"))
	require.NoError(t, err)
	require.NotEqual(t, ct1[:12], ct2[:12], "every seal uses a fresh nonce")
	require.NotContains(t, string(ct1), "token-123")

	pt, err := k.Open(id, ct1, []byte("conn-a"))
	require.NoError(t, err)
	require.Equal(t, "token-123", string(pt))

	// Bound to its row: another connection id does not open it.
	_, err = k.Open(id, ct1, []byte("conn-b"))
	require.ErrorIs(t, err, secret.ErrDecrypt)
	// Tampering is detected.
	bad := append([]byte(nil), ct1...)
	bad[len(bad)-1] ^= 1
	_, err = k.Open(id, bad, []byte("conn-a"))
	require.ErrorIs(t, err, secret.ErrDecrypt)
	_, err = k.Open(id, ct1[:5], []byte("conn-a"))
	require.ErrorIs(t, err, secret.ErrDecrypt)
	// Wrong key material under the same id is detected too.
	other, err := secret.ParseKeyring("kid2:" + keyB64(9))
	require.NoError(t, err)
	_, err = other.Open(id, ct1, []byte("conn-a"))
	require.ErrorIs(t, err, secret.ErrDecrypt)

	// Decrypt-only keys still open.
	old, err := secret.ParseKeyring("kid1:" + keyB64(1))
	require.NoError(t, err)
	oid, oct, err := old.Seal([]byte("old"), nil)
	require.NoError(t, err)
	pt, err = k.Open(oid, oct, nil)
	require.NoError(t, err)
	require.Equal(t, "old", string(pt))
}

func TestMissingKeyNamesKeyID(t *testing.T) {
	t.Parallel()
	k, err := secret.ParseKeyring("kid2:" + keyB64(2))
	require.NoError(t, err)
	_, err = k.Open("kidA", []byte("whatever-ciphertext-bytes-here"), nil)
	var mk *secret.MissingKeyError
	require.ErrorAs(t, err, &mk)
	require.Equal(t, "kidA", mk.KeyID)
	require.Contains(t, err.Error(), `"kidA"`)
	require.Contains(t, err.Error(), secret.EnvKeys)
}

func TestParseKeyringErrors(t *testing.T) {
	t.Parallel()
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	cases := []struct {
		name, spec, want string
	}{
		{"empty", "  ", "no keys"},
		{"no colon", "kid1" + keyB64(1), "missing ':'"},
		{"bad id", "k id:" + keyB64(1), "key id must be"},
		{"short key", "kid1:" + long, "16 bytes, want 32"},
		{"not base64", "kid1:%%%not-base64%%%", "not valid base64"},
		{"duplicate", "kid1:" + keyB64(1) + ",kid1:" + keyB64(2), "duplicate key id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := secret.ParseKeyring(c.spec)
			var se *secret.SpecError
			require.ErrorAs(t, err, &se)
			require.Contains(t, err.Error(), c.want)
			// The key material never appears in the error.
			if _, b64, ok := strings.Cut(c.spec, ":"); ok && len(b64) > 8 {
				require.NotContains(t, err.Error(), strings.TrimSpace(strings.Split(b64, ",")[0]))
			}
		})
	}
	// URL-safe and unpadded base64 are accepted.
	raw := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	_, err := secret.ParseKeyring("kid1:" + raw)
	require.NoError(t, err)
}

func TestKeyringNeverPrintsKeyMaterial(t *testing.T) {
	t.Parallel()
	material := bytes.Repeat([]byte{0x42}, 32)
	k, err := secret.NewKeyring(secret.Key{ID: "kid9", Material: material})
	require.NoError(t, err)

	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	logger.Info("keyring loaded", "keyring", k)
	printed := fmt.Sprintf("%v %+v %#v %s", k, k, k, k)
	for _, out := range []string{logBuf.String(), printed} {
		require.Contains(t, out, "kid9")
		require.NotContains(t, out, base64.StdEncoding.EncodeToString(material))
		require.NotContains(t, out, string(material))
		require.NotContains(t, out, "0x42")
		require.NotContains(t, out, "66, 66") // %v of a byte slice
	}
}

func TestDevKeyring(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	k1, err := secret.FromEnv("", dir, logger)
	require.NoError(t, err)
	k2, err := secret.FromEnv("", dir, logger)
	require.NoError(t, err)
	require.Equal(t, k1.ActiveKeyID(), k2.ActiveKeyID())
	// The persisted key is the same key: what k1 seals, k2 opens.
	id, ct, err := k1.Seal([]byte("x"), nil)
	require.NoError(t, err)
	pt, err := k2.Open(id, ct, nil)
	require.NoError(t, err)
	require.Equal(t, "x", string(pt))
	require.Contains(t, logBuf.String(), "dev encryption key")
	spec, err := readSpec(dir)
	require.NoError(t, err)
	_, b64, _ := strings.Cut(strings.TrimSpace(spec), ":")
	require.NotContains(t, logBuf.String(), b64)

	_, err = secret.FromEnv("", "", logger)
	require.True(t, errors.Is(err, secret.ErrNoKeys))
}
