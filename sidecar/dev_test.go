package sidecar_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/sidecar"
)

// lineWriter is a concurrency-safe buffer that signals when a wanted text was written.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startDev runs sidecar.Dev until the test ends and returns its printed DATABASE_URL.
func startDev(t *testing.T, cfg sidecar.DevConfig) (string, *lineWriter, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{want: "press Ctrl-C", seen: make(chan struct{})}
	cfg.Out = out
	done := make(chan error, 1)
	go func() { done <- sidecar.Dev(ctx, cfg) }()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { _ = stop() })
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("dev exited early: %v\n%s", err, out.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("dev printed no connection details:\n%s", out.String())
	}
	i := strings.Index(out.String(), "DATABASE_URL=")
	require.GreaterOrEqual(t, i, 0, out.String())
	url := strings.Fields(out.String()[i+len("DATABASE_URL="):])[0]
	return url, out, stop
}

func TestDevServesSeededDatabaseAndCleansUp(t *testing.T) {
	t.Parallel()
	port, err := embeddedpg.FreePort()
	require.NoError(t, err)
	url, out, stop := startDev(t, sidecar.DevConfig{Port: port})
	require.Contains(t, url, ":"+strconv.Itoa(port)+"/")

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	var seeded bool
	var walLevel, fsync string
	require.NoError(t, conn.QueryRow(ctx, `select exists (select from supabase_migrations.seed_files),
		current_setting('wal_level'), current_setting('fsync')`).Scan(&seeded, &walLevel, &fsync))
	require.NoError(t, conn.Close(ctx))
	require.True(t, seeded, "dev must apply the seed")
	require.Equal(t, "logical", walLevel)
	require.Equal(t, "on", fsync, "dev is not a test cluster: fsync stays on")

	dir := out.String()[strings.Index(out.String(), "data directory ")+len("data directory "):]
	dir = strings.Fields(dir)[0]
	require.DirExists(t, dir)
	require.NoError(t, stop())
	require.NoDirExists(t, dir)
	require.Contains(t, out.String(), "removed")
}

func TestDevFallsBackWhenPortTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	url, _, _ := startDev(t, sidecar.DevConfig{Port: taken, NoSeed: true})
	require.NotContains(t, url, ":"+strconv.Itoa(taken)+"/")
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	var seeded bool
	require.NoError(t, conn.QueryRow(t.Context(), "select exists (select from supabase_migrations.seed_files)").Scan(&seeded))
	require.NoError(t, conn.Close(t.Context()))
	require.False(t, seeded, "NoSeed must skip the seed")
}

func TestDevRejectsBadPort(t *testing.T) {
	t.Parallel()
	err := sidecar.Dev(t.Context(), sidecar.DevConfig{Port: 70000, Out: os.Stderr})
	require.ErrorContains(t, err, "out of range")
}
