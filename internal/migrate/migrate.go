// Package migrate applies vendorhub's SQL to a database the way the Supabase CLI does: the
// plain-Postgres shim of Supabase objects (optional, for dev and tests), then every migration of
// supabase/migrations in file-name order, each in its own transaction and recorded in
// supabase_migrations.schema_migrations (so `supabase migration list` agrees), then optionally
// the seed, recorded in supabase_migrations.seed_files by content hash.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wedsync/vendorhub"
)

// historyDDL creates the Supabase CLI's history tables (same shape as the CLI creates them).
const historyDDL = `
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
create table if not exists supabase_migrations.seed_files (path text not null primary key, hash text not null);
`

// advisoryLockKey serializes concurrent Apply calls on one database (two test binaries, two
// sidecars starting together). Arbitrary constant: "vendorhub" in ASCII, truncated.
const advisoryLockKey int64 = 0x76656e646f726875

// fileNameRE is the Supabase CLI's migration file pattern: <digits>_<name>.sql.
var fileNameRE = regexp.MustCompile(`^([0-9]+)_(.*)\.sql$`)

// ErrBadFileName is returned (wrapped) for a .sql file in the migrations folder whose name does
// not match <digits>_<name>.sql (the Supabase CLI would silently skip it).
var ErrBadFileName = errors.New("migration file name must match <timestamp>_<name>.sql")

// ErrDuplicateVersion is returned (wrapped) when two migration files share a version.
var ErrDuplicateVersion = errors.New("two migration files share a version")

// Options say what Apply applies. The zero value applies the migrations only.
type Options struct {
	// Shim applies sql/supabase_shim.sql first (roles, auth.*, realtime.* on plain Postgres; a
	// no-op on Supabase). Defaults to false. See NeedsShim.
	Shim bool
	// Seed applies supabase/seed.sql last, once per distinct content. Defaults to false.
	Seed bool
	// FS holds the SQL at its repository paths. Defaults to vendorhub.SQL (the embedded files).
	FS fs.FS
	// Logf, if set, receives one line per file applied or skipped. Defaults to no logging.
	Logf func(format string, args ...any)
}

// Migration is one file of supabase/migrations.
type Migration struct {
	Version string // the leading digits, e.g. "20261125000100"
	Name    string // the rest of the file name without .sql, e.g. "foundation"
	Path    string // path inside the FS
	SQL     string
}

// FileError reports a SQL file that failed to apply; nothing of that file was applied.
type FileError struct {
	Path string
	Line int // line of the failing statement in the file, when the server reports a position
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("migrate: %s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("migrate: %s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Apply applies what opts asks for to the database of conn. Already recorded migrations and an
// unchanged seed are skipped, so Apply is safe to run again. Each file runs in its own
// transaction: on error that file is rolled back, earlier ones stay applied.
func Apply(ctx context.Context, conn *pgx.Conn, opts Options) error {
	fsys := opts.FS
	if fsys == nil {
		fsys = vendorhub.SQL
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	migrations, err := List(fsys)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", advisoryLockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", advisoryLockKey)
	}()

	if opts.Shim {
		if err := applyFile(ctx, conn, fsys, vendorhub.ShimPath, nil); err != nil {
			return err
		}
		logf("applied %s", vendorhub.ShimPath)
	}
	if _, err := conn.Exec(ctx, historyDDL); err != nil {
		return fmt.Errorf("migrate: create history tables: %w", err)
	}
	applied, err := Applied(ctx, conn)
	if err != nil {
		return err
	}
	done := make(map[string]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range migrations {
		if done[m.Version] {
			logf("skipped %s (already applied)", m.Path)
			continue
		}
		record := func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into supabase_migrations.schema_migrations (version, name, statements)
				values ($1, $2, $3)`, m.Version, m.Name, []string{m.SQL})
			return err
		}
		if err := applySQL(ctx, conn, m.Path, m.SQL, record); err != nil {
			return err
		}
		logf("applied %s", m.Path)
	}
	for _, v := range applied {
		if !slices.ContainsFunc(migrations, func(m Migration) bool { return m.Version == v }) {
			logf("warning: version %s is recorded in the database but has no file", v)
		}
	}
	if opts.Seed {
		return applySeed(ctx, conn, fsys, logf)
	}
	return nil
}

// List returns the migrations of fsys in the order Apply applies them (by version).
func List(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, vendorhub.MigrationsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("migrate: read %s: %w", vendorhub.MigrationsDir, err)
	}
	var out []Migration
	seen := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		p := path.Join(vendorhub.MigrationsDir, e.Name())
		m := fileNameRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrate: %s: %w", p, ErrBadFileName)
		}
		if prev, dup := seen[m[1]]; dup {
			return nil, fmt.Errorf("migrate: %s and %s: %w", prev, p, ErrDuplicateVersion)
		}
		seen[m[1]] = p
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		out = append(out, Migration{Version: m[1], Name: m[2], Path: p, SQL: string(b)})
	}
	// Versions are compared as the CLI does: as strings of digits, shorter first.
	slices.SortFunc(out, func(a, b Migration) int {
		if len(a.Version) != len(b.Version) {
			return len(a.Version) - len(b.Version)
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out, nil
}

// Applied returns the versions recorded in supabase_migrations.schema_migrations, in order; none
// when the table does not exist.
func Applied(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "select to_regclass('supabase_migrations.schema_migrations') is not null").Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := conn.Query(ctx, "select version from supabase_migrations.schema_migrations order by length(version), version")
	if err != nil {
		return nil, fmt.Errorf("migrate: read history: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("migrate: read history: %w", err)
	}
	return versions, nil
}

// NeedsShim reports whether the database lacks the Supabase objects the migrations rely on
// (roles anon/authenticated/service_role, auth.users, realtime.messages), i.e. whether it is a
// plain Postgres rather than a Supabase database.
func NeedsShim(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var missing bool
	err := conn.QueryRow(ctx, `select to_regrole('anon') is null or to_regrole('authenticated') is null
		or to_regrole('service_role') is null or to_regclass('auth.users') is null
		or to_regclass('realtime.messages') is null`).Scan(&missing)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	return missing, nil
}

func applySeed(ctx context.Context, conn *pgx.Conn, fsys fs.FS, logf func(string, ...any)) error {
	b, err := fs.ReadFile(fsys, vendorhub.SeedPath)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])
	var seeded bool
	if err := conn.QueryRow(ctx, "select exists (select from supabase_migrations.seed_files where path = $1 and hash = $2)",
		vendorhub.SeedPath, hash).Scan(&seeded); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if seeded {
		logf("skipped %s (already applied)", vendorhub.SeedPath)
		return nil
	}
	record := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `insert into supabase_migrations.seed_files (path, hash) values ($1, $2)
			on conflict (path) do update set hash = excluded.hash`, vendorhub.SeedPath, hash)
		return err
	}
	if err := applySQL(ctx, conn, vendorhub.SeedPath, string(b), record); err != nil {
		return err
	}
	logf("applied %s", vendorhub.SeedPath)
	return nil
}

func applyFile(ctx context.Context, conn *pgx.Conn, fsys fs.FS, p string, record func(pgx.Tx) error) error {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return applySQL(ctx, conn, p, string(b), record)
}

// applySQL runs a whole file (simple protocol: many statements) and its record in one transaction.
func applySQL(ctx context.Context, conn *pgx.Conn, p, sql string, record func(pgx.Tx) error) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return &FileError{Path: p, Err: err}
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return &FileError{Path: p, Line: errorLine(sql, err), Err: err}
	}
	// A file may change the session (set role, search_path): put it back before recording.
	if _, err := tx.Exec(ctx, "reset role; reset search_path"); err != nil {
		return &FileError{Path: p, Err: err}
	}
	if record != nil {
		if err := record(tx); err != nil {
			return &FileError{Path: p, Err: fmt.Errorf("record: %w", err)}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return &FileError{Path: p, Err: err}
	}
	return nil
}

// errorLine maps the server's error position (1-based, in characters) to a line of sql.
func errorLine(sql string, err error) int {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Position <= 0 {
		return 0
	}
	runes := []rune(sql)
	pos := min(int(pgErr.Position)-1, len(runes))
	return strings.Count(string(runes[:pos]), "\n") + 1
}
