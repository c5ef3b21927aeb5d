package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/report"
)

// cmdReport runs `vendorhub report`: the integration report of a time range, computed from
// DATABASE_URL (see package report), as a table, JSON or Markdown.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	dbURL := fs.String("db-url", os.Getenv("DATABASE_URL"), "database to report on [DATABASE_URL]")
	from := fs.String("from", "", "start of the range: RFC 3339 time, date (2026-11-01) or duration before -to (24h, 7d); default 24h")
	to := fs.String("to", "", "end of the range (exclusive): RFC 3339 time or date; default now")
	format := fs.String("format", report.FormatTable, "output format: "+strings.Join(report.Formats, ", "))
	errorsN := fs.Int("errors", report.RecentErrorsDefault, "recent errors to list")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !slices.Contains(report.Formats, *format) {
		return fmt.Errorf("%w: -format %q: want %s", errUsage, *format, strings.Join(report.Formats, ", "))
	}
	if *dbURL == "" {
		return fmt.Errorf("%w: no database: set DATABASE_URL or -db-url", errUsage)
	}
	now := time.Now()
	end, err := parseWhen(*to, now, now)
	if err != nil {
		return fmt.Errorf("%w: -to: %v", errUsage, err)
	}
	start, err := parseWhen(*from, end, end.Add(-24*time.Hour))
	if err != nil {
		return fmt.Errorf("%w: -from: %v", errUsage, err)
	}
	if !end.After(start) {
		return fmt.Errorf("%w: -to (%s) must be after -from (%s)", errUsage, end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	conn, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	r, err := report.Build(ctx, conn, start, end, report.Options{RecentErrors: *errorsN})
	if err != nil {
		return err
	}
	return r.Render(stdout, *format)
}

// parseWhen reads an RFC 3339 time, a date (midnight UTC), or a duration ("24h", "7d")
// before base; "" gives def.
func parseWhen(s string, base, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && days > 0 && fmt.Sprint(days) == n {
			return base.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return base.Add(-d), nil
	}
	return time.Time{}, errors.New("want an RFC 3339 time (2026-11-25T09:00:00Z), a date (2026-11-25) or a duration such as 24h or 7d, not " + fmt.Sprintf("%q", s))
}
