package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/bench/results"
)

// pgRecvlogical is the real client binary (not Debian's Perl wrapper in /usr/bin).
const pgRecvlogical = "/usr/lib/postgresql/15/bin/pg_recvlogical"

var sysReplEvents = flag.Int("system-repl-events", 50_000, "system: events of the replication backlog")

// sysReplication drains one backlog of task.updated events three times, each from its own
// slot created before it: pg_recvlogical (the floor), the sidecar as shipped (all stages,
// durable hand-off), pg_recvlogical again. It reports events/s and CPU µs/event of each client
// and of its walsender.
func sysReplication(ctx context.Context, env *Env, bin string) error {
	run := env.Run
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	n := *sysReplEvents
	slots := []string{"bench_repl_recv_0", "bench_repl_side", "bench_repl_recv_1"}
	if _, err := db.Pool.Exec(ctx, `do $$ begin
  if not exists (select 1 from pg_publication where pubname = 'vendorhub') then create publication vendorhub; end if;
end $$`); err != nil {
		return err
	}
	for _, s := range slots {
		if _, err := db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'pgoutput')`, s); err != nil {
			return fmt.Errorf("create slot %s: %w", s, err)
		}
	}
	defer func() {
		for _, s := range slots {
			_, _ = db.Pool.Exec(context.WithoutCancel(ctx), `select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1 and not active`, s)
		}
	}()
	_, end, err := replBacklog(ctx, db.Pool, n)
	if err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `checkpoint`); err != nil {
		return err
	}
	events := float64(n + 1)

	type drained struct{ seconds, clientCPU, walsenderCPU float64 }
	var recv []drained
	var side drained
	for i, slot := range slots {
		if slot == "bench_repl_side" {
			d, c, w, err := replSidecar(ctx, bin, db.URL, db.Pool, slot, end)
			if err != nil {
				return fmt.Errorf("sidecar: %w", err)
			}
			side = drained{d.Seconds(), c.Seconds(), w.Seconds()}
			env.Logf("replication: sidecar (all stages, durable) %.0f events/s, %.1f µs CPU/event, walsender %.1f µs/event", events/d.Seconds(), c.Seconds()*1e6/events, w.Seconds()*1e6/events)
			continue
		}
		d, c, w, err := replRecvBinary(ctx, db.URL, db.Pool, slot, n+1)
		if err != nil {
			return fmt.Errorf("pg_recvlogical round %d: %w", i, err)
		}
		recv = append(recv, drained{d.Seconds(), c.Seconds(), w.Seconds()})
		env.Logf("replication: pg_recvlogical %.0f events/s, %.1f µs CPU/event, walsender %.1f µs/event", events/d.Seconds(), c.Seconds()*1e6/events, w.Seconds()*1e6/events)
	}
	var fl drained
	for _, r := range recv {
		fl.seconds += r.seconds / float64(len(recv))
		fl.clientCPU += r.clientCPU / float64(len(recv))
		fl.walsenderCPU += r.walsenderCPU / float64(len(recv))
	}
	floorName := "the pg_recvlogical binary (pgoutput proto_version 2, same publication, messages and streaming on) writing to a file until it holds every event, mean of the runs before and after"
	run.Add(results.NewFigure("replication.durable_all_stages.events_per_s", events/side.seconds, "events/s", floorName, events/fl.seconds,
		&results.Goal{Of: "ratio", Limit: 0.25}, fmt.Sprintf("`vendorhub run` as shipped draining a backlog of %d task.updated events (100 per transaction), start → slot confirmed past the backlog", n)))
	run.Add(results.NewFigure("replication.client_cpu_us_per_event", side.clientCPU*1e6/events, "µs", floorName, fl.clientCPU*1e6/events,
		&results.Goal{Of: "ratio", AtMost: true, Limit: 1}, "the whole sidecar process (decode, route, every stage, durable hand-off, start-up included): an upper bound of decode+route"))
	run.Add(results.NewFigure("replication.walsender_cpu_us_per_event", side.walsenderCPU*1e6/events, "µs", "walsender serving pg_recvlogical", fl.walsenderCPU*1e6/events,
		nil, "walsender serving the sidecar (/proc/<active_pid>/stat, sampled every 20 ms)"))
	return nil
}

// procCPU is utime+stime of pid from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which is in parentheses and may hold spaces).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// walsenderCPU samples the CPU of slot's walsender every 20 ms until stop is closed, and
// returns the last sample.
func walsenderCPU(ctx context.Context, pool *pgxpool.Pool, slot string, stop <-chan struct{}) func() time.Duration {
	var last atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		pid := 0
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if pid == 0 {
				var p *int
				if pool.QueryRow(ctx, `select active_pid from pg_replication_slots where slot_name = $1`, slot).Scan(&p) == nil && p != nil {
					pid = *p
				}
				continue
			}
			if c, err := procCPU(pid); err == nil {
				last.Store(int64(c))
			}
		}
	}()
	return func() time.Duration { <-done; return time.Duration(last.Load()) }
}

// replRecvBinary drains slot with the pg_recvlogical binary into a file until the file holds
// want events (counted as written, every 50 ms; pgoutput is binary, so the events themselves
// are counted, not pg_recvlogical's newline-ended lines), then stops it; it returns the wall
// time, the client's CPU and its walsender's CPU.
func replRecvBinary(ctx context.Context, dbURL string, pool *pgxpool.Pool, slot string, want int) (time.Duration, time.Duration, time.Duration, error) {
	out := filepath.Join(os.TempDir(), fmt.Sprintf("bench-recvlogical-%s-%d.out", slot, time.Now().UnixNano()))
	defer func() { _ = os.Remove(out) }()
	cmd := exec.CommandContext(ctx, pgRecvlogical, "-d", dbURL, "--slot="+slot, "--start", "--no-loop", "-F", "0",
		"-o", "proto_version=2", "-o", "publication_names=vendorhub", "-o", "messages=true", "-o", "streaming=on", "-f", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stop := make(chan struct{})
	ws := walsenderCPU(ctx, pool, slot, stop)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		close(stop)
		ws()
		return 0, 0, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pattern := []byte(`"task.updated"`)
	var got int
	var offset int64
	var tail []byte
	deadline := time.Now().Add(10 * time.Minute)
	for got < want {
		select {
		case err := <-exited:
			close(stop)
			ws()
			return 0, 0, 0, fmt.Errorf("pg_recvlogical exited at %d of %d events: %v: %s", got, want, err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		f, err := os.Open(out)
		if err == nil {
			_, _ = f.Seek(offset, io.SeekStart)
			chunk, _ := io.ReadAll(f)
			f.Close()
			offset += int64(len(chunk))
			buf := append(tail, chunk...)
			// Count matches that end in the new bytes only (the tail was counted before).
			got += bytes.Count(buf, pattern) - bytes.Count(tail, pattern)
			tail = append([]byte(nil), buf[max(0, len(buf)-len(pattern)+1):]...)
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			close(stop)
			ws()
			return 0, 0, 0, fmt.Errorf("pg_recvlogical: %d of %d events in 10 min", got, want)
		}
	}
	d := time.Since(began)
	close(stop)
	w := ws()
	_ = cmd.Process.Signal(os.Interrupt)
	<-exited
	if got != want {
		return 0, 0, 0, fmt.Errorf("pg_recvlogical wrote %d events, want %d", got, want)
	}
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), w, nil
}

// replSidecar runs `vendorhub run` (defaults, every stage) on slot until its durable cursor
// passed the backlog, and returns wall time from process start, its CPU and its walsender's CPU.
func replSidecar(ctx context.Context, bin, dbURL string, pool *pgxpool.Pool, slot, end string) (time.Duration, time.Duration, time.Duration, error) {
	stop := make(chan struct{})
	ws := walsenderCPU(ctx, pool, slot, stop)
	began := time.Now()
	sc, err := startSidecar(ctx, bin, sysKeys(dbURL, slot))
	if err != nil {
		close(stop)
		ws()
		return 0, 0, 0, err
	}
	defer sc.stop()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var done bool
		// The durable cursor past the marker's commit (the backlog's last transaction, over
		// 100 bytes of WAL, ending at end): the slot's own confirmation waits for the next
		// status update.
		if err := pool.QueryRow(ctx, `select coalesce((select lsn >= $2::pg_lsn - 100 from vendorhub.replication_cursor where slot_name = $1), false)`, slot, end).Scan(&done); err != nil {
			close(stop)
			ws()
			return 0, 0, 0, err
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			ws()
			return 0, 0, 0, fmt.Errorf("slot %s not confirmed past %s in 10 min", slot, end)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := time.Since(began)
	cpu, err := procCPU(sc.cmd.Process.Pid)
	close(stop)
	w := ws()
	return d, cpu, w, err
}
