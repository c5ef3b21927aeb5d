package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	long := strings.Repeat("x", 10_000)
	require.NoError(t, audit.Write(ctx, db.Pool, audit.Entry{
		Action: audit.ActionWebhookRejected, Subject: "webhook:standard/abc", Reason: long,
		SourceIP: "203.0.113.7:51234", Details: map[string]any{"status": 401, "body": long},
	}))
	var reason, ip, details string
	require.NoError(t, db.Pool.QueryRow(ctx, `select reason, host(source_ip), details::text from vendorhub.audit_log`).Scan(&reason, &ip, &details))
	require.Equal(t, "203.0.113.7", ip)
	require.LessOrEqual(t, len(reason), audit.MaxReasonLen)
	require.True(t, strings.HasSuffix(reason, "…"))
	require.Less(t, len(details), 1000, "long detail strings are cut")
	require.Contains(t, details, `"status": 401`)

	require.ErrorIs(t, audit.Write(ctx, db.Pool, audit.Entry{}), audit.ErrNoAction)
	// IPv6 with port, and garbage → NULL rather than an error.
	require.NoError(t, audit.Write(ctx, db.Pool, audit.Entry{Action: "x", SourceIP: "[2001:db8::1]:443"}))
	require.NoError(t, audit.Write(ctx, db.Pool, audit.Entry{Action: "y", SourceIP: "not-an-ip"}))
	var v6 string
	var nullIP bool
	require.NoError(t, db.Pool.QueryRow(ctx, `select host(source_ip) from vendorhub.audit_log where action = 'x'`).Scan(&v6))
	require.Equal(t, "2001:db8::1", v6)
	require.NoError(t, db.Pool.QueryRow(ctx, `select source_ip is null from vendorhub.audit_log where action = 'y'`).Scan(&nullIP))
	require.True(t, nullIP)

	// Append-only.
	_, err := db.Pool.Exec(ctx, `delete from vendorhub.audit_log`)
	require.Error(t, err)
}

func TestBufferSummarizesOverflow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	// A long flush interval and a tiny capacity: the first 3 entries queue, the rest overflow.
	b := audit.NewBuffer(db.Pool, audit.BufferConfig{Capacity: 3, FlushInterval: time.Hour, BatchSize: 1000})
	defer b.Close()
	for range 3 {
		b.Add(audit.Entry{Action: audit.ActionWebhookRejected, Subject: "webhook:a", Reason: "signature mismatch", SourceIP: "198.51.100.1:1"})
	}
	for range 50 {
		b.Add(audit.Entry{Action: audit.ActionWebhookRejected, Subject: "webhook:a", Reason: "signature mismatch", SourceIP: "198.51.100.1:2"})
	}
	b.Add(audit.Entry{Action: audit.ActionWebhookRejected, Subject: "webhook:b", Reason: "stale", SourceIP: "198.51.100.2"})
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, b.Flush(fctx))

	var rows, represented int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*), sum(coalesce((details->>'suppressed')::int, 1))
		from vendorhub.audit_log`).Scan(&rows, &represented))
	require.Equal(t, 5, rows, "3 individual rows + 2 summary rows")
	require.Equal(t, 54, represented, "every rejection is counted")
	var suppressed int
	require.NoError(t, db.Pool.QueryRow(ctx, `select (details->>'suppressed')::int from vendorhub.audit_log
		where subject = 'webhook:a' and details ? 'suppressed'`).Scan(&suppressed))
	require.Equal(t, 50, suppressed)
}

func TestBufferCloseFlushes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	b := audit.NewBuffer(db.Pool, audit.BufferConfig{FlushInterval: time.Hour})
	for range 10 {
		b.Add(audit.Entry{Action: "test.close"})
	}
	b.Close()
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.audit_log where action = 'test.close'`).Scan(&n))
	require.Equal(t, 10, n)
}

// A flood of identical rejections writes PerKeyBudget rows and one summary per flush, and a
// different source keeps its own rows.
func TestBufferPerKeyBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	b := audit.NewBuffer(db.Pool, audit.BufferConfig{FlushInterval: time.Hour, PerKeyBudget: 5})
	defer b.Close()
	for range 100 {
		b.Add(audit.Entry{Action: audit.ActionWebhookRejected, Subject: "webhook:x", Reason: "signature mismatch", SourceIP: "203.0.113.9:4000"})
	}
	b.Add(audit.Entry{Action: audit.ActionWebhookRejected, Subject: "webhook:x", Reason: "signature mismatch", SourceIP: "203.0.113.10"})
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, b.Flush(fctx))
	var rows, represented, summaries int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*), sum(coalesce((details->>'suppressed')::int, 1)), count(*) filter (where details ? 'suppressed')
		from vendorhub.audit_log`).Scan(&rows, &represented, &summaries))
	require.Equal(t, 5+1+1, rows)
	require.Equal(t, 101, represented)
	require.Equal(t, 1, summaries)
}
