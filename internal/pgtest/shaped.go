package pgtest

// Supabase-shaped mode: a cluster laid out like a hosted Supabase project instead of a plain
// Postgres where the tests are superuser.
//
//   - supabase_admin is the bootstrap superuser (initdb -U supabase_admin);
//   - sql/supabase_hosted_pre.sql, sql/supabase_shim.sql and sql/supabase_hosted_post.sql make the
//     platform objects with Supabase's owners (auth.* → supabase_auth_admin, a partitioned
//     realtime.messages and realtime.topic()/send() → supabase_realtime_admin), Supabase's
//     default privileges in public, and demote postgres to NOSUPERUSER CREATEDB CREATEROLE
//     REPLICATION BYPASSRLS with Supabase's memberships;
//   - the migrations (and the seed) are applied as postgres by the real Supabase CLI
//     (`supabase db push --db-url postgres://postgres:…`), never by the superuser;
//   - each database is owned by postgres, as the postgres database of a project is, and has
//     realtime.messages partitions from yesterday to three days ahead, as the Realtime service
//     creates them.
//
// DB.URL and DB.Pool connect as postgres; DB.AdminURL as supabase_admin (for what Supabase's
// own services or supautils do as a superuser, such as CREATE EXTENSION pgtap). The facts and
// their upstream sources are in docs/supabase.md.
//
// The shaped cluster is always an ephemeral one of this binary (roles are cluster-wide and
// postgres is demoted), even when VENDORHUB_TEST_DATABASE_URL is set.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/embeddedpg"
)

// Roles of the shaped mode.
const (
	ShapedSuperuser = "supabase_admin" // bootstrap superuser of the shaped cluster
	ShapedOwner     = "postgres"       // the demoted role that owns the databases and applies migrations
)

// Paths of the shaped mode's SQL inside vendorhub.SQL, run around vendorhub.ShimPath.
const (
	hostedPrePath  = "sql/supabase_hosted_pre.sql"
	hostedPostPath = "sql/supabase_hosted_post.sql"
)

// partitionsSQL creates realtime.messages' daily partitions from yesterday to today + 3 days
// (UTC), owned by supabase_realtime_admin, as the Realtime service does when it connects to a
// tenant and from its janitor.
const partitionsSQL = `do $$
declare
  d date;
  part text;
begin
  for d in select generate_series((now() at time zone 'utc')::date - 1, (now() at time zone 'utc')::date + 3, interval '1 day')::date loop
    part := 'messages_' || to_char(d, 'YYYY_MM_DD');
    if to_regclass('realtime.' || part) is null then
      execute format('create table realtime.%I partition of realtime.messages for values from (%L) to (%L)', part, d, d + 1);
      execute format('alter table realtime.%I owner to supabase_realtime_admin', part);
    end if;
  end loop;
end
$$`

var shaped struct {
	once    sync.Once
	err     error
	cluster *embeddedpg.Cluster

	mu        sync.Mutex
	templates map[string]string // kind → template name
}

// ShapedCluster returns the binary's Supabase-shaped cluster, starting it if needed. It is
// stopped when Main returns.
func ShapedCluster(t testing.TB) *embeddedpg.Cluster {
	t.Helper()
	if err := shapedSetup(); err != nil {
		t.Fatal(err)
	}
	return shaped.cluster
}

func shapedSetup() error {
	shaped.once.Do(func() {
		shaped.templates = map[string]string{}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := embeddedpg.Start(ctx, embeddedpg.Config{ForTests: true, Superuser: ShapedSuperuser})
		if err != nil {
			shaped.err = fmt.Errorf("pgtest: start the Supabase-shaped cluster: %w", err)
			return
		}
		shaped.cluster = c
	})
	return shaped.err
}

// stopShaped stops the shaped cluster, if one was started (called by Main).
func stopShaped() error {
	if shaped.cluster == nil {
		return nil
	}
	return shaped.cluster.Stop()
}

// NewShapedEmptyDB returns a fresh Supabase-shaped database with the platform objects and no
// migration, for tests that push the migrations themselves. Dropped at cleanup.
func NewShapedEmptyDB(t testing.TB) *DB {
	t.Helper()
	return newShaped(t, "platform")
}

// NewShapedDB returns a fresh Supabase-shaped database with every migration applied by
// `supabase db push` as postgres (and supabase/seed.sql by `--include-seed` when seeded).
// Dropped at cleanup.
func NewShapedDB(t testing.TB, seeded bool) *DB {
	t.Helper()
	if seeded {
		return newShaped(t, "seeded")
	}
	return newShaped(t, "migrated")
}

func newShaped(t testing.TB, kind string) *DB {
	t.Helper()
	if err := shapedSetup(); err != nil {
		t.Fatal(err)
	}
	tmpl, err := shapedTemplate(kind)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, drop, err := createShaped(ctx, tmpl, t.Name())
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

// createShaped clones tmpl, hands the clone to postgres (ownership and privileges on a database
// are not copied from a template) and adds today's realtime.messages partitions.
func createShaped(ctx context.Context, tmpl, base string) (*DB, func() error, error) {
	c := shaped.cluster
	admin := c.URL("postgres")
	db, drop, err := create(ctx, admin, tmpl, base)
	if err != nil {
		return nil, nil, err
	}
	err = ownDatabase(ctx, admin, db.Name)
	if err == nil {
		err = execOn(ctx, c.URL(db.Name), partitionsSQL)
	}
	if err != nil {
		_ = drop()
		return nil, nil, err
	}
	// Reconnect the pool as postgres: the tests act as the project's owner role.
	db.Pool.Close()
	db.AdminURL = c.URL(db.Name)
	db.URL = shapedOwnerURL(c, db.Name)
	pool, err := newPool(ctx, db.URL)
	if err != nil {
		_ = dropDatabase(admin, db.Name)
		return nil, nil, err
	}
	db.Pool = pool
	return db, func() error {
		pool.Close()
		return dropDatabase(admin, db.Name)
	}, nil
}

// shapedOwnerURL is postgres' URL of database name; trust auth ignores the password, which is
// there because the Supabase CLI expects one in --db-url.
func shapedOwnerURL(c *embeddedpg.Cluster, name string) string {
	u, _ := url.Parse(c.URLAs(ShapedOwner, name))
	u.User = url.UserPassword(ShapedOwner, "postgres")
	return u.String()
}

func ownDatabase(ctx context.Context, admin, name string) error {
	id := pgx.Identifier{name}.Sanitize()
	return execOn(ctx, admin, "alter database "+id+" owner to postgres; grant all on database "+id+" to postgres")
}

func execOn(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// shapedTemplate builds (once per binary) and returns the template of kind: "platform" (the
// hosted-shaped platform objects, postgres demoted), "migrated" (platform + `supabase db push`)
// or "seeded" (migrated + the seed).
func shapedTemplate(kind string) (string, error) {
	shaped.mu.Lock()
	defer shaped.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return shapedTemplateLocked(ctx, kind)
}

// createPostgresRole creates postgres (still a superuser-less login role: part 2 sets its
// attributes) so that the first platform database can be owned by it.
const createPostgresRole = `do $$ begin
  if not exists (select 1 from pg_roles where rolname = 'postgres') then create role postgres login; end if;
end $$`

// shapedTemplateLocked is shapedTemplate for a caller holding shaped.mu.
func shapedTemplateLocked(ctx context.Context, kind string) (string, error) {
	if name, ok := shaped.templates[kind]; ok {
		return name, nil
	}
	c := shaped.cluster
	admin := c.URL("postgres")
	name := "shaped_" + kind
	if kind == "platform" {
		if err := execOn(ctx, admin, createPostgresRole); err != nil {
			return "", err
		}
		if err := execOn(ctx, admin, "create database "+name+" owner postgres"); err != nil {
			return "", err
		}
		for _, p := range []string{hostedPrePath, vendorhub.ShimPath, hostedPostPath} {
			b, err := vendorhub.SQL.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("pgtest: %w", err)
			}
			if err := execOn(ctx, c.URL(name), string(b)); err != nil {
				return "", fmt.Errorf("pgtest: %s: %w", p, err)
			}
		}
	} else {
		base, err := shapedTemplateLocked(ctx, "platform")
		if err != nil {
			return "", err
		}
		if err := createFromTemplate(ctx, admin, name, base); err != nil {
			return "", err
		}
		if err := ownDatabase(ctx, admin, name); err != nil {
			return "", err
		}
		if err := execOn(ctx, c.URL(name), partitionsSQL); err != nil {
			return "", err
		}
		args := []string{"db", "push", "--db-url", shapedOwnerURL(c, name), "--include-all", "--yes"}
		if kind == "seeded" {
			args = append(args, "--include-seed")
		}
		if out, err := SupabaseCLI(ctx, args...); err != nil {
			return "", fmt.Errorf("pgtest: supabase db push as postgres: %w\n%s", err, out)
		}
	}
	if err := execOn(ctx, admin, "alter database "+name+" is_template true"); err != nil {
		return "", err
	}
	shaped.templates[kind] = name
	return name, nil
}

// SupabaseCLI runs the Supabase CLI pinned in package-lock.json (node_modules/.bin/supabase) on
// the repository, with a scratch HOME and telemetry off, and returns its combined output.
func SupabaseCLI(ctx context.Context, args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "node_modules", ".bin", "supabase")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("pgtest: Supabase CLI missing (run make deps): %w", err)
	}
	home, err := os.MkdirTemp("", "vendorhub-supabase-home-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd := exec.CommandContext(ctx, bin, append(args, "--workdir", root)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HOME="+home, "DO_NOT_TRACK=1", "SUPABASE_TELEMETRY_DISABLED=1", "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// RepoRoot returns the repository root: the first directory holding go.mod above the working
// directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pgtest: go.mod not found above the working directory")
		}
		dir = parent
	}
}
