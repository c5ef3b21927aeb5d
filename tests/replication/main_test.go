// Package replication_test holds the chaos tests of the replication pipeline: the
// real `vendorhub run` binary as a separate process, against real Postgres, killed with
// SIGKILL, facing a Postgres crash-restart, and replaced by a hot standby. Each test checks
// that every committed event has exactly one probe job (handoff.JobSink) and that the slot
// catches up with the end of the WAL.
package replication_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// binary is the vendorhub binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	// One directory per test process (pgtest.Main exits, so it cannot be removed on the way
	// out): those of processes that are gone are removed first.
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), "vendorhub-replication-test-*"))
	for _, d := range stale {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "vendorhub-replication-test-"))
		if err != nil || syscall.Kill(pid, 0) != nil {
			_ = os.RemoveAll(d)
		}
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("vendorhub-replication-test-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vendorhub")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(gobin, "build", "-o", binary, "github.com/wedsync/vendorhub/cmd/vendorhub")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vendorhub:", err)
		os.Exit(1)
	}
	pgtest.Main(m)
}

var seq atomic.Int64

// sidecar is one `vendorhub run` process.
type sidecar struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startSidecar runs `vendorhub run` on dbURL and slot with the probe sink and no other
// stage, fast intervals, and its own HTTP port.
func startSidecar(t *testing.T, dbURL, slot string) *sidecar {
	t.Helper()
	s := &sidecar{t: t, addr: freeAddr(t), log: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, "run")
	s.cmd.Env = append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"VENDORHUB_HTTP_ADDR="+s.addr,
		"VENDORHUB_SLOT="+slot,
		"VENDORHUB_STAGES=none",
		"VENDORHUB_HANDOFF_PROBE=true",
		"VENDORHUB_STATUS_INTERVAL=1s",
		"VENDORHUB_RECEIVE_TIMEOUT=5s",
		"VENDORHUB_HEARTBEAT_INTERVAL=1s",
		"VENDORHUB_STANDBY_RETRY=300ms",
		"VENDORHUB_RECONNECT_MAX=1s",
		"VENDORHUB_SHUTDOWN_TIMEOUT=5s",
		fmt.Sprintf("VENDORHUB_INSTANCE_ID=chaos-%s-%d", slot, seq.Add(1)),
	)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	require.NoError(t, s.cmd.Start())
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("sidecar %d log (tail):\n%s", s.cmd.Process.Pid, tail(s.log.String(), 40))
		}
	})
	return s
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *sidecar) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// role returns the role /readyz reports ("" when the process does not answer).
func (s *sidecar) role() string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + s.addr + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct {
		Role string `json:"role"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return ""
	}
	return body.Role
}

func (s *sidecar) waitRole(role string, within time.Duration) {
	s.t.Helper()
	require.Eventually(s.t, func() bool { return s.role() == role }, within, 20*time.Millisecond,
		"sidecar did not become %s; log:\n%s", role, tail(s.log.String(), 30))
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// generator commits events in transactions of 1 to 100, each recording its ids in
// chaos_events in the same transaction: that table is the ground truth of what committed,
// even when a commit's outcome is unknown to the client (Postgres crashing under it).
type generator struct {
	pool *pgxpool.Pool
}

func newGenerator(ctx context.Context, t *testing.T, dbURL string) *generator {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on" // committed means in the WAL, crash or not
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `create table if not exists public.chaos_events (id uuid primary key)`)
	require.NoError(t, err)
	return &generator{pool: pool}
}

// run commits n events at about perSecond events per second (0: as fast as possible),
// retrying after errors, and returns when n events are known to have committed.
func (g *generator) run(ctx context.Context, n, perSecond int) error {
	var tick *time.Ticker
	const perTx = 50
	if perSecond > 0 {
		tick = time.NewTicker(time.Second * perTx / time.Duration(perSecond))
		defer tick.Stop()
	}
	var i int
	for {
		var committed int
		if err := g.pool.QueryRow(ctx, `select count(*) from public.chaos_events`).Scan(&committed); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // the server is restarting
		}
		if committed >= n {
			return nil
		}
		i++
		k := min(1+(i*37)%(2*perTx), n-committed) // 1..100 events per transaction
		_, err := g.pool.Exec(ctx, `
with ids as (insert into public.chaos_events select gen_random_uuid() from generate_series(1, $1) returning id)
select count(pg_logical_emit_message(true, 'vendorhub', json_build_object(
  'id', id, 'type', 'task.updated', 'occurred_at', now(), 'wedding_id', id,
  'subject', json_build_object('table', 'tasks', 'id', id))::text)) from ids`, k)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// requireExactlyOnce checks that every committed event has exactly one probe job, keys
// included, waiting for the sidecar to catch up; then that the slot's confirmed position
// reaches the WAL end as it was when the events were complete.
func requireExactlyOnce(ctx context.Context, t *testing.T, pool *pgxpool.Pool, slot string) {
	t.Helper()
	var events, jobs, eventsWithJob, distinctKeys int
	require.Eventually(t, func() bool {
		err := pool.QueryRow(ctx, `
select (select count(*) from public.chaos_events),
       (select count(*) from river.river_job where kind = 'handoff.event' and args->>'type' <> 'heartbeat'),
       (select count(*) from public.chaos_events e where exists (
          select 1 from river.river_job j where j.kind = 'handoff.event' and j.args->>'event_id' = e.id::text)),
       (select count(distinct args->>'key') from river.river_job where kind = 'handoff.event')`).
			Scan(&events, &jobs, &eventsWithJob, &distinctKeys)
		return err == nil && eventsWithJob == events && jobs >= events
	}, 90*time.Second, 100*time.Millisecond, "not every event got a job")
	require.Equal(t, events, jobs, "one job per event, no more")
	require.Equal(t, events, distinctKeys, "one event key per job")
	var dup int
	require.NoError(t, pool.QueryRow(ctx, `
select count(*) from (select args->>'event_id' from river.river_job where kind = 'handoff.event'
                      group by 1 having count(*) > 1) d`).Scan(&dup))
	require.Zero(t, dup, "events with more than one job")

	var end string
	require.NoError(t, pool.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&end))
	endLSN, err := pglogrepl.ParseLSN(end)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var confirmed, cursor *string
		if pool.QueryRow(ctx, `select confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1`, slot).Scan(&confirmed) != nil ||
			pool.QueryRow(ctx, `select lsn::text from vendorhub.replication_cursor where slot_name = $1`, slot).Scan(&cursor) != nil ||
			confirmed == nil || cursor == nil {
			return false
		}
		c, _ := pglogrepl.ParseLSN(*confirmed)
		cur, _ := pglogrepl.ParseLSN(*cursor)
		return c >= endLSN && cur >= c
	}, 60*time.Second, 100*time.Millisecond, "the slot's confirmed_flush_lsn did not reach the end of the WAL (%s)", end)
}

// watchAcks samples the slot until stop is called and fails the test if its
// confirmed_flush_lsn is ever ahead of the cursor row: the sidecar may acknowledge only what
// its hand-off committed. (confirmed is read before the cursor, which only grows.)
func watchAcks(ctx context.Context, t *testing.T, pool *pgxpool.Pool, slot string) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	result := make(chan string, 1)
	go func() {
		samples := 0
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				result <- fmt.Sprintf("ok after %d samples", samples)
				return
			case <-tick.C:
			}
			var confirmed, cursor *string
			if pool.QueryRow(ctx, `select confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1`, slot).Scan(&confirmed) != nil ||
				pool.QueryRow(ctx, `select lsn::text from vendorhub.replication_cursor where slot_name = $1`, slot).Scan(&cursor) != nil ||
				confirmed == nil || cursor == nil {
				continue // not started yet, or Postgres restarting
			}
			c, _ := pglogrepl.ParseLSN(*confirmed)
			cur, _ := pglogrepl.ParseLSN(*cursor)
			samples++
			if c > cur {
				result <- fmt.Sprintf("confirmed_flush_lsn %s is ahead of the cursor %s", c, cur)
				<-done
				return
			}
		}
	}()
	return func() {
		close(done)
		r := <-result
		if !strings.HasPrefix(r, "ok") {
			t.Fatal(r)
		}
		t.Log("acknowledgements checked: " + r)
	}
}

// jitter returns a pseudo-random duration in [lo, hi).
func jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(time.Now().UnixNano()%int64(hi-lo))
}

func slotFor(t *testing.T) string {
	return fmt.Sprintf("vh_chaos_%d_%d", os.Getpid(), seq.Add(1))
}
