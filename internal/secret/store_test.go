package secret_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/secret"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newConnections creates a vendor with n integration connections and returns their ids.
func newConnections(t *testing.T, pool *pgxpool.Pool, n int) []string {
	t.Helper()
	ctx := context.Background()
	var vendor string
	require.NoError(t, pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Rotation Florist', 'florist') returning id`).Scan(&vendor))
	ids := make([]string, n)
	for i := range ids {
		require.NoError(t, pool.QueryRow(ctx, `insert into public.integration_connections (vendor_id, kind, display_name)
			values ($1, 'honeybook', 'HB') returning id`, vendor).Scan(&ids[i]))
	}
	return ids
}

func mustKeyring(t *testing.T, spec string) *secret.Keyring {
	t.Helper()
	k, err := secret.ParseKeyring(spec)
	require.NoError(t, err)
	return k
}

func TestRotationAndRetirement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	conns := newConnections(t, db.Pool, 3)
	specA := "kidA:" + keyB64(0xA)
	specB := "kidB:" + keyB64(0xB)

	a := mustKeyring(t, specA)
	require.NoError(t, a.Register(ctx, db.Pool))
	for i, c := range conns {
		require.NoError(t, a.PutCredential(ctx, db.Pool, c, []byte("token-"+string(rune('0'+i)))))
	}
	var underA int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.integration_credentials where key_id = 'kidA'`).Scan(&underA))
	require.Equal(t, 3, underA)

	// Deploy "B,A": rows under A stay readable, new writes go to B.
	ba := mustKeyring(t, specB+","+specA)
	require.NoError(t, ba.Register(ctx, db.Pool))
	for i, c := range conns {
		got, err := ba.GetCredential(ctx, db.Pool, c)
		require.NoError(t, err)
		require.Equal(t, "token-"+string(rune('0'+i)), string(got))
	}

	// A cannot be retired while rows use it; the refusal is audited.
	err := ba.Retire(ctx, db.Pool, "kidA", "operator")
	var inUse *secret.KeyInUseError
	require.ErrorAs(t, err, &inUse)
	require.Equal(t, 3, inUse.Rows)
	requireAudit(t, db.Pool, "key.retire_refused", "key:kidA", 1)
	// Nor can the active key.
	require.ErrorAs(t, ba.Retire(ctx, db.Pool, "kidB", "operator"), new(*secret.RetireActiveError))
	require.ErrorAs(t, ba.Retire(ctx, db.Pool, "kidZ", "operator"), new(*secret.UnknownKeyError))

	res, err := ba.Rotate(ctx, db.Pool, "operator")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"kidA": 3}, res.Rewritten)
	requireAudit(t, db.Pool, "key.rotated", "key:kidA", 1)
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.integration_credentials where key_id = 'kidA'`).Scan(&underA))
	require.Zero(t, underA)

	require.NoError(t, ba.Retire(ctx, db.Pool, "kidA", "operator"))
	requireAudit(t, db.Pool, "key.retired", "key:kidA", 1)
	require.NoError(t, ba.Retire(ctx, db.Pool, "kidA", "operator"), "retiring twice is a no-op")

	// B alone reads everything.
	b := mustKeyring(t, specB)
	for i, c := range conns {
		got, err := b.GetCredential(ctx, db.Pool, c)
		require.NoError(t, err)
		require.Equal(t, "token-"+string(rune('0'+i)), string(got))
	}
	// A is retired: an instance still configured with A first cannot start or write.
	require.ErrorAs(t, a.Register(ctx, db.Pool), new(*secret.KeyRetiredError))
	var retired *secret.KeyRetiredError
	require.ErrorAs(t, a.PutCredential(ctx, db.Pool, conns[0], []byte("late")), &retired)
	require.Equal(t, "kidA", retired.KeyID)

	infos, err := b.List(ctx, db.Pool)
	require.NoError(t, err)
	byID := map[string]secret.KeyInfo{}
	for _, ki := range infos {
		byID[ki.ID] = ki
	}
	require.True(t, byID["kidB"].Active)
	require.Equal(t, 3, byID["kidB"].Rows)
	require.NotNil(t, byID["kidA"].RetiredAt)
	require.False(t, byID["kidA"].InKeyring)
	require.Zero(t, byID["kidA"].Rows)
}

func TestMissingKeyErrorNamesKeyID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	conns := newConnections(t, db.Pool, 1)
	a := mustKeyring(t, "kidA:"+keyB64(0xA))
	require.NoError(t, a.PutCredential(ctx, db.Pool, conns[0], []byte("x")))

	other := mustKeyring(t, "kidC:"+keyB64(0xC))
	_, err := other.GetCredential(ctx, db.Pool, conns[0])
	var mk *secret.MissingKeyError
	require.ErrorAs(t, err, &mk)
	require.Equal(t, "kidA", mk.KeyID)
	require.Contains(t, err.Error(), `"kidA"`)

	// Rotation with a keyring lacking the key leaves the row alone and names the key.
	_, err = other.Rotate(ctx, db.Pool, "operator")
	require.ErrorAs(t, err, &mk)
	require.Equal(t, "kidA", mk.KeyID)

	_, err = a.GetCredential(ctx, db.Pool, "00000000-0000-0000-0000-000000000000")
	require.ErrorIs(t, err, secret.ErrNotFound)
}

func TestKeyIDReusedForOtherMaterial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	require.NoError(t, mustKeyring(t, "kid1:"+keyB64(1)).Register(ctx, db.Pool))
	err := mustKeyring(t, "kid1:"+keyB64(2)).Register(ctx, db.Pool)
	var mm *secret.KeyMismatchError
	require.ErrorAs(t, err, &mm)
	require.Equal(t, "kid1", mm.KeyID)

	// A key id the migration registered for older rows (no check value yet) takes the first
	// keyring's check value, and is then held to it.
	_, err = db.Pool.Exec(ctx, `insert into vendorhub.encryption_keys (key_id, check_value) values ('legacy', $1)`, make([]byte, 16))
	require.NoError(t, err)
	require.NoError(t, mustKeyring(t, "legacy:"+keyB64(5)).Register(ctx, db.Pool))
	require.ErrorAs(t, mustKeyring(t, "legacy:"+keyB64(6)).Register(ctx, db.Pool), &mm)
}

// A write under the key being retired either lands first and blocks the retirement, or waits and
// is refused: no row can end up under a retired key.
func TestRetireRacesWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	conns := newConnections(t, db.Pool, 1)
	a := mustKeyring(t, "kidA:"+keyB64(0xA))
	ba := mustKeyring(t, "kidB:"+keyB64(0xB)+",kidA:"+keyB64(0xA))
	require.NoError(t, ba.Register(ctx, db.Pool))

	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	require.NoError(t, a.PutCredential(ctx, tx, conns[0], []byte("in flight")))

	done := make(chan error, 1)
	go func() { done <- ba.Retire(ctx, db.Pool, "kidA", "operator") }()
	// Retire must wait for the writer (it holds the key row FOR SHARE).
	require.Eventually(t, func() bool {
		var waiting bool
		_ = db.Pool.QueryRow(ctx, `select exists (select 1 from pg_stat_activity where datname = current_database()
			and wait_event_type = 'Lock' and query like '%encryption_keys%for update%')`).Scan(&waiting)
		return waiting
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, tx.Commit(ctx))
	err = <-done
	require.ErrorAs(t, err, new(*secret.KeyInUseError))
}

func TestPlaintextNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	conns := newConnections(t, db.Pool, 1)
	const plaintext = "sk_live_VERY-SECRET-TOKEN-4242"
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	a := mustKeyring(t, "kidA:"+keyB64(0xA))
	require.NoError(t, a.PutCredential(ctx, db.Pool, conns[0], []byte(plaintext)))
	var ct []byte
	require.NoError(t, db.Pool.QueryRow(ctx, `select ciphertext from vendorhub.integration_credentials where connection_id = $1`, conns[0]).Scan(&ct))
	require.NotContains(t, string(ct), plaintext)

	var errs []error
	_, err := mustKeyring(t, "kidA:"+keyB64(0xD)).GetCredential(ctx, db.Pool, conns[0]) // wrong material
	errs = append(errs, err)
	_, err = mustKeyring(t, "kidX:"+keyB64(0xD)).GetCredential(ctx, db.Pool, conns[0]) // missing key
	errs = append(errs, err)
	// Copying the ciphertext to another row does not open it (bound to its connection id).
	other := newConnections(t, db.Pool, 1)[0]
	_, err = db.Pool.Exec(ctx, `insert into vendorhub.integration_credentials (connection_id, key_id, ciphertext)
		select $1, key_id, ciphertext from vendorhub.integration_credentials where connection_id = $2`, other, conns[0])
	require.NoError(t, err)
	_, err = a.GetCredential(ctx, db.Pool, other)
	require.ErrorIs(t, err, secret.ErrDecrypt)
	errs = append(errs, err)

	b := mustKeyring(t, "kidB:"+keyB64(0xB)+",kidA:"+keyB64(0xA))
	_, err = b.Rotate(ctx, db.Pool, "operator") // fails on the copied row, wrong aad
	require.ErrorIs(t, err, secret.ErrDecrypt)
	errs = append(errs, err)
	for _, e := range errs {
		require.Error(t, e)
		logger.Error("credential error", "err", e, "keyring", b)
		require.NotContains(t, e.Error(), plaintext)
	}
	require.NotContains(t, logBuf.String(), plaintext)
	require.NotContains(t, logBuf.String(), keyB64(0xA))

	var auditText string
	require.NoError(t, db.Pool.QueryRow(ctx, `select coalesce(string_agg(a::text, ' '), '') from vendorhub.audit_log a`).Scan(&auditText))
	require.NotContains(t, auditText, plaintext)
	require.NotContains(t, auditText, keyB64(0xA))
}

func requireAudit(t *testing.T, pool *pgxpool.Pool, action, subject string, want int) {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`select count(*) from vendorhub.audit_log where action = $1 and subject = $2`, action, subject).Scan(&n))
	require.Equal(t, want, n, "audit rows %s %s", action, subject)
}
