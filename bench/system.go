package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/bench/load"
	"github.com/wedsync/vendorhub/bench/results"
	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

func init() { register("system", benchSystem) }

// Shape of the system run. A normal day, then the final-week surge at 20× its rate.
var (
	sysNormalRate = flag.Float64("system-normal-rate", 50, "system: arrivals per second of a normal day")
	sysFor        = flag.Duration("system-for", 60*time.Second, "system: duration of each phase (normal, surge)")
	sysParts      = flag.String("system-parts", "load,replication,webhooks,planner,sockets", "system: parts to run (load: the mix in both publishing modes; replication: vs the pg_recvlogical binary; webhooks: ingress vs a bare handler; planner: hand-off vs multi-row INSERT; sockets: fan-out and idle memory)")
	sysWeddings   = flag.Int("system-weddings", 20, "system: weddings of 30 vendors the mix writes into")
)

const sysSurgeFactor = 20

// sysFakeLatency is the injected latency of each provider fake (see docs/benchmarks.md).
var sysFakeLatency = map[string]providerfake.Latency{
	"fcm":    {Min: 30 * time.Millisecond, Max: 150 * time.Millisecond},
	"resend": {Min: 80 * time.Millisecond, Max: 300 * time.Millisecond},
	"twilio": {Min: 100 * time.Millisecond, Max: 400 * time.Millisecond},
}

// arrival is what one scheduled arrival wrote.
type arrival struct {
	phase     string
	scheduled time.Time
	committed time.Time // clock_timestamp() of the writing statement, just before its commit
	kind      string    // "message" or "status"
	wedding   int
	messageID string
	recips    int // participants other than the sender
	ok        bool
}

// benchSystem runs the `vendorhub` binary as shipped (`vendorhub run`, default configuration,
// every stage, embedded gateway; given only its database, slot name, keys and provider
// endpoints) and records each headline figure against a floor measured in the same run:
//
//   - load: an open-loop mix (package load) at a normal-day rate, then a 20× surge, against
//     provider fakes with injected latency (sysFakeLatency), for VENDORHUB_REALTIME_STORE=on
//     (default) and off (surge only): commit → supabase-js callback vs commit → receipt by a
//     bare pglogrepl client on a second, temporary slot (walFloor); commit → provider receipt
//     per channel; the sidecar's peak RSS; every effect reconciled by id.
//   - replication (replication_floor.go): a backlog drained by the pg_recvlogical binary, the
//     sidecar, and pg_recvlogical again: events/s and CPU µs/event of client and walsender.
//   - planner (planner_floor.go): the planner's hand-off vs the same rows written with plain
//     multi-row INSERTs.
//   - sockets (sockets.go): fan-out to 5,000 private subscribers vs 5,000 bare WebSocket
//     sockets; RSS with 10,000 idle private-channel sockets.
func benchSystem(ctx context.Context, env *Env) error {
	raiseNoFile(env)
	bin, err := buildVendorhub(ctx)
	if err != nil {
		return err
	}
	run := env.Run
	normal := load.Phase{Name: "normal", Rate: *sysNormalRate, For: *sysFor}
	surge := load.Phase{Name: "surge", Rate: *sysNormalRate * sysSurgeFactor, For: *sysFor}
	run.Workload = append(run.Workload,
		fmt.Sprintf("%d weddings of 30 vendors (couple, one member per vendor, a group chat of all, one couple↔vendor chat per vendor), added to the seed", *sysWeddings),
		"mix per arrival: 5 % vendor status changes (wedding_vendors), 19 % group-chat messages (from a vendor), 76 % couple↔vendor chat messages (alternating sender); one transaction each",
		fmt.Sprintf("open loop: normal day %.0f arrivals/s for %s, then surge %.0f arrivals/s (%d×) for %s; each arrival issued at its scheduled time on its own goroutine (writer pool of 64 connections), never skipped",
			normal.Rate, normal.For, surge.Rate, sysSurgeFactor, surge.For),
		"receivers: one supabase-js client per wedding (its couple, user JWT), subscribed to the wedding's 31 private conversation channels",
		"headline latencies are timed from the commit (clock_timestamp() as the writing statement ends, just before its commit) to the effect, for the sidecar and its floor alike; the distributions from each arrival's scheduled time (open loop: the load client's own queueing included) are listed too")

	for _, mode := range []string{"on", "off"} {
		if !strings.Contains(*sysParts, "load") {
			break
		}
		phases := []load.Phase{normal, surge}
		if mode == "off" {
			phases = []load.Phase{surge} // the second publishing mode: the surge load only
		}
		if err := sysRun(ctx, env, bin, mode, phases); err != nil {
			return fmt.Errorf("realtime store %s: %w", mode, err)
		}
	}
	if strings.Contains(*sysParts, "replication") {
		if err := sysReplication(ctx, env, bin); err != nil {
			run.Fail("replication: %v", err)
		}
	}
	if strings.Contains(*sysParts, "webhooks") {
		if err := sysWebhooks(ctx, env, bin); err != nil {
			run.Fail("webhooks: %v", err)
		}
	}
	if strings.Contains(*sysParts, "planner") {
		if err := sysPlanner(ctx, env); err != nil {
			run.Fail("planner: %v", err)
		}
	}
	if strings.Contains(*sysParts, "sockets") {
		if err := sysSocketsRun(ctx, env, bin); err != nil {
			run.Fail("sockets: %v", err)
		}
	}
	run.NotDone("inbound webhooks and bookings inside the mix (ingress is measured on its own, part webhooks); outbound webhook deliveries to vendor receivers and their webhook-id reconciliation; Google/Graph calendar traffic: not part of the system run yet")
	run.NotDone("availability RPC over HTTP (JWT, role switch) vs the bare SQL: `vendorhub run` serves no RPC (PostgREST does, in Supabase); stage.calendar.availability_* measures the SQL function as the couple only")
	return nil
}

// sysKeys is all the sidecar is given besides provider endpoints: its database, slot name
// (one per database; the bench's databases share a cluster), the gateway switch, the JWT
// secret of the minted tokens and an encryption key.
func sysKeys(dbURL, slot string) []string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return []string{"DATABASE_URL=" + dbURL, "VENDORHUB_SLOT=" + slot, "VENDORHUB_GATEWAY=on",
		"SUPABASE_JWT_SECRET=" + auth.DevJWTSecret, "VENDORHUB_ENCRYPTION_KEYS=bench:" + base64.StdEncoding.EncodeToString(key)}
}

// sysSocketsRun starts a fresh sidecar (defaults) on a fresh database with one wedding of 30
// vendors, and measures fan-out and idle memory on its group chat.
func sysSocketsRun(ctx context.Context, env *Env, bin string) error {
	db, err := env.NewDB(ctx, true)
	if err != nil {
		return err
	}
	ws, err := nbFixture(ctx, db.Pool, 1, notifyVendors)
	if err != nil {
		return err
	}
	sc, err := startSidecar(ctx, bin, sysKeys(db.URL, "bench_system_sockets"))
	if err != nil {
		return err
	}
	defer sc.stop()
	var tokens []string
	for _, u := range append([]string{ws[0].couple}, ws[0].vendors...) {
		tok, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: u, TTL: 2 * time.Hour})
		if err != nil {
			return err
		}
		tokens = append(tokens, tok)
	}
	return sysSockets(ctx, env, sc, "conversation:"+ws[0].group, tokens)
}

// sysRun is one sidecar lifetime: fixture, fakes, sidecar, WAL floor, receivers, load, drain,
// figures and reconciliation.
func sysRun(ctx context.Context, env *Env, bin, store string, phases []load.Phase) error {
	run := env.Run
	db, err := env.NewDB(ctx, true)
	if err != nil {
		return err
	}
	ws, err := nbFixture(ctx, db.Pool, *sysWeddings, notifyVendors)
	if err != nil {
		return err
	}
	// Every third vendor member also wants new messages by SMS.
	var smsUsers []string
	for _, w := range ws {
		for i := 0; i < len(w.vendors); i += 3 {
			smsUsers = append(smsUsers, w.vendors[i])
		}
	}
	for _, q := range []string{
		`update public.notification_settings set phone = '+1415' || lpad((abs(hashtext(user_id::text)) % 10000000)::text, 7, '0') where user_id = any($1::uuid[])`,
		`insert into public.notification_preferences (user_id, category, channel, enabled) select u, 'new_message', 'sms', true from unnest($1::uuid[]) u`,
	} {
		if _, err := db.Pool.Exec(ctx, q, smsUsers); err != nil {
			return fmt.Errorf("sms fixture: %w", err)
		}
	}
	fakes := newNBFakes()
	defer fakes.close()
	fakes.fcm.SetLatency(sysFakeLatency["fcm"])
	fakes.resend.SetLatency(sysFakeLatency["resend"])
	fakes.twilio.SetLatency(sysFakeLatency["twilio"])

	cfg := append(sysKeys(db.URL, "bench_system_"+store), fakes.env()...)
	if store == "off" {
		cfg = append(cfg, "VENDORHUB_REALTIME_STORE=off")
	}
	sc, err := startSidecar(ctx, bin, cfg)
	if err != nil {
		return err
	}
	defer sc.stop()
	if store == "on" {
		run.Configuration = map[string]string{}
		for _, kv := range cfg {
			k, v, _ := strings.Cut(kv, "=")
			switch {
			case k == "DATABASE_URL" || strings.HasSuffix(k, "_ENDPOINT") || strings.HasSuffix(k, "_BASE_URL"):
				v = "<local>"
			case strings.Contains(k, "KEY") || strings.Contains(k, "SECRET") || strings.Contains(k, "TOKEN"):
				v = "<set>"
			}
			run.Configuration[k] = v
		}
		run.Configuration["VENDORHUB_HTTP_ADDR"] = "<free port>"
	}

	// WAL floor: a bare pglogrepl client on a second, temporary slot.
	floor := &walFloor{}
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	floorReady := make(chan error, 1)
	go func() { floorReady <- floor.run(fctx, db.URL, floorReadyFn(floorReady)) }()
	if err := <-floorReady; err != nil {
		return fmt.Errorf("wal floor: %w", err)
	}

	// supabase-js receivers: one client per wedding (its couple) on all its conversations.
	type nodeClient struct {
		Token         string   `json:"token"`
		Conversations []string `json:"conversations"`
	}
	var ncs []nodeClient
	for _, w := range ws {
		tok, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: w.couple, Email: "couple-" + w.couple + "@example.com", TTL: 2 * time.Hour})
		if err != nil {
			return err
		}
		ncs = append(ncs, nodeClient{tok, append([]string{w.group}, w.chats...)})
	}
	rt := &load.Tally{}
	rtAt := sync.Map{} // "c/id" → first receipt time
	stopNode, err := startReceivers(ctx, "http://"+sc.addr, ncs, func(c int, id string, at time.Time) {
		k := strconv.Itoa(c) + "/" + id
		rt.See(k)
		rtAt.LoadOrStore(k, at)
	})
	if err != nil {
		return err
	}
	defer stopNode()
	env.Logf("store %s: sidecar ready, WAL floor on a temporary slot, %d supabase-js clients subscribed", store, len(ncs))

	// Load.
	pcfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		return err
	}
	pcfg.MaxConns = 64
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	offsets := load.Arrivals(phases...)
	phaseOf := func(i int) string {
		n := 0
		for _, p := range phases {
			n += int(math.Round(p.Rate * p.For.Seconds()))
			if i < n {
				return p.Name
			}
		}
		return phases[len(phases)-1].Name
	}
	arrivals := make([]arrival, len(offsets))
	var writeErrs sync.Map
	var peakRSS float64
	began := time.Now()
	lateness := load.Run(ctx, began.Add(100*time.Millisecond), offsets, func(ctx context.Context, a load.Arrival) {
		ar := sysArrive(ctx, pool, ws, a.Index)
		ar.phase, ar.scheduled = phaseOf(a.Index), a.Scheduled
		if !ar.ok {
			writeErrs.Store(a.Index, true)
		}
		arrivals[a.Index] = ar
	})
	loadElapsed := time.Since(began)
	peakRSS, _ = peakRSSMiB(sc.cmd.Process.Pid)
	failedWrites := 0
	writeErrs.Range(func(_, _ any) bool { failedWrites++; return true })
	env.Logf("store %s: %d arrivals in %s (generator at most %s behind schedule, %d failed writes)", store, len(offsets),
		loadElapsed.Round(time.Millisecond), lateness.Round(time.Millisecond), failedWrites)
	if failedWrites > 0 {
		run.Fail("store %s: %d arrivals failed to write", store, failedWrites)
	}

	// Expected realtime receipts: each message by the couple client of its wedding.
	var wantRT, wantFloor []string
	for _, a := range arrivals {
		if a.ok && a.kind == "message" {
			wantRT = append(wantRT, strconv.Itoa(a.wedding)+"/"+a.messageID)
			wantFloor = append(wantFloor, a.messageID)
		}
	}
	// Receipts drain: until all arrived, or none for 15 s, at most 3 min.
	drain, last, lastAt := time.Now().Add(3*time.Minute), -1, time.Now()
	for (rt.Total() < len(wantRT) || floor.tally.Total() < len(wantFloor)) && time.Now().Before(drain) && time.Since(lastAt) < 15*time.Second {
		if n := rt.Total() + floor.tally.Total(); n != last {
			last, lastAt = n, time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Notifications (measured in the default mode only): drained when no notify job is due.
	if store == "on" {
		if err := sysDrainNotify(ctx, db.Pool, 4*time.Minute); err != nil {
			run.Fail("store %s: %v", store, err)
		}
	}

	// Latency: realtime and floor, per phase, from the scheduled time and from the commit.
	byID := map[string]*arrival{}
	for i := range arrivals {
		if arrivals[i].ok && arrivals[i].kind == "message" {
			byID[arrivals[i].messageID] = &arrivals[i]
		}
	}
	prefix := "realtime_store_" + store
	for _, p := range phases {
		var rtSched, rtCommit, flSched, flCommit load.Samples
		rtAt.Range(func(k, v any) bool {
			_, id, _ := strings.Cut(k.(string), "/")
			if a := byID[id]; a != nil && a.phase == p.Name {
				rtSched.Add(v.(time.Time).Sub(earlier(a.scheduled, a.committed)))
				rtCommit.Add(v.(time.Time).Sub(a.committed))
			}
			return true
		})
		floor.at.Range(func(k, v any) bool {
			if a := byID[k.(string)]; a != nil && a.phase == p.Name {
				flSched.Add(v.(time.Time).Sub(earlier(a.scheduled, a.committed)))
				flCommit.Add(v.(time.Time).Sub(a.committed))
			}
			return true
		})
		name := fmt.Sprintf("%s.%s_%.0f_per_s", prefix, p.Name, p.Rate)
		rtL := latency(name+".supabase_js", "scheduled send", rtSched.Sorted())
		flL := latency(name+".wal_floor", "scheduled send", flSched.Sorted())
		run.AddLatency(rtL)
		run.AddLatency(flL)
		run.AddLatency(latency(name+".supabase_js", "commit", rtCommit.Sorted()))
		run.AddLatency(latency(name+".wal_floor", "commit", flCommit.Sorted()))
		rtC, flC := latency(name+".supabase_js", "commit", rtCommit.Sorted()), latency(name+".wal_floor", "commit", flCommit.Sorted())
		run.Add(results.NewFigure(name+".p99", rtC.P99, "ms", "commit → receipt by a pglogrepl client on a second slot, p99", flC.P99,
			&results.Goal{Of: "ratio", AtMost: true, Limit: 3}, "commit → supabase-js callback through the sidecar, all stages on"))
		env.Logf("store %s %s: from commit: supabase-js p50 %.1f p99 %.1f ms (%d); WAL floor p50 %.1f p99 %.1f ms (%d); from schedule: p99 %.1f vs %.1f ms", store, p.Name,
			rtC.P50, rtC.P99, rtC.Samples, flC.P50, flC.P99, flC.Samples, rtL.P99, flL.P99)
	}
	lost, dup, unexpected := load.Reconcile(wantRT, rt)
	run.AddReconciliation(results.Reconciliation{Name: fmt.Sprintf("realtime store %s: supabase-js receipts per client (message id)", store),
		Expected: len(wantRT), Lost: lost, Duplicated: dup + unexpected})
	lost, dup, unexpected = load.Reconcile(wantFloor, &floor.tally)
	run.AddReconciliation(results.Reconciliation{Name: fmt.Sprintf("store %s: WAL floor receipts (message id)", store),
		Expected: len(wantFloor), Lost: lost, Duplicated: dup + unexpected})

	if store != "on" {
		return nil
	}
	run.Add(results.NewFigure("notify.surge_peak_rss", peakRSS, "MiB", "", 0, &results.Goal{Of: "value", AtMost: true, Limit: 256},
		"peak resident set (VmHWM) of the sidecar through the normal day and the surge"))
	return sysNotifications(ctx, env, db.Pool, fakes, arrivals, ws)
}

// earlier returns the earlier of two times (latency starts at the scheduled time or the
// commit, whichever came first).
func earlier(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

func latency(name, origin string, sorted []float64) results.Latency {
	l := results.Latency{Name: name, Origin: origin, Samples: len(sorted)}
	if len(sorted) > 0 {
		l.P50, l.P90, l.P99 = load.Percentile(sorted, 0.5), load.Percentile(sorted, 0.9), load.Percentile(sorted, 0.99)
		l.P999, l.Max = load.Percentile(sorted, 0.999), sorted[len(sorted)-1]
	}
	return l
}

// sysArrive writes arrival i of the mix: every 20th a vendor status change, then of the
// messages one in five into the wedding's group chat (from a vendor), the rest into a
// couple↔vendor chat (sender alternating). Message bodies are "bench-<i>".
func sysArrive(ctx context.Context, pool *pgxpool.Pool, ws []nbWedding, i int) arrival {
	w := i % len(ws)
	wd := ws[w]
	v := (i / len(ws)) % len(wd.vendors)
	a := arrival{wedding: w, kind: "message"}
	if i%20 == 0 {
		a.kind = "status"
		status := []string{"booked", "confirmed"}[(i/20)%2]
		err := pool.QueryRow(ctx, `update public.wedding_vendors set status = $3
where wedding_id = $1 and vendor_id = (select vendor_id from public.vendor_members where user_id = $2 limit 1)
returning clock_timestamp()`, wd.id, wd.vendors[v], status).Scan(&a.committed)
		a.ok = err == nil
		return a
	}
	conv, sender, recips := wd.chats[v], wd.vendors[v], 1
	switch {
	case i%5 == 1:
		conv, recips = wd.group, len(wd.vendors) // couple + 29 other vendors
	case i%2 == 0:
		sender = wd.couple
	}
	a.recips = recips
	err := pool.QueryRow(ctx, `insert into public.messages (conversation_id, sender_id, body) values ($1, $2, $3)
returning id::text, clock_timestamp()`, conv, sender, "bench-"+strconv.Itoa(i)).Scan(&a.messageID, &a.committed)
	a.ok = err == nil
	return a
}

// sysDrainNotify waits until no notification job is left that is due within the next 90 s
// (digests wait for a minute of quiet after the load stops; jobs due later stay pending and
// their messages count as held).
func sysDrainNotify(ctx context.Context, pool *pgxpool.Pool, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var open int
		if err := pool.QueryRow(ctx, `select count(*) from river.river_job where queue = $1 and state not in ($2, $3, $4) and scheduled_at <= now() + interval '90 seconds'`,
			notify.Queue, rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded).Scan(&open); err != nil {
			return err
		}
		if open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("notifications not drained in %s: %d jobs due", within, open)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sysNotifications reports commit → provider receipt per channel for the surge, and
// reconciles recipient-messages and provider sends.
func sysNotifications(ctx context.Context, env *Env, pool *pgxpool.Pool, fakes *nbFakes, arrivals []arrival, ws []nbWedding) error {
	run := env.Run
	// Only the bench weddings count (the seed holds demo notifications of its own).
	var weddings, threads []string
	for _, w := range ws {
		weddings = append(weddings, w.id)
		for _, c := range append([]string{w.group}, w.chats...) {
			threads = append(threads, "conversation:"+c)
		}
	}
	// Provider receipts of single-message notifications carry the message body "bench-<i>".
	for _, c := range []struct {
		name string
		rec  *providerfake.Recorder
		tag  func([]byte) string
	}{
		{"push", &fakes.fcm.Recorder, func(b []byte) string {
			var m struct {
				Message struct {
					Notification struct{ Body string } `json:"notification"`
				} `json:"message"`
			}
			_ = json.Unmarshal(b, &m)
			return m.Message.Notification.Body
		}},
		{"email", &fakes.resend.Recorder, func(b []byte) string {
			var m struct{ Text string }
			_ = json.Unmarshal(b, &m)
			return m.Text
		}},
		{"sms", &fakes.twilio.Recorder, func(b []byte) string {
			v, _ := url.ParseQuery(string(b))
			return strings.TrimPrefix(v.Get("Body"), "New message: ")
		}},
	} {
		var s, fromCommit load.Samples
		for _, r := range c.rec.Requests() {
			body := c.tag(r.Body)
			k := strings.Index(body, "bench-")
			if k < 0 {
				continue
			}
			i, err := strconv.Atoi(strings.TrimRightFunc(body[k+len("bench-"):], func(r rune) bool { return r < '0' || r > '9' }))
			if err != nil || i < 0 || i >= len(arrivals) || arrivals[i].phase != "surge" {
				continue
			}
			s.Add(r.At.Sub(earlier(arrivals[i].scheduled, arrivals[i].committed)))
			fromCommit.Add(r.At.Sub(arrivals[i].committed))
		}
		run.AddLatency(latency("notify.surge."+c.name, "scheduled send → request reached the fake (before its injected latency)", s.Sorted()))
		l := latency("notify.surge."+c.name, "commit → request reached the fake (before its injected latency)", fromCommit.Sorted())
		run.AddLatency(l)
		if l.Samples == 0 {
			run.NotDone("notify." + c.name + ": no single-message " + c.name + " notification reached its fake during the surge (the planner chose other channels for every recipient)")
			continue
		}
		run.Add(results.NewFigure("notify.surge."+c.name+".p99_minus_injected", l.P99, "ms", "", 0,
			&results.Goal{Of: "value", AtMost: true, Limit: 250}, "commit → provider receipt, the request's own injected latency excluded"))
		env.Logf("notify %s: %d receipts in the surge, p50 %.0f p99 %.0f ms", c.name, l.Samples, l.P50, l.P99)
	}

	// Recipient-messages: each is notified alone, counted in a sent digest, or held for one.
	want := 0
	for _, a := range arrivals {
		if a.ok && a.kind == "message" {
			want += a.recips
		}
	}
	var alone, digested, held int
	if err := pool.QueryRow(ctx, `select
  (select count(*) from public.notifications where data->>'event_type' = 'message.created' and wedding_id = any($1::uuid[])),
  (select coalesce(sum((data->>'messages')::int), 0) from public.notifications where data->>'event_type' = 'digest' and wedding_id = any($1::uuid[])),
  (select coalesce(sum(pending_count), 0) from vendorhub.notify_threads where thread = any($2::text[]))`, weddings, threads).Scan(&alone, &digested, &held); err != nil {
		return err
	}
	got := alone + digested + held
	run.AddReconciliation(results.Reconciliation{Name: fmt.Sprintf("notifications: recipient-messages notified alone (%d), in digests (%d) or held for a digest (%d), by count", alone, digested, held),
		Expected: want, Lost: max(0, want-got), Duplicated: max(0, got-want)})

	// Provider sends by notification id: every notification reached a provider, none twice
	// on the same channel.
	rows, err := pool.Query(ctx, `select n.id::text, coalesce(d.provider, ''), coalesce(d.provider_id, '')
from public.notifications n left join public.deliveries d on d.notification_id = n.id and d.provider_id is not null
where n.wedding_id = any($1::uuid[])`, weddings)
	if err != nil {
		return err
	}
	var ids []string
	byProviderID := map[string]string{}
	seenID := map[string]bool{}
	for rows.Next() {
		var id, prov, pid string
		if err := rows.Scan(&id, &prov, &pid); err != nil {
			return err
		}
		if !seenID[id] {
			seenID[id] = true
			ids = append(ids, id)
		}
		if pid != "" {
			byProviderID[prov+"/"+pid] = id
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	sends := &load.Tally{}
	perNotification := map[string]bool{}
	note := func(id, ch string) {
		sends.See(id + "/" + ch)
		perNotification[id] = true
	}
	for _, m := range fakes.fcm.Sent() {
		note(m.Data["notification_id"], "push")
	}
	for _, m := range fakes.resend.Sent() {
		if id, ok := byProviderID["resend/"+m.ID]; ok {
			note(id, "email")
		} else {
			sends.See("unmatched-email/" + m.ID)
		}
	}
	for _, m := range fakes.twilio.Sent() {
		if id, ok := byProviderID["twilio/"+m.SID]; ok {
			note(id, "sms")
		} else {
			sends.See("unmatched-sms/" + m.SID)
		}
	}
	var lostIDs []string
	for _, id := range ids {
		if !perNotification[id] {
			lostIDs = append(lostIDs, id)
		}
	}
	lost := len(lostIDs)
	if lost > 0 {
		var why string
		_ = pool.QueryRow(ctx, `select coalesce(string_agg(format('%s %s %s %s', n.category, d.channel, d.status, coalesce(d.error_code, '')), '; '), 'no deliveries rows')
from public.notifications n left join public.deliveries d on d.notification_id = n.id where n.id = any($1::uuid[])`, lostIDs[:min(5, lost)]).Scan(&why)
		env.Logf("notifications without a provider send (first 5): %s", why)
	}
	dup := 0
	sends.Each(func(_ string, n int) {
		if n > 1 {
			dup += n - 1
		}
	})
	run.AddReconciliation(results.Reconciliation{Name: "provider sends per notification id and channel (FCM notification_id; Resend/Twilio provider id → deliveries)",
		Expected: len(ids), Lost: lost, Duplicated: dup})
	env.Logf("notifications: %d rows; %d recipient-messages expected, %d alone + %d digested + %d held; %d FCM, %d Resend, %d Twilio sends",
		len(ids), want, alone, digested, held, len(fakes.fcm.Sent()), len(fakes.resend.Sent()), len(fakes.twilio.Sent()))
	return nil
}

// walFloor is the WAL floor: a bare logical-replication client on a temporary slot of its own,
// stamping each message.created event as it arrives.
type walFloor struct {
	tally load.Tally
	at    sync.Map // message id → receipt time
}

func floorReadyFn(ch chan<- error) func() { return func() { ch <- nil } }

// run connects, creates a temporary pgoutput slot, calls ready, and streams until ctx ends.
func (f *walFloor) run(ctx context.Context, dbURL string, ready func()) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("replication", "database")
	u.RawQuery = q.Encode()
	conn, err := pgconn.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	slot := fmt.Sprintf("bench_floor_%d", time.Now().UnixNano())
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{Temporary: true})
	if err != nil {
		return err
	}
	start, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return err
	}
	if err := pglogrepl.StartReplication(ctx, conn, slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names 'vendorhub'", "messages 'true'"}}); err != nil {
		return err
	}
	ready()
	pos := start
	nextStatus := time.Now()
	for {
		if time.Now().After(nextStatus) {
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: pos}); err != nil {
				return nil
			}
			nextStatus = time.Now().Add(5 * time.Second)
		}
		rctx, cancel := context.WithDeadline(ctx, nextStatus)
		msg, err := conn.ReceiveMessage(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if pgconn.Timeout(err) {
			continue
		}
		if err != nil {
			return err
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			continue
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			if ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:]); err == nil && ka.ReplyRequested {
				nextStatus = time.Now()
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return err
			}
			at := time.Now()
			if xld.WALStart > pos {
				pos = xld.WALStart
			}
			m, err := pglogrepl.Parse(xld.WALData)
			if err != nil {
				continue
			}
			if lm, ok := m.(*pglogrepl.LogicalDecodingMessage); ok && lm.Prefix == "vendorhub" {
				var ev struct {
					Type string `json:"type"`
					Data struct {
						MessageID string `json:"message_id"`
					} `json:"data"`
				}
				if json.Unmarshal(lm.Content, &ev) == nil && ev.Type == "message.created" && ev.Data.MessageID != "" {
					f.tally.See(ev.Data.MessageID)
					f.at.LoadOrStore(ev.Data.MessageID, at)
				}
			}
		}
	}
}

// startSidecar runs `vendorhub run` with env (plus a free VENDORHUB_HTTP_ADDR) and waits for
// /readyz.
func startSidecar(ctx context.Context, bin string, env []string) (*rtSidecar, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	s := &rtSidecar{addr: addr, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "run")
	s.cmd.Env = append(append(sysBaseEnv(), env...), "VENDORHUB_HTTP_ADDR="+addr)
	var log lockedLog
	s.cmd.Stdout, s.cmd.Stderr = &log, &log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("vendorhub run exited: %s", log.String())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("vendorhub run not ready in 90s: %s", log.String())
		}
	}
}

// sysBaseEnv is the bench's own environment without any VENDORHUB_/provider setting, so the
// sidecar runs on its defaults whatever the caller's shell exports.
func sysBaseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "VENDORHUB_") || strings.HasPrefix(k, "SUPABASE_") || strings.HasPrefix(k, "FCM_") ||
			strings.HasPrefix(k, "RESEND_") || strings.HasPrefix(k, "TWILIO_") || k == "DATABASE_URL" || k == "GOMEMLIMIT" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// startReceivers starts the supabase-js receivers and waits until every channel is subscribed;
// got is called for every receipt. The returned stop ends the process.
func startReceivers[C any](ctx context.Context, supabaseURL string, clients []C, got func(c int, id string, at time.Time)) (func(), error) {
	cj, _ := json.Marshal(clients)
	node := exec.CommandContext(ctx, "node", "bench/realtime_receivers.mjs")
	node.Env = append(os.Environ(), "SUPABASE_URL="+supabaseURL, "SUPABASE_ANON_KEY="+auth.DevAnonKey, "CLIENTS="+string(cj))
	stdin, err := node.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := node.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var nodeErr lockedLog
	node.Stderr = &nodeErr
	if err := node.Start(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	stop := func() { stdin.Close(); _ = node.Wait() }
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Ready int     `json:"ready"`
				C     int     `json:"c"`
				ID    string  `json:"id"`
				T     float64 `json:"t"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if line.Ready > 0 {
				close(ready)
				continue
			}
			sec, frac := math.Modf(line.T / 1000)
			got(line.C, line.ID, time.Unix(int64(sec), int64(frac*1e9)))
		}
	}()
	select {
	case <-ready:
		return stop, nil
	case <-time.After(120 * time.Second):
		_ = node.Process.Signal(syscall.SIGTERM)
		stop()
		return nil, errors.New("supabase-js clients not subscribed in 120s: " + nodeErr.String())
	}
}
