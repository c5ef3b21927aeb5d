package pgtest_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/migrate"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// TestShapedRolesAndOwners checks the platform of the Supabase-shaped mode against the facts
// of docs/supabase.md: postgres demoted with Supabase's attributes and memberships, auth and
// realtime owned by their service roles, realtime.messages partitioned with today's partition.
func TestShapedRolesAndOwners(t *testing.T) {
	t.Parallel()
	db := pgtest.NewShapedEmptyDB(t)
	ctx := t.Context()
	q := func(sql string, args ...any) string {
		t.Helper()
		var s string
		require.NoError(t, db.Pool.QueryRow(ctx, sql, args...).Scan(&s), sql)
		return s
	}
	require.Equal(t, "postgres", q("select current_user::text"))
	require.Equal(t, "super=f createdb=t createrole=t login=t replication=t bypassrls=t",
		q(`select format('super=%s createdb=%s createrole=%s login=%s replication=%s bypassrls=%s',
			rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, rolbypassrls) from pg_roles where rolname = 'postgres'`))
	require.Equal(t, "true", q("select rolsuper::text from pg_roles where rolname = 'supabase_admin'"))
	require.Equal(t, "anon,authenticated,pg_monitor,pg_read_all_data,pg_signal_backend,service_role,supabase_auth_admin,supabase_realtime_admin,supabase_storage_admin",
		q(`select string_agg(r.rolname, ',' order by r.rolname) from pg_auth_members m join pg_roles r on r.oid = m.roleid
			where m.member = 'postgres'::regrole`))
	require.Equal(t, "postgres", q("select datdba::regrole::text from pg_database where datname = current_database()"))

	require.Equal(t, "supabase_admin", q("select nspowner::regrole::text from pg_namespace where nspname = 'auth'"))
	require.Equal(t, "supabase_auth_admin", q("select string_agg(distinct relowner::regrole::text, ',') from pg_class where relnamespace = 'auth'::regnamespace and relkind = 'r'"))
	require.Equal(t, "supabase_auth_admin", q("select string_agg(distinct proowner::regrole::text, ',') from pg_proc where pronamespace = 'auth'::regnamespace"))
	require.Equal(t, "p supabase_realtime_admin", q("select relkind::text || ' ' || relowner::regrole::text from pg_class where oid = 'realtime.messages'::regclass"))
	require.Equal(t, "supabase_realtime_admin", q("select string_agg(distinct proowner::regrole::text, ',') from pg_proc where pronamespace = 'realtime'::regnamespace"))
	today := q("select 'realtime.messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD')")
	require.Equal(t, "supabase_realtime_admin", q("select relowner::regrole::text from pg_class where oid = $1::regclass", today))

	// Supabase's default privileges: a table postgres creates in public is granted to the API roles.
	_, err := db.Pool.Exec(ctx, "create table public.shaped_probe (id int)")
	require.NoError(t, err)
	require.Equal(t, "t t t", q(`select format('%s %s %s', has_table_privilege('anon', 'public.shaped_probe', 'select'),
		has_table_privilege('authenticated', 'public.shaped_probe', 'insert'), has_table_privilege('service_role', 'public.shaped_probe', 'delete'))`))

	// Not a superuser: a superuser-only extension is refused (Supabase lets postgres create its
	// allow-listed ones through supautils, which this harness does not have).
	_, err = db.Pool.Exec(ctx, "create extension pageinspect schema extensions")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42501", pgErr.Code, "postgres must not be a superuser: %v", err)
}

// TestShapedSendSwallowsErrors checks realtime.send() inserts a broadcast row and, with no
// partition for today, loses it with a WARNING instead of failing the caller, as upstream.
func TestShapedSendSwallowsErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.NewShapedEmptyDB(t)
	ctx := t.Context()
	var mu sync.Mutex
	var notices []string
	cfg, err := pgx.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		defer mu.Unlock()
		notices = append(notices, n.Severity+" "+n.Message)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close(context.Background())

	_, err = conn.Exec(ctx, `select realtime.send('{"a": 1}', 'ev', 'topic:one', true)`)
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `select count(*) from realtime.messages where topic = 'topic:one' and payload ? 'id'`).Scan(&n))
	require.Equal(t, 1, n, "send stores one broadcast row with an id in the payload")

	admin, err := pgx.Connect(ctx, db.AdminURL)
	require.NoError(t, err)
	defer admin.Close(context.Background())
	_, err = admin.Exec(ctx, `do $$ begin execute format('drop table realtime.%I', 'messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD')); end $$`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `select realtime.send('{"a": 2}', 'ev', 'topic:two', true)`)
	require.NoError(t, err, "send must not fail its caller")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, notices, 1)
	require.True(t, strings.HasPrefix(notices[0], "WARNING WarnSendingBroadcastMessage: "), notices[0])
	require.Contains(t, notices[0], "no partition")
}

// TestShapedDBIsPushedByTheCLI checks NewShapedDB's migrations were applied by the Supabase CLI
// as postgres: every version is recorded, and the migrated objects are owned by postgres.
func TestShapedDBIsPushedByTheCLI(t *testing.T) {
	t.Parallel()
	db := pgtest.NewShapedDB(t, true)
	ctx := t.Context()
	all, err := migrate.List(vendorhub.SQL)
	require.NoError(t, err)
	var recorded int
	require.NoError(t, db.Pool.QueryRow(ctx, "select count(*) from supabase_migrations.schema_migrations").Scan(&recorded))
	require.Equal(t, len(all), recorded)
	var owner, seeded string
	require.NoError(t, db.Pool.QueryRow(ctx, "select relowner::regrole::text from pg_class where oid = 'public.messages'::regclass").Scan(&owner))
	require.Equal(t, "postgres", owner)
	require.NoError(t, db.Pool.QueryRow(ctx, "select count(*)::text from auth.users").Scan(&seeded))
	require.NotEqual(t, "0", seeded, "the seed ran")
}
