// Package embeddedpg runs an ephemeral Postgres cluster from the system's own server binaries:
// initdb in a temporary directory, postgres on a free 127.0.0.1 port with wal_level=logical, and
// removal of everything on Stop. It backs `vendorhub dev` and the test harness (internal/pgtest).
//
// When the process runs as root, initdb and postgres run as an unprivileged system user
// (Config.User, "postgres" by default), since Postgres refuses to run as root.
//
// Orphan safety: each cluster has a tiny watchdog process (/bin/sh, in its own session) that
// reads a pipe held open by this process. However this process ends (return, panic, os.Exit,
// SIGKILL), the kernel closes the pipe; the watchdog then stops postgres (immediate shutdown) and
// removes the directory. Pdeathsig is not used: it fires when the forking OS thread exits, not
// the process, which in Go would stop servers at random.
package embeddedpg

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of Config.
const (
	UserDefault                = "postgres"
	MaxConnectionsDefault      = 200
	MaxReplicationSlotsDefault = 32
	MaxWALSendersDefault       = 32
	StartTimeoutDefault        = 60 * time.Second
	StopTimeoutDefault         = 30 * time.Second
	Superuser                  = "postgres" // the bootstrap superuser initdb creates (trust auth)
)

// ErrBinariesNotFound is returned (wrapped) when initdb/postgres cannot be found.
var ErrBinariesNotFound = errors.New("postgres server binaries not found: install postgresql-15 (apt-get install postgresql-15)")

// ErrNoUser is returned (wrapped) when running as root and Config.User does not exist.
var ErrNoUser = errors.New("postgres cannot run as root and the unprivileged system user is missing")

// ErrStopped is returned by operations on a cluster after Stop.
var ErrStopped = errors.New("embeddedpg: cluster stopped")

// StartError reports a server (or initdb) that failed to start; LogTail holds the end of its log.
type StartError struct {
	Step    string // "initdb" or "postgres"
	LogTail string
	Err     error
}

func (e *StartError) Error() string {
	msg := fmt.Sprintf("embeddedpg: %s failed: %v", e.Step, e.Err)
	if e.LogTail != "" {
		msg += "\n--- log tail ---\n" + e.LogTail
	}
	return msg
}

func (e *StartError) Unwrap() error { return e.Err }

// Config configures a cluster. The zero value is valid.
type Config struct {
	// BinDir is the directory holding initdb and postgres. Defaults to the directory of `postgres`
	// found in PATH (symlinks resolved), else the newest /usr/lib/postgresql/*/bin.
	BinDir string
	// Port is the TCP port on 127.0.0.1. Defaults to 0: a free port chosen at start.
	Port int
	// ParentDir is where the temporary cluster directory is created. Defaults to /dev/shm when
	// ForTests and it is a writable directory (memory: cloning a database there takes ~10 ms
	// instead of ~400 ms on disk), else os.TempDir().
	ParentDir string
	// User is the system user running initdb and postgres when this process is root.
	// Defaults to "postgres". Ignored when not root (the current user runs them).
	User string
	// ForTests turns fsync and full_page_writes off and makes Stop an immediate shutdown: fast,
	// and unsafe for data that must survive an OS crash (a server crash, as Restart makes, is
	// fine: synchronous_commit stays on). Defaults to false.
	ForTests bool
	// MaxConnections is max_connections. Defaults to 200.
	MaxConnections int
	// MaxReplicationSlots is max_replication_slots. Defaults to 32.
	MaxReplicationSlots int
	// MaxWALSenders is max_wal_senders. Defaults to 32.
	MaxWALSenders int
	// Superuser is the bootstrap superuser initdb creates (trust auth), the user of URL.
	// Defaults to "postgres" (embeddedpg.Superuser); internal/pgtest's Supabase-shaped mode
	// uses "supabase_admin", as hosted Supabase does.
	Superuser string
	// Settings are extra server settings passed as -c name=value. Defaults to none.
	Settings map[string]string
	// StartTimeout bounds initdb plus the wait until the server accepts connections. Defaults to 60s.
	StartTimeout time.Duration
	// StopTimeout bounds a graceful stop before escalating to an immediate one. Defaults to 30s.
	StopTimeout time.Duration
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.User = cmp.Or(c.User, UserDefault)
	c.Superuser = cmp.Or(c.Superuser, Superuser)
	c.MaxConnections = cmp.Or(c.MaxConnections, MaxConnectionsDefault)
	c.MaxReplicationSlots = cmp.Or(c.MaxReplicationSlots, MaxReplicationSlotsDefault)
	c.MaxWALSenders = cmp.Or(c.MaxWALSenders, MaxWALSendersDefault)
	c.StartTimeout = cmp.Or(c.StartTimeout, StartTimeoutDefault)
	c.StopTimeout = cmp.Or(c.StopTimeout, StopTimeoutDefault)
	if c.ParentDir == "" && c.ForTests && writableDir(shmDir) {
		c.ParentDir = shmDir
	}
	c.ParentDir = cmp.Or(c.ParentDir, os.TempDir())
	return c
}

const shmDir = "/dev/shm"

func writableDir(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir() && syscall.Access(dir, 2 /* W_OK */) == nil
}

func (c Config) validate() error {
	switch {
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("embeddedpg: Port %d out of range 0..65535", c.Port)
	case c.MaxConnections < 10:
		return fmt.Errorf("embeddedpg: MaxConnections %d below 10", c.MaxConnections)
	case c.MaxReplicationSlots < 0 || c.MaxWALSenders < 0:
		return errors.New("embeddedpg: MaxReplicationSlots and MaxWALSenders may not be negative")
	}
	return nil
}

// Cluster is a running ephemeral Postgres cluster. Its methods are safe for concurrent use.
type Cluster struct {
	cfg     Config
	binDir  string
	dir     string // temporary directory: data/, postgres.log, unix socket
	port    int
	cred    *syscall.Credential
	version string

	watchdog     *exec.Cmd
	watchdogPipe *os.File // write end; closing it (or dying) makes the watchdog clean up

	mu      sync.Mutex
	proc    *exec.Cmd
	exited  chan struct{} // closed when proc has exited
	stopped bool
}

// Start creates, initialises and starts a new cluster. Cancelling ctx aborts the start; the
// cluster, once started, does not depend on ctx.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()

	binDir, err := FindBinDir(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, binDir: binDir}
	if c.version, err = serverVersion(binDir); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if c.cred, err = credential(cfg.User); err != nil {
			return nil, err
		}
	}
	if c.dir, err = os.MkdirTemp(cfg.ParentDir, "vendorhub-pg-*"); err != nil {
		return nil, fmt.Errorf("embeddedpg: temporary directory: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			c.stopNow()
		}
	}()
	if err := c.startWatchdog(); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, fmt.Errorf("embeddedpg: chown %s: %w", c.dir, err)
		}
	}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c.port = cfg.Port
		if c.port == 0 {
			if c.port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		err = c.startServer(ctx)
		if err == nil {
			break
		}
		// A free port can be taken between choosing it and binding it: choose again.
		var se *StartError
		if cfg.Port == 0 && attempt < 4 && errors.As(err, &se) && strings.Contains(se.LogTail, "could not bind") {
			continue
		}
		return nil, err
	}
	ok = true
	return c, nil
}

// URL returns the superuser connection URL of database db (trust auth, no TLS).
func (c *Cluster) URL(db string) string { return c.URLAs(c.cfg.Superuser, db) }

// URLAs returns the connection URL of database db as role user (trust auth: no password
// needed; the role must exist and may log in).
func (c *Cluster) URLAs(user, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", url.PathEscape(user), c.port, db)
}

// Port returns the TCP port the server listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// Dir returns the temporary directory holding data/, the log and the unix socket.
func (c *Cluster) Dir() string { return c.dir }

// DataDir returns the data directory (PGDATA).
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// LogPath returns the server log file.
func (c *Cluster) LogPath() string { return filepath.Join(c.dir, "postgres.log") }

// SocketDir returns the directory of the server's unix socket.
func (c *Cluster) SocketDir() string { return c.dir }

// BinDir returns the directory of the server binaries in use.
func (c *Cluster) BinDir() string { return c.binDir }

// Version returns the server version, e.g. "15.18".
func (c *Cluster) Version() string { return c.version }

// PID returns the postmaster's process id, or 0 when the server is not running.
func (c *Cluster) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return 0
	}
	select {
	case <-c.exited:
		return 0
	default:
		return c.proc.Process.Pid
	}
}

// Stop stops the server (immediate shutdown when ForTests, fast shutdown otherwise) and removes
// the directory. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()
	sig := syscall.SIGINT
	if c.cfg.ForTests {
		sig = syscall.SIGQUIT
	}
	err := c.shutdown(sig)
	c.stopNow()
	return err
}

// StopServer stops the server with a fast shutdown (clean checkpoint), keeping its data, so a
// test can see the database gone for a while. StartServer brings it back on the same port.
func (c *Cluster) StopServer() error {
	if err := c.checkLive(); err != nil {
		return err
	}
	return c.shutdown(syscall.SIGINT)
}

// CrashServer stops the server with an immediate shutdown (like a crash: no checkpoint, crash
// recovery on the next start), keeping its data.
func (c *Cluster) CrashServer() error {
	if err := c.checkLive(); err != nil {
		return err
	}
	return c.shutdown(syscall.SIGQUIT)
}

// StartServer starts a stopped server again on the same port and data. It is a no-op when the
// server is running.
func (c *Cluster) StartServer(ctx context.Context) error {
	if err := c.checkLive(); err != nil {
		return err
	}
	if c.running() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	return c.startServer(ctx)
}

// Restart crashes the server (immediate shutdown) and starts it again on the same port and
// data, for crash-recovery tests. Every connection is broken.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.CrashServer(); err != nil {
		return err
	}
	return c.StartServer(ctx)
}

func (c *Cluster) checkLive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	return nil
}

func (c *Cluster) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// shutdown signals the postmaster and waits for it to exit, escalating to SIGQUIT and SIGKILL.
func (c *Cluster) shutdown(sig syscall.Signal) error {
	c.mu.Lock()
	proc, exited := c.proc, c.exited
	c.mu.Unlock()
	if proc == nil {
		return nil
	}
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{sig, c.cfg.StopTimeout}, {syscall.SIGQUIT, 10 * time.Second}, {syscall.SIGKILL, 10 * time.Second}}
	for _, s := range steps {
		_ = proc.Process.Signal(s.sig)
		select {
		case <-exited:
			return nil
		case <-time.After(s.wait):
		}
	}
	return fmt.Errorf("embeddedpg: postmaster %d did not exit", proc.Process.Pid)
}

// stopNow kills whatever runs and removes the directory; used by Stop and failed starts.
func (c *Cluster) stopNow() {
	c.mu.Lock()
	proc, exited := c.proc, c.exited
	c.mu.Unlock()
	if proc != nil {
		_ = proc.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = proc.Process.Kill()
			<-exited
		}
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
	if c.watchdogPipe != nil {
		_ = c.watchdogPipe.Close()
		done := make(chan struct{})
		go func() { _ = c.watchdog.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
	}
}

// watchdogScript waits for EOF on stdin (this process closed the pipe or died), then stops the
// postmaster recorded in postmaster.pid (checking it is a postgres process) and removes $1.
const watchdogScript = `dir=$1
while read -r _; do :; done
pidfile="$dir/data/postmaster.pid"
if [ -f "$pidfile" ]; then
  pid=$(head -n 1 "$pidfile")
  if [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = postgres ] && kill -QUIT "$pid" 2>/dev/null; then
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$pid" 2>/dev/null
  fi
fi
rm -rf "$dir"
`

func (c *Cluster) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("embeddedpg: watchdog pipe: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "vendorhub-pg-watchdog", c.dir)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return fmt.Errorf("embeddedpg: start watchdog: %w", err)
	}
	_ = r.Close()
	c.watchdog, c.watchdogPipe = cmd, w
	return nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	logPath := filepath.Join(c.dir, "initdb.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("embeddedpg: %w", err)
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"),
		"-D", c.DataDir(), "-U", c.cfg.Superuser, "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
	c.prepare(cmd, logf)
	if err := cmd.Run(); err != nil {
		return &StartError{Step: "initdb", LogTail: tail(logPath, 30), Err: err}
	}
	return nil
}

func (c *Cluster) args() []string {
	set := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": c.dir,
		"wal_level":               "logical",
		"max_connections":         strconv.Itoa(c.cfg.MaxConnections),
		"max_replication_slots":   strconv.Itoa(c.cfg.MaxReplicationSlots),
		"max_wal_senders":         strconv.Itoa(c.cfg.MaxWALSenders),
		"logging_collector":       "off",
		"timezone":                "UTC",
		"log_timezone":            "UTC",
	}
	if c.cfg.ForTests {
		// synchronous_commit stays on: with fsync off a commit costs only a write(), and Restart
		// (a crash) must not lose transactions already reported committed.
		set["fsync"] = "off"
		set["full_page_writes"] = "off"
		// Dynamic shared memory as files in the data directory: removed with it, even after a
		// SIGKILL (posix segments would stay in /dev/shm).
		set["dynamic_shared_memory_type"] = "mmap"
	}
	for k, v := range c.cfg.Settings {
		set[k] = v
	}
	args := []string{"-D", c.DataDir(), "-p", strconv.Itoa(c.port)}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+set[k])
	}
	return args
}

func (c *Cluster) startServer(ctx context.Context) error {
	logf, err := os.OpenFile(c.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("embeddedpg: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	offset, _ := logf.Seek(0, 2)
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), c.args()...)
	c.prepare(cmd, logf)
	if err := cmd.Start(); err != nil {
		return &StartError{Step: "postgres", Err: err}
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	c.mu.Lock()
	c.proc, c.exited = cmd, exited
	c.mu.Unlock()

	dsn := c.URL("postgres")
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, dsn)
		if err == nil {
			// Another server may own the port (ours then fails to bind): check it is ours.
			var dataDir string
			err = conn.QueryRow(cctx, "select current_setting('data_directory')").Scan(&dataDir)
			_ = conn.Close(context.Background())
			if err == nil && dataDir != c.DataDir() {
				err = fmt.Errorf("port %d is served by another cluster (%s)", c.port, dataDir)
			}
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return &StartError{Step: "postgres", LogTail: tailFrom(c.LogPath(), offset, 30),
				Err: fmt.Errorf("server exited before accepting connections on port %d", c.port)}
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			<-exited
			return &StartError{Step: "postgres", LogTail: tailFrom(c.LogPath(), offset, 30),
				Err: fmt.Errorf("not accepting connections on port %d: %w (last: %v)", c.port, ctx.Err(), err)}
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// prepare sets the user, working directory, environment and output of a server-side command.
func (c *Cluster) prepare(cmd *exec.Cmd, out *os.File) {
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = out, out
	env := []string{"TZ=UTC", "LC_ALL=C.UTF-8"}
	for _, kv := range os.Environ() {
		// PG* variables (PGDATA, PGPORT, …) of the caller must not steer the server.
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "TZ=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	// Own process group: a terminal's Ctrl-C reaches this process, which stops the server itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
}

// FindBinDir returns dir if set (checking it holds initdb and postgres), else the directory of
// `postgres` in PATH (symlinks resolved), else the newest /usr/lib/postgresql/*/bin.
func FindBinDir(dir string) (string, error) {
	has := func(d string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%w in %s (no initdb or postgres there)", ErrBinariesNotFound, dir)
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestMajor := "", -1.0
	for _, m := range matches {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(m)), 64)
		if err == nil && v > bestMajor && has(m) {
			best, bestMajor = m, v
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w (looked in PATH and /usr/lib/postgresql/*/bin)", ErrBinariesNotFound)
	}
	return best, nil
}

var versionRE = regexp.MustCompile(`\d+(\.\d+)?`)

func serverVersion(binDir string) (string, error) {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("embeddedpg: %s/postgres --version: %w", binDir, err)
	}
	v := versionRE.FindString(string(out))
	if v == "" {
		return "", fmt.Errorf("embeddedpg: unexpected version output %q", bytes.TrimSpace(out))
	}
	return v, nil
}

func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: user %q: %v (apt-get install postgresql-15 creates it, or set Config.User)", ErrNoUser, name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: user %q has non-numeric ids", ErrNoUser, name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// FreePort returns a TCP port on 127.0.0.1 that is free now (it may be taken by the time it is used).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("embeddedpg: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, lines int) string { return tailFrom(path, 0, lines) }

// tailFrom returns the last lines of path, reading from byte offset on.
func tailFrom(path string, offset int64, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b[offset:]), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
