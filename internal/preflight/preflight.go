// Package preflight checks that a database can feed vendorhub's replication pipeline
// (`vendorhub check`, also run when the sidecar starts): wal_level=logical, headroom in
// max_replication_slots and max_wal_senders, the slot's WAL retention
// (max_slot_wal_keep_size, wal_status, safe_wal_size), the role's REPLICATION attribute,
// the publication and the replica identity of its tables, wal_sender_timeout against the
// status interval, and a direct connection rather than a pooler.
//
// Each failure is a *Failure naming the setting, what was found and how to fix it; Check
// joins them into its error, so errors.As finds each one, and its Check field classifies it.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CheckID names one preflight check.
type CheckID string

// The checks, in the order they run.
const (
	CheckPooler          CheckID = "pooler"
	CheckConnection      CheckID = "connection"
	CheckServerVersion   CheckID = "server_version"
	CheckWALLevel        CheckID = "wal_level"
	CheckReplicationRole CheckID = "replication_role"
	CheckSlots           CheckID = "max_replication_slots"
	CheckWALSenders      CheckID = "max_wal_senders"
	CheckSlot            CheckID = "slot"
	CheckWALKeepSize     CheckID = "max_slot_wal_keep_size"
	CheckSenderTimeout   CheckID = "wal_sender_timeout"
	CheckPublication     CheckID = "publication"
	CheckReplicaIdentity CheckID = "replica_identity"
	CheckMigrations      CheckID = "migrations"
)

// Level is how a finding affects the start.
type Level string

// Levels.
const (
	OK   Level = "ok"
	Warn Level = "warn"
	Fail Level = "FAIL"
)

// PoolerPort is Supavisor's transaction-mode port.
const PoolerPort = 6543

// PoolerHostSuffix marks Supavisor hosts (aws-0-<region>.pooler.supabase.com).
const PoolerHostSuffix = "pooler.supabase.com"

// Defaults of Config.
const (
	SlotDefault           = "vendorhub"
	PublicationDefault    = "vendorhub"
	StatusIntervalDefault = 10 * time.Second
	MinWALKeepSizeMB      = 1024 // below it a short outage can invalidate the slot
)

// Config configures Check.
type Config struct {
	// URL is the database URL (DATABASE_URL). Required.
	URL string
	// Slot is the replication slot vendorhub streams. Defaults to "vendorhub".
	Slot string
	// Publication is the publication vendorhub streams. Defaults to "vendorhub".
	Publication string
	// StatusInterval is the sidecar's status update interval, checked against
	// wal_sender_timeout. Defaults to 10s.
	StatusInterval time.Duration
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Slot == "" {
		c.Slot = SlotDefault
	}
	if c.Publication == "" {
		c.Publication = PublicationDefault
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = StatusIntervalDefault
	}
	return c
}

// Failure is a failed check: the setting, what was found, and the fix.
type Failure struct {
	Check   CheckID
	Setting string
	Found   string
	Fix     string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("preflight: %s is %s: %s", f.Setting, f.Found, f.Fix)
}

// Finding is one line of the report.
type Finding struct {
	Check   CheckID
	Level   Level
	Message string
}

// Report is the outcome of every check that ran.
type Report struct {
	// Findings are the report's lines, in check order.
	Findings []Finding
	// SlotActivePID is the pid of the walsender streaming the slot, 0 when none: another
	// instance is leader and this one would start as hot standby.
	SlotActivePID int
	// PublicationMissing reports that the publication does not exist (`vendorhub run`
	// creates it: see EnsurePublication).
	PublicationMissing bool

	failures []*Failure
}

// Err returns the failures joined (each a *Failure), or nil.
func (r *Report) Err() error {
	errs := make([]error, len(r.failures))
	for i, f := range r.failures {
		errs[i] = f
	}
	return errors.Join(errs...)
}

// Print writes the report, one finding per line.
func (r *Report) Print(w io.Writer) {
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%-4s  %-22s  %s\n", f.Level, f.Check, f.Message)
	}
}

func (r *Report) ok(check CheckID, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, Level: OK, Message: fmt.Sprintf(format, args...)})
}

func (r *Report) warn(check CheckID, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, Level: Warn, Message: fmt.Sprintf(format, args...)})
}

func (r *Report) fail(f *Failure) {
	r.failures = append(r.failures, f)
	r.Findings = append(r.Findings, Finding{Check: f.Check, Level: Fail, Message: fmt.Sprintf("%s is %s: %s", f.Setting, f.Found, f.Fix)})
}

// PoolerError returns a *Failure when url points at a connection pooler (Supavisor's port
// 6543 or a *.pooler.supabase.com host), which cannot carry logical replication.
func PoolerError(url string) (*Failure, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("preflight: DATABASE_URL: %w", err)
	}
	hosts := []pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port}}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, *f)
	}
	for _, h := range hosts {
		host := strings.ToLower(strings.TrimSuffix(h.Host, "."))
		if h.Port == PoolerPort || strings.HasSuffix(host, PoolerHostSuffix) {
			return &Failure{Check: CheckPooler, Setting: "DATABASE_URL",
				Found: "a connection pooler (" + net.JoinHostPort(h.Host, strconv.Itoa(int(h.Port))) + ")",
				Fix: "use the direct connection on port 5432 (db.<project-ref>.supabase.co:5432): " +
					"Supavisor and other poolers do not carry logical replication"}, nil
		}
	}
	return nil, nil
}

// Check runs every check against cfg.URL. The returned error joins the *Failure of every
// failed check (nil when none failed); the report lists every finding.
func Check(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.WithDefaults()
	r := &Report{}
	pf, err := PoolerError(cfg.URL)
	if err != nil {
		r.fail(&Failure{Check: CheckConnection, Setting: "DATABASE_URL", Found: "invalid", Fix: err.Error()})
		return r, r.Err()
	}
	if pf != nil {
		r.fail(pf)
		return r, r.Err()
	}
	r.ok(CheckPooler, "direct connection (not a pooler)")

	conn, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		r.fail(&Failure{Check: CheckConnection, Setting: "DATABASE_URL", Found: "unreachable (" + err.Error() + ")",
			Fix: "check host, port, user and password; the database must accept a direct connection"})
		return r, r.Err()
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := run(ctx, conn, cfg, r); err != nil {
		return r, err
	}
	return r, r.Err()
}

type settings struct {
	versionNum, maxSlots, maxSenders, slotsUsed, sendersUsed int
	version, walLevel, user                                  string
	keepSizeMB, senderTimeoutMS                              int64
	replication                                              bool
}

func run(ctx context.Context, conn *pgx.Conn, cfg Config, r *Report) error {
	var st settings
	err := conn.QueryRow(ctx, `
select current_setting('server_version_num')::int, current_setting('server_version'),
       current_setting('wal_level'),
       current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int,
       (select count(*) from pg_replication_slots)::int,
       (select count(*) from pg_stat_activity where backend_type = 'walsender')::int,
       (select setting::bigint from pg_settings where name = 'max_slot_wal_keep_size'),
       (select setting::bigint from pg_settings where name = 'wal_sender_timeout'),
       current_user, (select rolreplication or rolsuper from pg_roles where rolname = current_user)`).Scan(
		&st.versionNum, &st.version, &st.walLevel, &st.maxSlots, &st.maxSenders, &st.slotsUsed, &st.sendersUsed,
		&st.keepSizeMB, &st.senderTimeoutMS, &st.user, &st.replication)
	if err != nil {
		return fmt.Errorf("preflight: read settings: %w", err)
	}

	if st.versionNum < 140000 {
		r.fail(&Failure{Check: CheckServerVersion, Setting: "server_version", Found: strconv.Quote(st.version),
			Fix: "upgrade to PostgreSQL 14 or later (pgoutput messages and streaming need it)"})
	} else {
		r.ok(CheckServerVersion, "PostgreSQL %s", st.version)
	}

	if st.walLevel != "logical" {
		r.fail(&Failure{Check: CheckWALLevel, Setting: "wal_level", Found: strconv.Quote(st.walLevel) + ", not \"logical\"",
			Fix: "run ALTER SYSTEM SET wal_level = logical; and restart Postgres (Supabase projects have it by default)"})
	} else {
		r.ok(CheckWALLevel, "wal_level = logical")
	}

	if !st.replication {
		r.fail(&Failure{Check: CheckReplicationRole, Setting: "role " + strconv.Quote(st.user), Found: "without REPLICATION",
			Fix: "run ALTER ROLE " + pgx.Identifier{st.user}.Sanitize() + " WITH REPLICATION; or connect as a role that has it (Supabase: postgres)"})
	} else {
		r.ok(CheckReplicationRole, "role %q may replicate", st.user)
	}

	// The slot.
	var (
		plugin, database, walStatus string
		activePID                   *int32
		safeWALSize                 *int64
	)
	slotErr := conn.QueryRow(ctx, `
select plugin, coalesce(database, ''), active_pid, coalesce(wal_status, ''), safe_wal_size
from pg_replication_slots where slot_name = $1`, cfg.Slot).Scan(&plugin, &database, &activePID, &walStatus, &safeWALSize)
	slotExists := slotErr == nil
	if slotErr != nil && !errors.Is(slotErr, pgx.ErrNoRows) {
		return fmt.Errorf("preflight: read slot: %w", slotErr)
	}
	if activePID != nil {
		r.SlotActivePID = int(*activePID)
	}

	if !slotExists && st.slotsUsed >= st.maxSlots {
		r.fail(&Failure{Check: CheckSlots, Setting: "max_replication_slots", Found: fmt.Sprintf("%d, all in use", st.maxSlots),
			Fix: "drop unused slots (select slot_name, active from pg_replication_slots) or raise max_replication_slots and restart Postgres"})
	} else {
		r.ok(CheckSlots, "%d of %d replication slots in use", st.slotsUsed, st.maxSlots)
	}

	if r.SlotActivePID == 0 && st.sendersUsed >= st.maxSenders {
		r.fail(&Failure{Check: CheckWALSenders, Setting: "max_wal_senders", Found: fmt.Sprintf("%d, all in use", st.maxSenders),
			Fix: "end idle replication connections (select pid, application_name from pg_stat_replication) or raise max_wal_senders and restart Postgres"})
	} else {
		r.ok(CheckWALSenders, "%d of %d WAL senders in use", st.sendersUsed, st.maxSenders)
	}

	var current string
	if err := conn.QueryRow(ctx, `select current_database()`).Scan(&current); err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	drop := "select pg_drop_replication_slot('" + cfg.Slot + "')"
	switch {
	case !slotExists:
		r.ok(CheckSlot, "slot %q does not exist yet: vendorhub creates it (pgoutput)", cfg.Slot)
	case plugin != "pgoutput":
		r.fail(&Failure{Check: CheckSlot, Setting: "slot " + strconv.Quote(cfg.Slot), Found: "using output plugin " + strconv.Quote(plugin),
			Fix: "drop it (" + drop + ") or set VENDORHUB_SLOT to another name; vendorhub creates its slot with pgoutput"})
	case database != current:
		r.fail(&Failure{Check: CheckSlot, Setting: "slot " + strconv.Quote(cfg.Slot), Found: "a slot of database " + strconv.Quote(database),
			Fix: "set VENDORHUB_SLOT to a name unused in this cluster"})
	case walStatus == "lost":
		r.fail(&Failure{Check: CheckSlot, Setting: "slot " + strconv.Quote(cfg.Slot), Found: "lost (wal_status = lost: its WAL was removed)",
			Fix: "drop it (" + drop + "), start vendorhub to recreate it, reconcile pending work from the domain tables, and raise max_slot_wal_keep_size"})
	case walStatus == "unreserved":
		r.warn(CheckSlot, "slot %q wal_status = unreserved: it is about to be invalidated (safe_wal_size %s); catch up now", cfg.Slot, size(safeWALSize))
	default:
		role := "free: this instance will stream it"
		if r.SlotActivePID != 0 {
			role = fmt.Sprintf("streamed by pid %d: this instance will wait as hot standby", r.SlotActivePID)
		}
		r.ok(CheckSlot, "slot %q (pgoutput, wal_status %s, safe_wal_size %s) %s", cfg.Slot, walStatus, size(safeWALSize), role)
	}

	switch {
	case st.keepSizeMB < 0:
		r.warn(CheckWALKeepSize, "max_slot_wal_keep_size = -1 (unbounded): a stopped sidecar retains WAL until the disk fills; set a bound, e.g. 4096MB")
	case st.keepSizeMB < MinWALKeepSizeMB:
		r.warn(CheckWALKeepSize, "max_slot_wal_keep_size = %dMB: an outage writing more WAL than that loses the slot; raise it (Supabase: supabase postgres-config update --config max_slot_wal_keep_size=4096MB)", st.keepSizeMB)
	default:
		r.ok(CheckWALKeepSize, "max_slot_wal_keep_size = %dMB", st.keepSizeMB)
	}

	timeout := time.Duration(st.senderTimeoutMS) * time.Millisecond
	switch {
	case st.senderTimeoutMS == 0:
		r.warn(CheckSenderTimeout, "wal_sender_timeout = 0: the server never drops a dead replication connection, so a standby takes over only after TCP keepalives fail")
	case timeout <= 2*cfg.StatusInterval:
		r.fail(&Failure{Check: CheckSenderTimeout, Setting: "wal_sender_timeout", Found: timeout.String(),
			Fix: fmt.Sprintf("it must exceed twice VENDORHUB_STATUS_INTERVAL (%s): lower the interval or raise wal_sender_timeout", cfg.StatusInterval)})
	default:
		r.ok(CheckSenderTimeout, "wal_sender_timeout = %s (status every %s)", timeout, cfg.StatusInterval)
	}

	var cursorTable, riverTable bool
	if err := conn.QueryRow(ctx, `
select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'vendorhub' and c.relname = 'replication_cursor'),
       exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'river' and c.relname = 'river_job')`).
		Scan(&cursorTable, &riverTable); err != nil {
		return fmt.Errorf("preflight: read schema: %w", err)
	}
	if !cursorTable || !riverTable {
		var missing []string
		if !cursorTable {
			missing = append(missing, "vendorhub.replication_cursor")
		}
		if !riverTable {
			missing = append(missing, "river.river_job")
		}
		r.fail(&Failure{Check: CheckMigrations, Setting: "tables " + strings.Join(missing, ", "), Found: "missing",
			Fix: "apply the migrations: vendorhub migrate, or supabase db push"})
	} else {
		r.ok(CheckMigrations, "replication cursor and River tables exist")
	}

	var (
		pubExists         bool
		pubUpdate, pubDel bool
	)
	err = conn.QueryRow(ctx, `select true, pubupdate, pubdelete from pg_publication where pubname = $1`, cfg.Publication).Scan(&pubExists, &pubUpdate, &pubDel)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("preflight: read publication: %w", err)
	}
	if !pubExists {
		r.PublicationMissing = true
		r.fail(&Failure{Check: CheckPublication, Setting: "publication " + strconv.Quote(cfg.Publication), Found: "missing",
			Fix: "apply the migrations (vendorhub migrate, or supabase db push); `vendorhub run` creates an empty one so events still flow"})
		return nil
	}
	r.ok(CheckPublication, "publication %q exists", cfg.Publication)

	if pubUpdate || pubDel {
		rows, err := conn.Query(ctx, `
select format('%I.%I', pt.schemaname, pt.tablename)
from pg_publication_tables pt
join pg_namespace n on n.nspname = pt.schemaname
join pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename
where pt.pubname = $1
  and (c.relreplident = 'n'
       or (c.relreplident = 'd' and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary)))
order by 1`, cfg.Publication)
		if err != nil {
			return fmt.Errorf("preflight: read publication tables: %w", err)
		}
		bad, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("preflight: read publication tables: %w", err)
		}
		if len(bad) > 0 {
			r.fail(&Failure{Check: CheckReplicaIdentity, Setting: "replica identity of " + strings.Join(bad, ", "),
				Found: "missing (no primary key, REPLICA IDENTITY DEFAULT or NOTHING)",
				Fix:   "add a primary key or run ALTER TABLE … REPLICA IDENTITY FULL: published UPDATEs and DELETEs fail without one"})
		} else {
			r.ok(CheckReplicaIdentity, "every published table has a replica identity")
		}
	}
	return nil
}

func size(b *int64) string {
	if b == nil {
		return "unlimited"
	}
	return fmt.Sprintf("%dMB", *b>>20)
}

// EnsurePublication creates the publication, with no table, when it is missing: logical
// messages (vendorhub's events) flow through any publication, and the migrations add the
// tables. It reports whether it created it.
func EnsurePublication(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}, name string) (bool, error) {
	var exists bool
	if err := db.QueryRow(ctx, `select exists (select 1 from pg_publication where pubname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("preflight: read publication: %w", err)
	}
	if exists {
		return false, nil
	}
	if _, err := db.Exec(ctx, "create publication "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" {
			return false, nil // created concurrently
		}
		return false, fmt.Errorf("preflight: create publication %q: %w", name, err)
	}
	return true, nil
}
