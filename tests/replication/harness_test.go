package replication_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metric returns the value of the unlabelled metric name on the sidecar's /metrics (summed
// over its label sets), or an error when the process does not answer.
func (s *sidecar) metric(name string) (float64, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + s.addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // a longer name
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %q", name, line)
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("metric %s not exposed", name)
	}
	return sum, sc.Err()
}

// slotPositions returns the slot's confirmed_flush_lsn and the cursor row (0 when missing).
func slotPositions(ctx context.Context, pool *pgxpool.Pool, slot string) (confirmed, cursor uint64, err error) {
	var c, cur *string
	err = pool.QueryRow(ctx, `
select (select confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1),
       (select lsn::text from vendorhub.replication_cursor where slot_name = $1)`, slot).Scan(&c, &cur)
	if err != nil {
		return 0, 0, err
	}
	parse := func(p *string) uint64 {
		if p == nil {
			return 0
		}
		l, _ := pglogrepl.ParseLSN(*p)
		return uint64(l)
	}
	return parse(c), parse(cur), nil
}

// ackTraceFile returns a fresh path for a test's ack trace.
func ackTraceFile(t *testing.T) string {
	return filepath.Join(t.TempDir(), "acks.trace")
}

// ackTrace is what an ack trace holds.
type ackTrace struct {
	acks       int    // status updates sent
	violations int    // of which acknowledged a position beyond the committed cursor
	first      string // the first violation
}

// readAckTrace reads the trace written by acktrace builds: one "<ack> <cursor>" line per
// status update sent, the cursor read from the committed row just before it was sent.
func readAckTrace(t *testing.T, path string) ackTrace {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err, "no ack trace: was the binary built with -tags acktrace?")
	defer f.Close()
	var tr ackTrace
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue // a line cut by SIGKILL
		}
		ack, err1 := pglogrepl.ParseLSN(fields[0])
		cur, err2 := pglogrepl.ParseLSN(fields[1])
		require.NoError(t, err1)
		require.NoError(t, err2)
		tr.acks++
		if ack > cur {
			tr.violations++
			if tr.first == "" {
				tr.first = fmt.Sprintf("acknowledged %s while the cursor was %s", ack, cur)
			}
		}
	}
	require.NoError(t, sc.Err())
	return tr
}

// requireAcksDurable fails t unless the trace holds acknowledgements and none passed the
// committed cursor.
func requireAcksDurable(t *testing.T, path string) {
	t.Helper()
	tr := readAckTrace(t, path)
	require.Positive(t, tr.acks, "no acknowledgement traced")
	require.Zero(t, tr.violations, "acknowledgements beyond the durable cursor: %d of %d, first: %s", tr.violations, tr.acks, tr.first)
	t.Logf("acknowledgements traced: %d, every one ≤ the committed cursor", tr.acks)
}

// probeLoss is what countProbeLoss found.
type probeLoss struct {
	events     int // committed source events
	missing    int // events without a probe job
	extraJobs  int // jobs beyond one per event
	duplicates int // events with more than one job
}

// countProbeLoss waits until the cursor and the slot cover the WAL as it is now (all the
// workload's events are then handed off or lost for good), then counts events without a
// probe job and events with more than one.
func countProbeLoss(ctx context.Context, t *testing.T, pool *pgxpool.Pool, slot string) probeLoss {
	t.Helper()
	waitCaughtUp(ctx, t, pool, slot)
	var l probeLoss
	var jobs int
	require.NoError(t, pool.QueryRow(ctx, `
with j as (select args->>'event_id' as id, count(*) as n from river.river_job
           where kind = 'handoff.event' and args->>'type' <> 'heartbeat' group by 1)
select (select count(*) from public.chaos_events),
       (select count(*) from public.chaos_events e where not exists (select 1 from j where j.id = e.id::text)),
       (select coalesce(sum(n), 0) from j),
       (select count(*) from j where n > 1)`).Scan(&l.events, &l.missing, &jobs, &l.duplicates))
	l.extraJobs = jobs - (l.events - l.missing)
	return l
}

// waitCaughtUp waits until the cursor row and the slot's confirmed_flush_lsn reach the
// WAL end as it is now, and confirmed ≤ cursor.
func waitCaughtUp(ctx context.Context, t *testing.T, pool *pgxpool.Pool, slot string) {
	t.Helper()
	var end string
	require.NoError(t, pool.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&end))
	endLSN, err := pglogrepl.ParseLSN(end)
	require.NoError(t, err)
	// A bound for loaded shared machines (a backlog of all-sink hand-offs); the wait ends as
	// soon as the slot has caught up.
	var last [2]atomic.Uint64
	ok := assert.Eventually(t, func() bool {
		c, cur, err := slotPositions(ctx, pool, slot)
		last[0].Store(c)
		last[1].Store(cur)
		return err == nil && c >= uint64(endLSN) && cur >= c
	}, 5*time.Minute, 100*time.Millisecond)
	require.True(t, ok, "the slot's confirmed_flush_lsn did not reach the end of the WAL (%s): confirmed %s, cursor %s",
		end, pglogrepl.LSN(last[0].Load()), pglogrepl.LSN(last[1].Load()))
}

// requireExactlyOnce checks that every committed event has exactly one probe job, keys
// included, once the slot caught up with the end of the WAL.
func requireExactlyOnce(ctx context.Context, t *testing.T, pool *pgxpool.Pool, slot string) {
	t.Helper()
	l := countProbeLoss(ctx, t, pool, slot)
	require.Positive(t, l.events)
	require.Zero(t, l.missing, "events without a job (lost) of %d", l.events)
	require.Zero(t, l.duplicates, "events with more than one job")
	require.Zero(t, l.extraJobs, "jobs beyond one per event")
	var distinctKeys, jobs int
	require.NoError(t, pool.QueryRow(ctx, `
select count(distinct args->>'key'), count(*) from river.river_job
where kind = 'handoff.event' and args->>'type' <> 'heartbeat'`).Scan(&distinctKeys, &jobs))
	require.Equal(t, jobs, distinctKeys, "one event key per job")
	require.Equal(t, l.events, jobs, "one job per event")
}

// pollUntil checks cond every interval until it holds (true), or ctx ends or timeout passes
// (false): a condition polled with a deadline, never a bare sleep.
func pollUntil(ctx context.Context, timeout, interval time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
