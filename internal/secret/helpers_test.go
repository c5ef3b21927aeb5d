package secret_test

import (
	"os"
	"path/filepath"

	"github.com/wedsync/vendorhub/internal/secret"
)

func readSpec(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, secret.DevKeyFile))
	return string(b), err
}
