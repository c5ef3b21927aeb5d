package preflight_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/preflight"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// failure returns the failure of check id in err, or nil.
func failure(err error, id preflight.CheckID) *preflight.Failure {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			var f *preflight.Failure
			if errors.As(e, &f) && f.Check == id {
				return f
			}
		}
	}
	return nil
}

func TestPassesOnAMigratedDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	rep, err := preflight.Check(context.Background(), preflight.Config{URL: db.URL, Slot: "vh_pf_ok"})
	require.NoError(t, err)
	require.False(t, rep.PublicationMissing)
	var out bytes.Buffer
	rep.Print(&out)
	require.Contains(t, out.String(), "wal_level = logical")
	require.Contains(t, out.String(), `slot "vh_pf_ok" does not exist yet`)
}

func TestRefusesPoolerURLs(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"postgres://postgres.abcdefgh:secret@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
		"postgres://postgres:secret@db.abcdefgh.supabase.co:6543/postgres",
	} {
		rep, err := preflight.Check(context.Background(), preflight.Config{URL: url})
		f := failure(err, preflight.CheckPooler)
		require.NotNil(t, f, "%s: %v", url, err)
		require.Contains(t, err.Error(), "use the direct connection on port 5432")
		require.Equal(t, "DATABASE_URL", f.Setting)
		require.Len(t, rep.Findings, 1, "nothing else is checked through a pooler")
	}
	f, err := preflight.PoolerError("postgres://postgres:secret@db.abcdefgh.supabase.co:5432/postgres")
	require.NoError(t, err)
	require.Nil(t, f)
}

func TestRefusesWALLevelReplica(t *testing.T) {
	t.Parallel()
	c, err := embeddedpg.Start(context.Background(), embeddedpg.Config{ForTests: true,
		Settings: map[string]string{"wal_level": "replica"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	_, err = preflight.Check(context.Background(), preflight.Config{URL: c.URL("postgres")})
	f := failure(err, preflight.CheckWALLevel)
	require.NotNil(t, f, "%v", err)
	require.Equal(t, "wal_level", f.Setting)
	require.Contains(t, f.Found, `"replica"`)
	require.Contains(t, err.Error(), "ALTER SYSTEM SET wal_level = logical")
	// The missing publication is reported too: every failure, not only the first.
	require.NotNil(t, failure(err, preflight.CheckPublication))
}

func TestRefusesRoleWithoutReplicationAndMissingPublication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	_, err := db.Pool.Exec(ctx, `drop publication vendorhub`)
	require.NoError(t, err)
	role := "vh_pf_" + db.Name
	_, err = db.Pool.Exec(ctx, `create role `+role+` login password 'pw'`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), `drop role if exists `+role) })
	url := withUser(t, db.URL, role, "pw")

	rep, err := preflight.Check(ctx, preflight.Config{URL: url})
	require.NotNil(t, failure(err, preflight.CheckReplicationRole), "%v", err)
	require.Contains(t, err.Error(), "WITH REPLICATION")
	require.NotNil(t, failure(err, preflight.CheckPublication))
	require.True(t, rep.PublicationMissing)

	created, err := preflight.EnsurePublication(ctx, db.Pool, "vendorhub")
	require.NoError(t, err)
	require.True(t, created)
	created, err = preflight.EnsurePublication(ctx, db.Pool, "vendorhub")
	require.NoError(t, err)
	require.False(t, created)
	_, err = preflight.Check(ctx, preflight.Config{URL: db.URL})
	require.NoError(t, err)
}

func TestRefusesSlotOfAnotherPluginAndTablesWithoutIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	slot := "vh_pf_td_" + db.Name
	if len(slot) > 63 {
		slot = slot[:63]
	}
	_, err := db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'test_decoding')`, slot)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `create table public.no_key (v text); alter publication vendorhub add table public.no_key`)
	require.NoError(t, err)

	_, err = preflight.Check(ctx, preflight.Config{URL: db.URL, Slot: slot})
	f := failure(err, preflight.CheckSlot)
	require.NotNil(t, f, "%v", err)
	require.Contains(t, f.Found, `"test_decoding"`)
	f = failure(err, preflight.CheckReplicaIdentity)
	require.NotNil(t, f)
	require.Contains(t, f.Setting, "public.no_key")
}

func TestRefusesStatusIntervalAboveHalfTheSenderTimeout(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	// wal_sender_timeout is 60s by default: a 45s interval would let the server drop us.
	_, err := preflight.Check(context.Background(), preflight.Config{URL: db.URL, StatusInterval: 45e9})
	f := failure(err, preflight.CheckSenderTimeout)
	require.NotNil(t, f, "%v", err)
	require.Contains(t, f.Fix, "VENDORHUB_STATUS_INTERVAL")
}

func TestRefusesADatabaseWithoutTheMigrations(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)
	_, err := preflight.Check(context.Background(), preflight.Config{URL: db.URL})
	f := failure(err, preflight.CheckMigrations)
	require.NotNil(t, f, "%v", err)
	require.Contains(t, f.Setting, "vendorhub.replication_cursor")
	require.Contains(t, f.Fix, "vendorhub migrate")
}
