package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/secret"
)

// Not parallel: the keyring comes from the environment (t.Setenv).
func TestKeysRotateAndRetire(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)

	code, a, _ := runCmd(t, "keys", "generate", "-id", "kidA")
	require.Equal(t, 0, code)
	a = strings.TrimSpace(a)
	require.True(t, strings.HasPrefix(a, "kidA:"))
	_, b, _ := runCmd(t, "keys", "generate", "-id", "kidB")
	b = strings.TrimSpace(b)
	require.NotEqual(t, a[5:], b[5:], "fresh key material")

	// Rows under A.
	ka, err := secret.ParseKeyring(a)
	require.NoError(t, err)
	var vendor, conn string
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('K', 'dj') returning id`).Scan(&vendor))
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.integration_connections (vendor_id, kind, display_name)
		values ($1, 'dubsado', 'D') returning id`, vendor).Scan(&conn))
	require.NoError(t, ka.PutCredential(ctx, db.Pool, conn, []byte(`{"secret":"zap"}`)))

	t.Setenv(secret.EnvKeys, b+","+a)
	code, _, stderr := runCmd(t, "keys", "retire", "-db-url", db.URL, "kidA")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `cannot retire key "kidA": 1 row(s) still use it`)

	code, out, stderr := runCmd(t, "keys", "rotate", "-db-url", db.URL)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "re-encrypted 1 row(s) from kidA to kidB")

	code, out, _ = runCmd(t, "keys", "list", "-db-url", db.URL)
	require.Equal(t, 0, code)
	require.Regexp(t, `kidB\s+yes\s+yes\s+1`, out)
	require.Regexp(t, `kidA\s+-\s+yes\s+0`, out)

	code, out, stderr = runCmd(t, "keys", "retire", "-db-url", db.URL, "kidA")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "retired kidA")

	t.Setenv(secret.EnvKeys, b)
	kb, err := secret.ParseKeyring(b)
	require.NoError(t, err)
	got, err := kb.GetCredential(ctx, db.Pool, conn)
	require.NoError(t, err)
	require.JSONEq(t, `{"secret":"zap"}`, string(got))

	// A keyring without the key that sealed a row names the missing key id.
	_, c, _ := runCmd(t, "keys", "generate", "-id", "kidC")
	t.Setenv(secret.EnvKeys, strings.TrimSpace(c))
	code, _, stderr = runCmd(t, "keys", "rotate", "-db-url", db.URL)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `encryption key "kidB" is not in the keyring`)

	for _, bad := range [][]string{{"keys"}, {"keys", "frob"}, {"keys", "retire", "-db-url", db.URL}} {
		code, _, _ = runCmd(t, bad...)
		require.Equal(t, 2, code, bad)
	}
	// No key material in any output.
	require.NotContains(t, stderr, a[5:])
}
