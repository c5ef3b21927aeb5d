package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/report"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	from = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
)

// The seeded deliveries, counted by hand from supabase/seed.sql: one push delivered (fcm), one
// email sent (resend).
func TestReportOfTheSeedMatchesItsDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewSeededDB(t)
	r, err := report.Build(ctx, db.Pool, from, to, report.Options{})
	require.NoError(t, err)
	require.Equal(t, []report.DeliveryCount{{Channel: "email", Status: "sent", Count: 1}, {Channel: "push", Status: "delivered", Count: 1}},
		r.Deliveries)
	require.EqualValues(t, 2, r.DeliveryAttempts)
	require.Equal(t, report.Rate{Succeeded: 2, Settled: 2, Rate: ptr(1.0)}, r.NotificationSuccess)
	require.Nil(t, r.WebhookDelivery.Rate, "no outbound webhook settled: no rate, not 100%")
	require.Nil(t, r.CRMSync.Rate)
	require.EqualValues(t, 2, r.NotificationDeliveryTime.N)
	require.Zero(t, r.RealtimeLatency.N)

	// Every seeded connection and each provider that delivered is listed, all up.
	var names []string
	for _, u := range r.Uptime {
		names = append(names, u.Integration)
		require.Equal(t, 1.0, u.Uptime, u.Integration)
	}
	require.Contains(t, names, "provider:fcm")
	require.Contains(t, names, "provider:resend")
	require.Contains(t, names, breaker.Connection("60000000-0000-4000-8000-000000000001"))
	require.Len(t, names, 2+5)
	require.Equal(t, ptr(1.0), r.OverallHealth)

	// A failed delivery is settled and shows up as a recent error.
	_, err = db.Pool.Exec(ctx, `insert into public.deliveries (notification_id, user_id, channel, provider, status, attempt, error_code, error, created_at, updated_at)
		values ('70000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001', 'sms', 'twilio', 'failed', 1,
		        '30003', 'Unreachable destination handset', '2026-11-06 12:01Z', '2026-11-06 12:01Z')`)
	require.NoError(t, err)
	r, err = report.Build(ctx, db.Pool, from, to, report.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Rate{Succeeded: 2, Settled: 3, Rate: ptr(2.0 / 3)}, r.NotificationSuccess)
	require.NotEmpty(t, r.RecentErrors)
	require.Equal(t, "delivery", r.RecentErrors[0].Source)
	require.Contains(t, r.RecentErrors[0].Message, "30003")

	// A range that ends before the seed starts sees nothing.
	empty, err := report.Build(ctx, db.Pool, from, from.Add(time.Hour), report.Options{})
	require.NoError(t, err)
	require.Empty(t, empty.Deliveries)
	require.Nil(t, empty.NotificationSuccess.Rate)
}

// Uptime is the share of the range no instance's breaker was open or half-open; overlapping
// outages on two instances count once; an outage that began before the range counts from its
// start.
func TestUptimeFromBreakerTransitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ins := func(instance, breaker, from, to string, at time.Time) {
		_, err := db.Pool.Exec(ctx, `insert into vendorhub.breaker_transitions (occurred_at, instance, breaker, from_state, to_state, event_id)
			values ($1, $2, $3, $4, $5, gen_random_uuid())`, at, instance, breaker, from, to)
		require.NoError(t, err)
	}
	// fcm: instance a down 01:00–03:00 (open, then half-open), instance b down 02:00–04:00.
	ins("a", "provider:fcm", "closed", "open", start.Add(time.Hour))
	ins("a", "provider:fcm", "open", "half-open", start.Add(2*time.Hour))
	ins("a", "provider:fcm", "half-open", "closed", start.Add(3*time.Hour))
	ins("b", "provider:fcm", "closed", "open", start.Add(2*time.Hour))
	ins("b", "provider:fcm", "open", "closed", start.Add(4*time.Hour))
	// twilio: opened the day before the range and closed six hours into it.
	ins("a", "provider:twilio", "closed", "open", start.Add(-day))
	ins("a", "provider:twilio", "open", "closed", start.Add(6*time.Hour))
	// resend: opened at 18:00 and still open at the end.
	ins("a", "provider:resend", "closed", "open", start.Add(18*time.Hour))

	r, err := report.Build(ctx, db.Pool, start, start.Add(day), report.Options{})
	require.NoError(t, err)
	got := map[string]report.Uptime{}
	for _, u := range r.Uptime {
		got[u.Integration] = u
	}
	require.InDelta(t, 1-3.0/24, got["provider:fcm"].Uptime, 1e-9)
	require.Equal(t, float64(3*3600), got["provider:fcm"].DownSeconds)
	require.Equal(t, 5, got["provider:fcm"].Transitions)
	require.InDelta(t, 1-6.0/24, got["provider:twilio"].Uptime, 1e-9)
	require.Equal(t, 1, got["provider:twilio"].Transitions, "the change before the range is not counted")
	require.InDelta(t, 1-6.0/24, got["provider:resend"].Uptime, 1e-9)
	require.Len(t, r.RecentErrors, 3, "the opens inside the range")
}

func TestRealtimeLatencyFromHealthSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	// 90 events in the 5–10 ms bucket, 10 in the 250–500 ms bucket, over two samples.
	counts1 := make([]int64, len(health.LatencyBoundsMillis)+1)
	counts2 := make([]int64, len(health.LatencyBoundsMillis)+1)
	counts1[1], counts2[1], counts2[6] = 40, 50, 10
	for i, c := range [][]int64{counts1, counts2} {
		_, err := db.Pool.Exec(ctx, `insert into vendorhub.health_samples (sampled_at, instance, realtime_latency_counts)
			values ($1, 'a', $2)`, from.Add(time.Duration(i+1)*time.Hour), c)
		require.NoError(t, err)
	}
	r, err := report.Build(ctx, db.Pool, from, to, report.Options{})
	require.NoError(t, err)
	require.EqualValues(t, 100, r.RealtimeLatency.N)
	require.InDelta(t, 5+5*(50.0/90), r.RealtimeLatency.P50, 1e-9)
	require.InDelta(t, 250+250*0.5, r.RealtimeLatency.P95, 1e-9)
	require.InDelta(t, 250+250*0.9, r.RealtimeLatency.P99, 1e-9)
}

func TestRenderFormats(t *testing.T) {
	t.Parallel()
	r := &report.Report{From: from, To: to, Deliveries: []report.DeliveryCount{{Channel: "sms", Status: "failed", Count: 3}},
		DeliveryAttempts: 3, NotificationSuccess: report.Rate{Settled: 3, Rate: ptr(0.0)},
		RecentErrors: []report.ErrorRow{{At: from, Source: "webhook", Subject: "https://x", Message: "HTTP 500 | retry"}}}
	var md bytes.Buffer
	require.NoError(t, r.Render(&md, report.FormatMarkdown))
	require.Contains(t, md.String(), "## Deliveries by channel and status")
	require.Contains(t, md.String(), "| sms | failed | 3 |")
	require.Contains(t, md.String(), `HTTP 500 \| retry`, "pipes inside cells are escaped")
	require.Contains(t, md.String(), "| Webhook delivery rate | n/a |")

	var js bytes.Buffer
	require.NoError(t, r.Render(&js, report.FormatJSON))
	var back report.Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, r.Deliveries, back.Deliveries)

	var tbl bytes.Buffer
	require.NoError(t, r.Render(&tbl, report.FormatTable))
	require.Contains(t, tbl.String(), "Notification success rate")
	require.True(t, strings.Contains(tbl.String(), "0.0%"))

	err := r.Render(&tbl, "xml")
	var ufe *report.UnknownFormatError
	require.True(t, errors.As(err, &ufe), "%v", err)
}

func TestBuildRefusesAnEmptyRange(t *testing.T) {
	t.Parallel()
	_, err := report.Build(context.Background(), nil, to, from, report.Options{})
	require.ErrorIs(t, err, report.ErrRange)
}

func ptr(f float64) *float64 { return &f }
