// Package pgtest gives tests a real, migrated Postgres database of their own.
//
// Each test binary that needs Postgres calls Main from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test takes a fresh database cloned from a migrated template:
//
//	db := pgtest.NewDB(t)        // shim + migrations, no seed
//	db := pgtest.NewSeededDB(t)  // shim + migrations + supabase/seed.sql
//
// One ephemeral cluster (internal/embeddedpg, wal_level=logical, fsync off) is started per test
// binary on first use, and stopped and removed when Main returns; if the binary dies instead
// (panic, timeout, kill), the cluster's watchdog removes it. With VENDORHUB_TEST_DATABASE_URL set
// (a superuser URL), no cluster is started: databases are created on that server instead.
//
// Databases are dropped at test cleanup, after their backends are terminated and their
// replication slots dropped. Templates are named after a hash of the embedded SQL, so a changed
// migration gets a new template, and a shared server keeps one per content.
package pgtest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/internal/migrate"
)

// EnvDatabaseURL names the variable that points the tests at an existing server (a superuser
// URL, any database) instead of an ephemeral cluster.
const EnvDatabaseURL = "VENDORHUB_TEST_DATABASE_URL"

// cloneLockKey serializes CREATE DATABASE … TEMPLATE across processes sharing one server:
// Postgres refuses to copy a template that another session is copying or connected to.
const cloneLockKey int64 = 0x76686e7465737431

// state is the per-binary harness: the cluster (or override) and built templates.
var state struct {
	once    sync.Once
	err     error
	cluster *embeddedpg.Cluster
	admin   string // superuser URL of the maintenance database

	tmplMu    sync.Mutex
	templates map[bool]string // seeded → template name, once built

	cloneMu sync.Mutex
	seq     atomic.Int64
}

// Main runs the tests of m and exits. The cluster is started lazily by the first NewDB (or
// Cluster) and stopped when the tests end, whatever their outcome.
func Main(m *testing.M) {
	code := m.Run()
	if err := stopShaped(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stop the Supabase-shaped cluster: %v\n", err)
	}
	if state.cluster != nil {
		if err := state.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop cluster: %v\n", err)
		}
	}
	os.Exit(code)
}

// setup starts the cluster or reads the override, once per binary.
func setup() error {
	state.once.Do(func() {
		state.templates = map[bool]string{}
		if u := os.Getenv(EnvDatabaseURL); u != "" {
			if _, err := pgx.ParseConfig(u); err != nil {
				state.err = fmt.Errorf("pgtest: %s is not a valid connection string: %w", EnvDatabaseURL, err)
				return
			}
			state.admin = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := embeddedpg.Start(ctx, embeddedpg.Config{ForTests: true})
		if err != nil {
			state.err = fmt.Errorf("pgtest: start Postgres (or set %s): %w", EnvDatabaseURL, err)
			return
		}
		state.cluster, state.admin = c, c.URL("postgres")
	})
	return state.err
}

// Cluster returns the binary's shared cluster, starting it if needed, or nil when
// VENDORHUB_TEST_DATABASE_URL is set. Restarting it affects every test of the binary: a test
// that crashes the server should use NewCluster instead.
func Cluster(t testing.TB) *embeddedpg.Cluster {
	t.Helper()
	if err := setup(); err != nil {
		t.Fatal(err)
	}
	return state.cluster
}

// NewCluster starts a cluster for this test alone (for crash and restart tests), stopped at
// cleanup. It does not migrate anything: use NewDBOn to get a migrated database on it.
func NewCluster(t testing.TB) *embeddedpg.Cluster {
	t.Helper()
	c, err := embeddedpg.Start(context.Background(), embeddedpg.Config{ForTests: true})
	if err != nil {
		t.Fatalf("pgtest: start a cluster: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// DB is a database of one test.
type DB struct {
	Name string        // database name
	URL  string        // superuser URL of the database (postgres, demoted, in shaped mode)
	Pool *pgxpool.Pool // pool on URL, closed at cleanup
	// AdminURL is the superuser URL of the database: URL, or supabase_admin's in shaped mode.
	AdminURL string
}

// ReplicationURL returns URL with replication=database, for logical replication connections.
func (db *DB) ReplicationURL() string { return withQuery(db.URL, "replication", "database") }

// NewDB returns a fresh database holding the shim and every migration (no seed), dropped at
// cleanup. Safe for parallel tests.
func NewDB(t testing.TB) *DB {
	t.Helper()
	if err := setup(); err != nil {
		t.Fatal(err)
	}
	return newDB(t, state.admin, false)
}

// NewSeededDB is NewDB with supabase/seed.sql applied as well.
func NewSeededDB(t testing.TB) *DB {
	t.Helper()
	if err := setup(); err != nil {
		t.Fatal(err)
	}
	return newDB(t, state.admin, true)
}

// NewEmptyDB returns a fresh database with nothing applied (a copy of template0), dropped at
// cleanup: for tests of the migrator and of the Supabase CLI.
func NewEmptyDB(t testing.TB) *DB {
	t.Helper()
	if err := setup(); err != nil {
		t.Fatal(err)
	}
	return clone(t, state.admin, "template0")
}

// NewDBOn returns a fresh migrated (and, if seeded, seeded) database on cluster c, such as one
// from NewCluster, dropped at cleanup unless the cluster is gone by then.
func NewDBOn(t testing.TB, c *embeddedpg.Cluster, seeded bool) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := c.URL("postgres")
	tmpl, err := buildTemplate(ctx, admin, seeded)
	if err != nil {
		t.Fatal(err)
	}
	return clone(t, admin, tmpl)
}

func newDB(t testing.TB, admin string, seeded bool) *DB {
	t.Helper()
	tmpl, err := template(admin, seeded)
	if err != nil {
		t.Fatal(err)
	}
	return clone(t, admin, tmpl)
}

// template returns the name of the binary's template, building it on first use.
func template(admin string, seeded bool) (string, error) {
	state.tmplMu.Lock()
	defer state.tmplMu.Unlock()
	if name, ok := state.templates[seeded]; ok {
		return name, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name, err := buildTemplate(ctx, admin, seeded)
	if err != nil {
		return "", err
	}
	state.templates[seeded] = name
	return name, nil
}

// buildTemplate creates (unless a complete one exists) the template database for the embedded
// SQL's content and returns its name. Complete templates are marked datistemplate.
func buildTemplate(ctx context.Context, admin string, seeded bool) (string, error) {
	name, err := templateName(seeded)
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(context.Background())
	// Other processes sharing the server may build the same template: one at a time.
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", cloneLockKey); err != nil {
		return "", fmt.Errorf("pgtest: lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.Background(), "select pg_advisory_unlock($1)", cloneLockKey) }()

	var exists, complete bool
	err = conn.QueryRow(ctx, "select true, datistemplate from pg_database where datname = $1", name).Scan(&exists, &complete)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if complete {
		return name, nil
	}
	if exists { // a build that died half-way
		if _, err := conn.Exec(ctx, "drop database "+pgx.Identifier{name}.Sanitize()+" with (force)"); err != nil {
			return "", fmt.Errorf("pgtest: drop incomplete template: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create template: %w", err)
	}
	tconn, err := pgx.Connect(ctx, withDatabase(admin, name))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect to template: %w", err)
	}
	err = migrate.Apply(ctx, tconn, migrate.Options{Shim: true, Seed: seeded})
	_ = tconn.Close(context.Background())
	if err != nil {
		return "", fmt.Errorf("pgtest: migrate template %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "alter database "+pgx.Identifier{name}.Sanitize()+" is_template true"); err != nil {
		return "", fmt.Errorf("pgtest: mark template: %w", err)
	}
	return name, nil
}

// templateName is vendorhub_tmpl_<hash of the embedded SQL>[_seed].
func templateName(seeded bool) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(vendorhub.SQL, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(vendorhub.SQL, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("pgtest: hash embedded SQL: %w", err)
	}
	name := "vendorhub_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
	if seeded {
		name += "_seed"
	}
	return name, nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// clone creates a database from tmpl for t, with a pool, both cleaned up with t.
func clone(t testing.TB, admin, tmpl string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, drop, err := create(ctx, admin, tmpl, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return db
}

// CreateDB is NewDB (or NewSeededDB) for callers that are not tests, such as benchmarks: a
// database cloned from the migrated template on the server at admin (a superuser URL), with
// a pool. drop closes the pool and drops the database.
func CreateDB(ctx context.Context, admin string, seeded bool) (db *DB, drop func() error, err error) {
	tmpl, err := buildTemplate(ctx, admin, seeded)
	if err != nil {
		return nil, nil, err
	}
	return create(ctx, admin, tmpl, "db")
}

// create clones tmpl into a new database named after base; drop closes its pool and drops it.
func create(ctx context.Context, admin, tmpl, base string) (*DB, func() error, error) {
	base = strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(base), "_"), "_")
	suffix := fmt.Sprintf("_%d_%d", os.Getpid(), state.seq.Add(1))
	name := "t_" + base[:min(len(base), 63-2-len(suffix))] + suffix
	if err := createFromTemplate(ctx, admin, name, tmpl); err != nil {
		return nil, nil, err
	}
	db := &DB{Name: name, URL: withDatabase(admin, name)}
	db.AdminURL = db.URL
	pool, err := newPool(ctx, db.URL)
	if err != nil {
		_ = dropDatabase(admin, name)
		return nil, nil, err
	}
	db.Pool = pool
	drop := func() error {
		closed := make(chan struct{})
		go func() { pool.Close(); close(closed) }()
		var leak error
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			// pool.Close waits for acquired connections: the drop below ends them instead.
			leak = fmt.Errorf("pgtest: %s: connections acquired from Pool were never released", name)
		}
		return errors.Join(leak, dropDatabase(admin, name))
	}
	return db, drop, nil
}

func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("pgtest: pool: %w", err)
	}
	return pool, nil
}

func createFromTemplate(ctx context.Context, admin, name, tmpl string) error {
	state.cloneMu.Lock()
	defer state.cloneMu.Unlock()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", cloneLockKey); err != nil {
		return fmt.Errorf("pgtest: lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.Background(), "select pg_advisory_unlock($1)", cloneLockKey) }()
	// FILE_COPY: a small template copies faster as files than through the WAL.
	sql := fmt.Sprintf("create database %s template %s strategy file_copy",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{tmpl}.Sanitize())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: create database %s from %s: %w", name, tmpl, err)
	}
	return nil
}

// dropDatabase ends the database's backends and walsenders, drops its replication slots, then
// drops it. A server that is gone (a test stopped it) counts as dropped.
func dropDatabase(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		var connErr *pgconn.ConnectError
		if errors.As(err, &connErr) {
			return nil // server gone
		}
		return fmt.Errorf("connect to drop %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	for {
		var left int
		err := conn.QueryRow(ctx, `
			with t as (select pg_terminate_backend(active_pid) from pg_replication_slots
			           where database = $1 and active_pid is not null),
			     d as (select pg_drop_replication_slot(slot_name) from pg_replication_slots
			           where database = $1 and active_pid is null)
			select (select count(*) from t) + (select count(*) from d)`, name).Scan(&left)
		if err != nil {
			// A slot became active or was dropped between the scan and the drop: try again.
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "55006" || pgErr.Code == "42704") && ctx.Err() == nil {
				continue
			}
			return fmt.Errorf("drop replication slots of %s: %w", name, err)
		}
		var slots int
		if err := conn.QueryRow(ctx, "select count(*) from pg_replication_slots where database = $1", name).Scan(&slots); err != nil {
			return fmt.Errorf("count slots of %s: %w", name, err)
		}
		if slots == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replication slots of %s still there: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := conn.Exec(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// AsUser makes the rest of transaction tx run as the authenticated Supabase user userID, as
// PostgREST does for a request with that user's JWT: role authenticated and
// request.jwt.claims {sub, role, aud}. Undone at the end of tx.
func AsUser(ctx context.Context, tx pgx.Tx, userID string) error {
	return AsRole(ctx, tx, "authenticated", map[string]any{"sub": userID, "aud": "authenticated"})
}

// AsRole makes the rest of transaction tx run as role (anon, authenticated, service_role) with
// request.jwt.claims set to claims (plus "role" when missing), as PostgREST does. Undone at
// the end of tx.
func AsRole(ctx context.Context, tx pgx.Tx, role string, claims map[string]any) error {
	c := make(map[string]any, len(claims)+1)
	for k, v := range claims {
		c[k] = v
	}
	c["role"] = cmp.Or(stringClaim(c["role"]), role)
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("pgtest: claims: %w", err)
	}
	sub := stringClaim(c["sub"])
	_, err = tx.Exec(ctx, `select set_config('request.jwt.claims', $1, true),
		set_config('request.jwt.claim.sub', $2, true), set_config('request.jwt.claim.role', $3, true),
		set_config('role', $3, true)`, string(b), sub, role)
	if err != nil {
		return fmt.Errorf("pgtest: set role %s: %w", role, err)
	}
	return nil
}

func stringClaim(v any) string {
	s, _ := v.(string)
	return s
}

// withDatabase returns the URL u pointing at database db.
func withDatabase(u, db string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		// keyword/value form: append dbname (the last one wins)
		return u + " dbname=" + db
	}
	p.Path = "/" + db
	return p.String()
}

func withQuery(u, key, value string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		return u + " " + key + "=" + value
	}
	q := p.Query()
	q.Set(key, value)
	p.RawQuery = q.Encode()
	return p.String()
}
