package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// markdownTable returns the rows of the Markdown table under heading "## title".
func markdownTable(t *testing.T, md, title string) [][]string {
	t.Helper()
	i := strings.Index(md, "## "+title+"\n")
	require.GreaterOrEqual(t, i, 0, "no section %q in:\n%s", title, md)
	var rows [][]string
	for n, line := range strings.Split(md[i:], "\n")[1:] {
		if strings.HasPrefix(line, "## ") {
			break
		}
		if !strings.HasPrefix(line, "|") || n < 3 { // blank, header, separator
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}

// `vendorhub report --format markdown` on the seeded dev database: its deliveries table and
// its notification success rate are the deliveries table's own counts.
func TestReportMarkdownMatchesTheDeliveriesTable(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSeededDB(t)
	ctx := context.Background()
	// More than the seed: a failed SMS and a deferred push, so every kind of status is counted.
	_, err := db.Pool.Exec(ctx, `
insert into public.deliveries (notification_id, user_id, channel, provider, status, attempt, error_code, created_at)
values ('70000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001', 'sms', 'twilio', 'failed', 1, '30003', '2026-11-06 12:01Z'),
       ('70000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001', 'push', 'fcm', 'deferred', 1, 'quiet_hours', '2026-11-06 12:02Z')`)
	require.NoError(t, err)

	code, out, errOut := runCmd(t, "report", "-db-url", db.URL, "-from", "2026-11-01", "-to", "2026-12-01", "-format", "markdown")
	require.Equal(t, 0, code, errOut)
	require.True(t, strings.HasPrefix(out, "# vendorhub integration report\n"), out)

	rows, err := db.Pool.Query(ctx, `select channel::text, status, count(*) from public.deliveries
		where created_at >= '2026-11-01' and created_at < '2026-12-01' group by 1, 2 order by 1, 2`)
	require.NoError(t, err)
	var want [][]string
	var total int64
	var ch, st string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&ch, &st, &n}, func() error {
		want = append(want, []string{ch, st, strconv.FormatInt(n, 10)})
		total += n
		return nil
	})
	require.NoError(t, err)
	want = append(want, []string{"total", "", strconv.FormatInt(total, 10)})
	require.Len(t, want, 5)
	require.Equal(t, want, markdownTable(t, out, "Deliveries by channel and status"))

	var ok, settled int64
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) filter (where status in ('sent', 'delivered', 'opened')),
		count(*) filter (where status in ('sent', 'delivered', 'opened', 'failed', 'suppressed'))
		from public.deliveries where created_at >= '2026-11-01' and created_at < '2026-12-01'`).Scan(&ok, &settled))
	summary := markdownTable(t, out, "Summary")
	var found bool
	for _, row := range summary {
		if row[0] == "Notification success rate" {
			found = true
			require.Equal(t, fmt.Sprintf("%.1f%%", float64(ok)/float64(settled)*100), row[1])
			require.Equal(t, fmt.Sprintf("%d of %d settled delivery attempts", ok, settled), row[2])
		}
	}
	require.True(t, found, "no success rate in:\n%s", out)

	// The same report as JSON and as a table.
	code, out, errOut = runCmd(t, "report", "-db-url", db.URL, "-from", "2026-11-01", "-to", "2026-12-01", "-format", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"delivery_attempts": 4`)
	code, out, _ = runCmd(t, "report", "-db-url", db.URL, "-from", "30d")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Deliveries by channel and status")
}

func TestReportRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-db-url", "postgres://x", "-format", "xml"}, "-format"},
		{[]string{"-db-url", "postgres://x", "-from", "yesterday"}, "-from"},
		{[]string{"-db-url", "postgres://x", "-from", "2026-11-02", "-to", "2026-11-01"}, "must be after"},
		{[]string{"-db-url", "postgres://x", "-to", "0d"}, "-to"},
		{[]string{"-db-url", ""}, "no database"},
	} {
		code, _, errOut := runCmd(t, append([]string{"report"}, tc.args...)...)
		require.Equal(t, 2, code, "%v", tc.args)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}
