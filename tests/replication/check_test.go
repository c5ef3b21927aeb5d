package replication_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// runCheck runs `vendorhub check` with DATABASE_URL=url and returns its output and exit code.
func runCheck(t *testing.T, url string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, "check")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), 0
}

func TestCheckCommand(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	out, code := runCheck(t, db.URL)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "wal_level = logical")
	require.Contains(t, out, "ready for replication")

	out, code = runCheck(t, "postgres://postgres.ref:secret@aws-0-eu-west-1.pooler.supabase.com:6543/postgres")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "use the direct connection on port 5432")
	require.NotContains(t, out, "secret", "no password in the output")

	out, code = runCheck(t, "")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "DATABASE_URL")
}
