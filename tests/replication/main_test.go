// Package replication_test holds the chaos tests of the replication pipeline: the
// real `vendorhub run` binary as a separate process, against real Postgres, killed with
// SIGKILL, facing a Postgres crash-restart, and replaced by a hot standby. Each test checks
// that every committed event has exactly one probe job (handoff.JobSink) and that the slot
// catches up with the end of the WAL; that replays happened (the slot's confirmed position
// was behind the durable cursor at a restart, and the new process re-received and skipped
// transactions); and, from the ack trace of the test build (tag acktrace), that no
// acknowledgement ever passed the durable cursor. The negative controls run the same chaos
// with builds whose acknowledgement is deliberately broken (tags ackbroken_receipt,
// ackbroken_early) and require the checks to detect the loss.
package replication_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/proctest"
)

// binary is the vendorhub binary built once by TestMain: with build tag acktrace (every
// acknowledgement traced, see internal/replication/acktrace.go), and with -race when the
// tests run under -race.
var binary string

// binDir holds the binaries built for this test process.
var binDir string

var builds sync.Map // tags → *build

type build struct {
	once sync.Once
	path string
	err  error
}

// buildVendorhub builds cmd/vendorhub with tags (once per tags), with -race when the tests
// run under -race.
func buildVendorhub(tags string) (string, error) {
	v, _ := builds.LoadOrStore(tags, &build{})
	b := v.(*build)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, "vendorhub-"+strings.NewReplacer(",", "-", " ", "-").Replace(tags))
		b.err = proctest.Build(b.path, tags, raceEnabled)
	})
	return b.path, b.err
}

// requireBinary returns the binary built with tags, failing t if it does not build.
func requireBinary(t *testing.T, tags string) string {
	t.Helper()
	p, err := buildVendorhub(tags)
	require.NoError(t, err)
	return p
}

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
	binDir = dir
	var err error
	if binary, err = buildVendorhub("acktrace"); err != nil {
		fmt.Fprintln(os.Stderr, "build vendorhub:", err)
		os.Exit(1)
	}
	pgtest.Main(m)
}

var seq atomic.Int64

// sidecar is one `vendorhub run` process.
type sidecar struct {
	t        *testing.T
	cmd      *exec.Cmd
	addr     string
	instance string // VENDORHUB_INSTANCE_ID: application_name of its connections
	log      *proctest.Buffer
	done     chan struct{}
}

// sidecarOpts configures startSidecarWith.
type sidecarOpts struct {
	bin, dbURL, slot string
	ackTrace         string   // file of the ack trace (VENDORHUB_TEST_ACK_TRACE), "" for none
	env              []string // more variables; they override the defaults below
	allStages        bool     // wire every stage instead of VENDORHUB_STAGES=none
	args             []string // extra arguments after "run"
}

func startSidecarWith(t *testing.T, o sidecarOpts) *sidecar {
	t.Helper()
	s := &sidecar{t: t, addr: proctest.Addr(t), log: &proctest.Buffer{}, done: make(chan struct{})}
	s.instance = fmt.Sprintf("chaos-%s-%d", o.slot, seq.Add(1))
	s.cmd = exec.Command(o.bin, append([]string{"run"}, o.args...)...)
	stages := "VENDORHUB_STAGES=none"
	if o.allStages {
		stages = "VENDORHUB_STAGES="
	}
	s.cmd.Env = append(os.Environ(),
		stages,
		"VENDORHUB_TEST_ACK_TRACE="+o.ackTrace,
		"DATABASE_URL="+o.dbURL,
		"VENDORHUB_HTTP_ADDR="+s.addr,
		"VENDORHUB_SLOT="+o.slot,
		"VENDORHUB_HANDOFF_PROBE=true",
		"VENDORHUB_STATUS_INTERVAL=1s",
		"VENDORHUB_RECEIVE_TIMEOUT=5s",
		"VENDORHUB_HEARTBEAT_INTERVAL=1s",
		"VENDORHUB_STANDBY_RETRY=300ms",
		"VENDORHUB_RECONNECT_MAX=1s",
		"VENDORHUB_SHUTDOWN_TIMEOUT=5s",
		"VENDORHUB_INSTANCE_ID="+s.instance,
	)
	s.cmd.Env = append(s.cmd.Env, o.env...)
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

// jitter returns a pseudo-random duration in [lo, hi).
func jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(time.Now().UnixNano()%int64(hi-lo))
}

func slotFor(t *testing.T) string {
	return fmt.Sprintf("vh_chaos_%d_%d", os.Getpid(), seq.Add(1))
}
