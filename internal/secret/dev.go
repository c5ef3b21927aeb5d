package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// DevKeyFile is the file, inside the dev data directory, holding the generated dev keyring spec.
const DevKeyFile = "encryption-keys"

// ErrNoKeys reports that no keyring is configured outside dev.
var ErrNoKeys = errors.New("secret: " + EnvKeys + " is not set: generate a key with `vendorhub keys generate` and set " +
	EnvKeys + "=\"<id>:<base64>\"")

// FromEnv returns the keyring of spec (the value of VENDORHUB_ENCRYPTION_KEYS). An empty spec
// gives the dev keyring persisted in devDir when devDir is set, and ErrNoKeys otherwise.
func FromEnv(spec, devDir string, logger *slog.Logger) (*Keyring, error) {
	if strings.TrimSpace(spec) != "" {
		return ParseKeyring(spec)
	}
	if devDir == "" {
		return nil, ErrNoKeys
	}
	return LoadOrCreateDevKeyring(devDir, logger)
}

// LoadOrCreateDevKeyring reads the dev keyring from dir/encryption-keys, generating and
// persisting one (mode 0600) on first use. It logs a warning naming the file and key id, never
// the key.
func LoadOrCreateDevKeyring(dir string, logger *slog.Logger) (*Keyring, error) {
	if logger == nil {
		logger = slog.Default()
	}
	path := filepath.Join(dir, DevKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := ParseKeyring(string(b))
		if err != nil {
			return nil, fmt.Errorf("secret: dev keyring %s: %w", path, err)
		}
		logger.Warn("no "+EnvKeys+" set: using the dev encryption key (not for production)", "file", path, "key_id", k.ActiveKeyID())
		return k, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("secret: dev keyring: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secret: dev keyring: %w", err)
	}
	id := "dev1"
	spec := id + ":" + EncodeKey(GenerateKey())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // created concurrently: read theirs
		return LoadOrCreateDevKeyring(dir, logger)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: dev keyring: %w", err)
	}
	if _, err := f.WriteString(spec + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret: dev keyring: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secret: dev keyring: %w", err)
	}
	logger.Warn("no "+EnvKeys+" set: generated a dev encryption key (not for production)", "file", path, "key_id", id)
	return ParseKeyring(spec)
}
