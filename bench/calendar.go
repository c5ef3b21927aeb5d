package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/secret"
)

func init() { register("calendar", benchCalendar) }

// Sizes of the calendar benchmark.
const (
	benchVendors        = 40   // vendors connected to the wedding
	benchBlocksPerDay   = 2    // calendar entries per vendor per day, over a year
	benchBookingsPerVen = 60   // CRM bookings per vendor over the year
	benchQueries        = 2000 // availability queries measured
	benchSyncEvents     = 5000 // events in the synced calendar
)

// benchCalendar measures:
//   - calendar.availability_p99_ms (and _p50_ms): public.vendor_availability for a wedding with
//     40 connected vendors, each with a year of calendar entries (2 a day) and 60 bookings,
//     called as the couple (RLS on), over random ranges of 1-12 hours across the year; goal
//     p99 ≤ 20 ms.
//   - calendar.sync_events_per_s: a full Google Calendar sync through the SDK against the fake
//     (250 events a page, bearer tokens from the real refresher), written to
//     availability_blocks (upsert, conflict re-check and availability.changed per block);
//     calendar.sync_graph_events_per_s the same through Graph delta (50 a page).
func benchCalendar(ctx context.Context, env *Env) error {
	if err := benchAvailability(ctx, env); err != nil {
		return err
	}
	return benchSync(ctx, env)
}

func benchAvailability(ctx context.Context, env *Env) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	pool := db.Pool
	year := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var wedding, couple string
	err = pool.QueryRow(ctx, `with w as (insert into public.weddings (title, wedding_date, timezone) values ('Bench wedding', '2027-06-12', 'Europe/London') returning id),
u as (insert into auth.users (id, email) values (gen_random_uuid(), 'bench-couple@example.com') returning id),
c as (insert into public.wedding_couples (wedding_id, user_id) select w.id, u.id from w, u returning wedding_id, user_id)
select wedding_id::text, user_id::text from c`).Scan(&wedding, &couple)
	if err != nil {
		return err
	}
	began := time.Now()
	// Vendors, connected; then a year of entries per vendor, one statement per vendor.
	rows, err := pool.Query(ctx, `insert into public.vendors (name, kind, timezone, buffer_before, buffer_after)
select 'Bench vendor ' || g, 'photographer', 'Europe/London', interval '1 hour', interval '30 minutes' from generate_series(1, $1) g returning id::text`, benchVendors)
	if err != nil {
		return err
	}
	vendors, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for i, v := range vendors {
		if _, err := pool.Exec(ctx, `insert into public.wedding_vendors (wedding_id, vendor_id, status) values ($1, $2, $3)`,
			wedding, v, []string{"inquiry", "proposal", "booked"}[i%3]); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, `insert into public.availability_blocks (vendor_id, source, external_id, starts_at, ends_at)
select $1, 'google', 'bench-' || d || '-' || k,
       $2::timestamptz + make_interval(days => d, hours => 8 + 6 * k + (d % 3)),
       $2::timestamptz + make_interval(days => d, hours => 10 + 6 * k + (d % 3))
from generate_series(0, 364) d, generate_series(0, $3 - 1) k`, v, year, benchBlocksPerDay); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, `insert into public.bookings (vendor_id, source, external_id, starts_at, ends_at, status)
select $1, 'dubsado', 'bench-' || b, $2::timestamptz + make_interval(days => b * 6, hours => 12),
       $2::timestamptz + make_interval(days => b * 6, hours => 23), 'booked'
from generate_series(0, $3 - 1) b`, v, year, benchBookingsPerVen); err != nil {
			return err
		}
	}
	if _, err := pool.Exec(ctx, `analyze public.availability_blocks; analyze public.bookings; analyze public.wedding_vendors`); err != nil {
		return err
	}
	var blocks int
	if err := pool.QueryRow(ctx, `select count(*) from public.availability_blocks`).Scan(&blocks); err != nil {
		return err
	}
	env.Logf("loaded %d vendors, %d blocks, %d bookings in %.1fs", len(vendors), blocks, len(vendors)*benchBookingsPerVen, time.Since(began).Seconds())

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	claims := fmt.Sprintf(`{"sub": %q, "role": "authenticated", "aud": "authenticated"}`, couple)
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, benchQueries)
	for i := range benchQueries + 100 {
		from := year.Add(time.Duration(rng.IntN(364*24)) * time.Hour)
		to := from.Add(time.Duration(1+rng.IntN(12)) * time.Hour)
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)`, claims); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		start := time.Now()
		rows, err := tx.Query(ctx, `select vendor_id, free from public.vendor_availability($1, $2, $3)`, wedding, from, to)
		if err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		d := time.Since(start)
		_ = tx.Rollback(ctx)
		if rows.Err() != nil {
			return rows.Err()
		}
		if n != benchVendors {
			return fmt.Errorf("vendor_availability returned %d vendors, want %d", n, benchVendors)
		}
		if i >= 100 { // warm-up excluded
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	env.Record("calendar.availability_p50_ms", pct(0.50))
	env.Record("calendar.availability_p99_ms", pct(0.99))
	return nil
}

func benchSync(ctx context.Context, env *Env) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	pool := db.Pool
	keyring, err := secret.NewKeyring(secret.Key{ID: "bench", Material: secret.GenerateKey()})
	if err != nil {
		return err
	}
	g, graph := providerfake.NewGoogleCalendar(), providerfake.NewGraph()
	defer g.Close()
	defer graph.Close()
	g.RequireAuth, graph.RequireAuth = true, true
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range benchSyncEvents {
		s := start.Add(time.Duration(i) * 2 * time.Hour)
		g.Put("primary", providerfake.GoogleEvent{ID: fmt.Sprintf("g%05d", i), Start: s, End: s.Add(time.Hour)})
		graph.Put(providerfake.GraphEvent{ID: fmt.Sprintf("o%05d", i), Start: s, End: s.Add(time.Hour)})
	}
	var vendor string
	if err := pool.QueryRow(ctx, `insert into public.vendors (name, kind, timezone) values ('Sync bench', 'photographer', 'UTC') returning id::text`).Scan(&vendor); err != nil {
		return err
	}
	newConn := func(kind integration.Kind, rt string) (string, error) {
		var id string
		if err := pool.QueryRow(ctx, `insert into public.integration_connections (vendor_id, kind, display_name) values ($1, $2, 'bench') returning id::text`,
			vendor, string(kind)).Scan(&id); err != nil {
			return "", err
		}
		return id, integration.WriteCredential(ctx, keyring, pool, id, integration.Credential{RefreshToken: rt})
	}
	gconn, err := newConn(integration.GoogleCalendar, g.Tokens.IssueRefreshToken())
	if err != nil {
		return err
	}
	oconn, err := newConn(integration.Outlook, graph.Tokens.IssueRefreshToken())
	if err != nil {
		return err
	}
	tokens := &oauth.Refresher{Pool: pool, Keyring: keyring, Providers: map[integration.Kind]*oauth2.Config{
		integration.GoogleCalendar: {ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: g.TokenURL()}},
		integration.Outlook:        {ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: graph.TokenURL()}},
	}}
	syncer := &calendar.Syncer{Pool: pool, Sources: map[integration.Kind]calendar.Source{
		integration.GoogleCalendar: &google.Source{Endpoint: g.Endpoint(), Tokens: tokens},
		integration.Outlook: &outlook.Source{BaseURL: graph.BaseURL(), Tokens: tokens,
			Now: func() time.Time { return start }, WindowFuture: 3 * 365 * 24 * time.Hour},
	}}
	for _, c := range []struct {
		name, conn string
	}{{"calendar.sync_events_per_s", gconn}, {"calendar.sync_graph_events_per_s", oconn}} {
		began := time.Now()
		res, err := syncer.Sync(ctx, c.conn)
		if err != nil {
			return err
		}
		elapsed := time.Since(began)
		if res.Created != benchSyncEvents {
			return fmt.Errorf("%s: created %d blocks, want %d", c.name, res.Created, benchSyncEvents)
		}
		env.Logf("%s: %d events in %.2fs", c.name, res.Created, elapsed.Seconds())
		env.Record(c.name, float64(res.Created)/elapsed.Seconds())
	}
	return nil
}
