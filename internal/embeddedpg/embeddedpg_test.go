package embeddedpg_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/embeddedpg"
)

func start(t *testing.T, cfg embeddedpg.Config) *embeddedpg.Cluster {
	t.Helper()
	cfg.ForTests = true
	c, err := embeddedpg.Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func setting(t *testing.T, url, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v string
	require.NoError(t, conn.QueryRow(ctx, "select current_setting($1)", name).Scan(&v))
	return v
}

func TestStartSettingsAndStop(t *testing.T) {
	t.Parallel()
	c := start(t, embeddedpg.Config{})
	require.NotZero(t, c.Port())
	require.Equal(t, "logical", setting(t, c.URL("postgres"), "wal_level"))
	require.Equal(t, "off", setting(t, c.URL("postgres"), "fsync"))
	require.Equal(t, "127.0.0.1", setting(t, c.URL("postgres"), "listen_addresses"))
	slots, err := strconv.Atoi(setting(t, c.URL("postgres"), "max_replication_slots"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, slots, 20)
	if os.Geteuid() == 0 {
		fi, err := os.Stat(c.DataDir())
		require.NoError(t, err)
		require.NotEqual(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, "data directory must not be owned by root")
	}
	pid := c.PID()
	require.NotZero(t, pid)

	require.NoError(t, c.Stop())
	require.NoDirExists(t, c.Dir())
	require.Error(t, syscall.Kill(pid, 0), "postmaster still alive after Stop")
	require.NoError(t, c.Stop(), "second Stop is a no-op")
	require.ErrorIs(t, c.StartServer(t.Context()), embeddedpg.ErrStopped)
}

func TestProductionSettings(t *testing.T) {
	t.Parallel()
	c, err := embeddedpg.Start(t.Context(), embeddedpg.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	require.Equal(t, "on", setting(t, c.URL("postgres"), "fsync"))
	require.Equal(t, "on", setting(t, c.URL("postgres"), "full_page_writes"))
}

func TestRestartKeepsDataAndPort(t *testing.T) {
	t.Parallel()
	c := start(t, embeddedpg.Config{})
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "create table kept(x int); insert into kept values (42)")
	require.NoError(t, err)
	port, pid := c.Port(), c.PID()

	require.NoError(t, c.Restart(ctx))
	require.Error(t, conn.Ping(ctx), "old connection must be broken by the crash")
	require.Equal(t, port, c.Port())
	require.NotEqual(t, pid, c.PID())

	conn2, err := pgx.Connect(ctx, c.URL("postgres"))
	require.NoError(t, err)
	defer conn2.Close(ctx)
	var x int
	require.NoError(t, conn2.QueryRow(ctx, "select x from kept").Scan(&x))
	require.Equal(t, 42, x)
}

func TestStopServerAndStartServer(t *testing.T) {
	t.Parallel()
	c := start(t, embeddedpg.Config{})
	ctx := t.Context()
	require.NoError(t, c.StopServer())
	require.Zero(t, c.PID(), "no postmaster while stopped")
	_, err := pgx.Connect(ctx, c.URL("postgres"))
	require.Error(t, err, "server must be unreachable while stopped")
	require.NoError(t, c.StartServer(ctx))
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
}

func TestFixedPortInUseFailsWithLogTail(t *testing.T) {
	t.Parallel()
	c := start(t, embeddedpg.Config{})
	_, err := embeddedpg.Start(t.Context(), embeddedpg.Config{Port: c.Port(), ForTests: true, StartTimeout: 20 * time.Second})
	var se *embeddedpg.StartError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "postgres", se.Step)
	require.Contains(t, se.LogTail, "could not")
}

func TestMissingBinaries(t *testing.T) {
	t.Parallel()
	_, err := embeddedpg.Start(t.Context(), embeddedpg.Config{BinDir: t.TempDir()})
	require.ErrorIs(t, err, embeddedpg.ErrBinariesNotFound)
	require.Contains(t, err.Error(), "apt-get install postgresql-15")
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	_, err := embeddedpg.Start(t.Context(), embeddedpg.Config{Port: 70000})
	require.Error(t, err)
	require.Contains(t, err.Error(), "Port")
}

func TestMissingUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the unprivileged user is only needed when running as root")
	}
	_, err := embeddedpg.Start(t.Context(), embeddedpg.Config{User: "vendorhub-no-such-user"})
	require.ErrorIs(t, err, embeddedpg.ErrNoUser)
}

// TestWatchdogCleansUpAfterKill starts a cluster in a child process, SIGKILLs the child and
// checks that the watchdog stops the server and removes the directory.
func TestWatchdogCleansUpAfterKill(t *testing.T) {
	t.Parallel()
	if os.Getenv("EMBEDDEDPG_CHILD") == "1" {
		t.Skip("child process")
	}
	info := filepath.Join(t.TempDir(), "info")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChild$", "-test.v")
	cmd.Env = append(os.Environ(), "EMBEDDEDPG_CHILD=1", "EMBEDDEDPG_INFO="+info)
	require.NoError(t, cmd.Start())
	var dir string
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(info)
		if err != nil || len(b) == 0 || b[len(b)-1] != '\n' {
			return false
		}
		var p string
		n, _ := fmt.Sscan(string(b), &dir, &p)
		pid, _ = strconv.Atoi(p)
		return n == 2
	}, 60*time.Second, 20*time.Millisecond)
	require.DirExists(t, dir)
	require.NoError(t, syscall.Kill(pid, 0))

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Eventually(t, func() bool {
		_, err := os.Stat(dir)
		return errors.Is(err, os.ErrNotExist) && syscall.Kill(pid, 0) != nil
	}, 30*time.Second, 20*time.Millisecond, "cluster %s (pid %d) outlived its owner", dir, pid)
}

// TestHelperChild is the child of TestWatchdogCleansUpAfterKill: it starts a cluster, reports
// where, and blocks until killed.
func TestHelperChild(t *testing.T) {
	if os.Getenv("EMBEDDEDPG_CHILD") != "1" {
		t.Skip("only runs as the child of TestWatchdogCleansUpAfterKill")
	}
	c, err := embeddedpg.Start(context.Background(), embeddedpg.Config{ForTests: true})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(os.Getenv("EMBEDDEDPG_INFO"), []byte(c.Dir()+" "+strconv.Itoa(c.PID())+"\n"), 0o644))
	select {} // killed by the parent
}
