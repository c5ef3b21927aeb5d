package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// BenchmarkPlannerGroupChat hands the planner group-chat messages of 30 weddings (a couple and
// 30 vendor members each) over 20 rounds a minute apart, 50 events per hand-off, with the
// default configuration: the first message of each chat notifies, the rest are held for a
// digest. One iteration is the whole run on empty planner state.
func BenchmarkPlannerGroupChat(b *testing.B) {
	const weddings, vendors, rounds, perHandOff = 30, 30, 20, 50
	ctx := context.Background()
	db := pgtest.NewDB(b)
	type wedding struct {
		id, couple, group string
		vendors           []string
	}
	ws := make([]wedding, weddings)
	var users, emails, devUsers, wIDs, cIDs, cW, cpC, cpU []string
	for i := range ws {
		w := &ws[i]
		w.id, w.couple, w.group = uuid.NewString(), uuid.NewString(), uuid.NewString()
		wIDs, cIDs, cW = append(wIDs, w.id), append(cIDs, w.group), append(cW, w.id)
		users, emails, devUsers = append(users, w.couple), append(emails, w.couple+"@example.com"), append(devUsers, w.couple)
		cpC, cpU = append(cpC, w.group), append(cpU, w.couple)
		for range vendors {
			u := uuid.NewString()
			w.vendors = append(w.vendors, u)
			users, emails = append(users, u), append(emails, u+"@example.com")
			cpC, cpU = append(cpC, w.group), append(cpU, u)
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(`insert into auth.users (id, email, aud, role, created_at) select u, e, 'authenticated', 'authenticated', now() from unnest($1::uuid[], $2::text[]) x(u, e)`, users, emails)
	batch.Queue(`insert into public.notification_settings (user_id, email, email_verified_at) select u, e, now() from unnest($1::uuid[], $2::text[]) x(u, e)`, users, emails)
	batch.Queue(`insert into public.devices (user_id, platform, token) select u, 'android', 'token:' || u from unnest($1::uuid[]) u`, devUsers)
	batch.Queue(`insert into public.weddings (id, title, wedding_date) select w, 'Bench wedding', '2027-06-12' from unnest($1::uuid[]) w`, wIDs)
	batch.Queue(`insert into public.conversations (id, wedding_id, subject) select c, w, 'Bench' from unnest($1::uuid[], $2::uuid[]) x(c, w)`, cIDs, cW)
	batch.Queue(`insert into public.conversation_participants (conversation_id, user_id) select c, u from unnest($1::uuid[], $2::uuid[]) x(c, u)`, cpC, cpU)
	require.NoError(b, db.Pool.SendBatch(ctx, batch).Close())

	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(b, err)
	tr := &stmtTimer{took: map[string]time.Duration{}, calls: map[string]int{}, last: map[string]pgx.TraceQueryStartData{}}
	cfg.ConnConfig.Tracer = tr
	cfg.MaxConns = 1 // one backend, whose CPU time is measured
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := jobs.NewClient(db.Pool, jobs.Config{Logger: quiet})
	require.NoError(b, err)
	p, err := notify.NewPlanner(notify.Config{Logger: quiet}, client)
	require.NoError(b, err)

	start := time.Now()
	lsn := uint64(0x1000000)
	chats := make([]notifytest.GroupChat, len(ws))
	for i, w := range ws {
		chats[i] = notifytest.GroupChat{WeddingID: w.id, ConversationID: w.group, Couple: w.couple, Vendors: w.vendors}
	}
	events := notifytest.GroupChatMessages(chats, rounds, start, time.Minute, &lsn)
	var backend int
	require.NoError(b, pool.QueryRow(ctx, `select pg_backend_pid()`).Scan(&backend))
	var dbCPU, goCPU time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, q := range []string{`truncate vendorhub.notify_threads, public.notifications cascade`, `delete from river.river_job`, `vacuum analyze`} {
			_, err := db.Pool.Exec(ctx, q)
			require.NoError(b, err)
		}
		b.StartTimer()
		db0, go0 := procCPU(b, backend), procCPU(b, os.Getpid())
		for i := 0; i < len(events); i += perHandOff {
			chunk := events[i:min(i+perHandOff, len(events))]
			require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return p.HandOff(ctx, tx, chunk) }))
		}
		dbCPU, goCPU = dbCPU+procCPU(b, backend)-db0, goCPU+procCPU(b, os.Getpid())-go0
	}
	for _, k := range slices.Sorted(maps.Keys(tr.took)) {
		d := tr.took[k]
		fmt.Printf("%8.1f ms/op %5d calls/op  %s\n", float64(d.Microseconds())/1000/float64(b.N), tr.calls[k]/b.N, k)
	}
	if os.Getenv("PLANNER_EXPLAIN") != "" {
		for q, d := range tr.last {
			if !strings.Contains(q, "vendorhub.notify_threads") && !strings.Contains(q, "unnest($1::uuid[]) as u(id)") {
				continue
			}
			tx, err := db.Pool.Begin(ctx)
			require.NoError(b, err)
			rows, err := tx.Query(ctx, "explain (analyze, buffers, wal) "+q, d.Args...)
			require.NoError(b, err)
			for rows.Next() {
				var line string
				require.NoError(b, rows.Scan(&line))
				fmt.Println(line)
			}
			require.NoError(b, rows.Err())
			require.NoError(b, tx.Rollback(ctx))
		}
	}
	b.ReportMetric(float64(dbCPU.Milliseconds())/float64(b.N), "pg-cpu-ms/op")
	b.ReportMetric(float64(goCPU.Milliseconds())/float64(b.N), "go-cpu-ms/op")
	b.ReportMetric(float64(b.N*len(events)*vendors)/b.Elapsed().Seconds(), "decisions/s")
}

// stmtTimer sums the time of each statement, by its first words.
type stmtTimer struct {
	mu    sync.Mutex
	last  map[string]pgx.TraceQueryStartData
	took  map[string]time.Duration
	calls map[string]int
}

type stmtStart struct {
	sql string
	at  time.Time
}

func (s *stmtTimer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.mu.Lock()
	s.last[d.SQL] = d
	s.mu.Unlock()
	return context.WithValue(ctx, s, stmtStart{sql: d.SQL, at: time.Now()})
}

func (s *stmtTimer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	st, ok := ctx.Value(s).(stmtStart)
	if !ok {
		return
	}
	k := strings.Join(strings.Fields(st.sql), " ")
	k = k[:min(len(k), 70)]
	s.mu.Lock()
	s.took[k] += time.Since(st.at)
	s.calls[k]++
	s.mu.Unlock()
}

func (s *stmtTimer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, s, stmtStart{sql: "batch", at: time.Now()})
}

func (s *stmtTimer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	s.mu.Lock()
	s.last[d.SQL] = pgx.TraceQueryStartData{SQL: d.SQL, Args: d.Args}
	s.mu.Unlock()
}

func (s *stmtTimer) TraceBatchEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchEndData) {
	s.TraceQueryEnd(ctx, c, pgx.TraceQueryEndData{})
}

// procCPU is the user+system CPU time process pid has used (Linux /proc, 100 ticks a second).
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(b, err)
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	var ticks int64
	for _, v := range f[11:13] { // utime, stime
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(b, err)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
