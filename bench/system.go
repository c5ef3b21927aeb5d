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
	"slices"
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
	sysParts      = flag.String("system-parts", "load,notify,replication,webhooks,planner,sockets", "system: parts to run (load: the mix in both publishing modes; notify: single notifications per channel, normal day then surge; replication: vs the pg_recvlogical binary; webhooks: ingress vs a bare handler; planner: hand-off vs multi-row INSERT; sockets: fan-out and idle memory)")
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
	conv      string   // the message's conversation
	to        []string // its recipients: the participants other than the sender
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
//     of the mix's few single notifications per channel; the sidecar's peak RSS; every
//     effect reconciled by id, each recipient-message notified alone or in exactly one digest.
//   - notify (system_notify.go): single notifications as real users produce them (two-person
//     chats, each message its recipient's first in the conversation) at a normal day, then a
//     20× surge of 500 messages/s: commit → provider receipt per channel against the goal
//     (≤ 250 ms p99, the provider's injected latency excluded), reconciled per message.
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
	if strings.Contains(*sysParts, "notify") {
		if err := sysNotifyRun(ctx, env, bin); err != nil {
			run.Fail("notify: %v", err)
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
	began := time.Now()
	arrivals, lateness, failedWrites, err := nbOpenLoop(ctx, db.URL, phases, func(ctx context.Context, pool *pgxpool.Pool, i int) arrival {
		return sysArrive(ctx, pool, ws, i)
	})
	if err != nil {
		return err
	}
	loadElapsed := time.Since(began)
	peakRSS, _ := peakRSSMiB(sc.cmd.Process.Pid)
	env.Logf("store %s: %d arrivals in %s (generator at most %s behind schedule, %d failed writes)", store, len(arrivals),
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
	return sysNotifications(ctx, env, db.Pool, fakes, arrivals, phases, ws, &floor.lsn)
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
	a.conv, a.to = wd.chats[v], []string{wd.couple}
	sender := wd.vendors[v]
	switch {
	case i%5 == 1:
		a.conv, a.to = wd.group, append([]string{wd.couple}, slices.Delete(slices.Clone(wd.vendors), v, v+1)...) // couple + 29 other vendors
	case i%2 == 0:
		sender, a.to = wd.couple, []string{wd.vendors[v]}
	}
	var err error
	a.messageID, a.committed, err = nbSend(ctx, pool, a.conv, sender, "bench-"+strconv.Itoa(i))
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

// sysNotifications reports the mix's notifications: commit → provider receipt of the few
// single-message notifications per phase and channel (most of the mix's messages land inside
// their recipients' anti-spam windows and go out in digests: part notify measures single
// notifications), every recipient-message reconciled per message, and provider sends per
// notification.
func sysNotifications(ctx context.Context, env *Env, pool *pgxpool.Pool, fakes *nbFakes, arrivals []arrival, phases []load.Phase, ws []nbWedding, lsn *lsnTracker) error {
	// Only the bench weddings count (the seed holds demo notifications of its own).
	var weddings []string
	for _, w := range ws {
		weddings = append(weddings, w.id)
	}
	receipts := nbReceipts(fakes)
	for _, p := range phases {
		fromCommit, fromSchedule := nbLatency(arrivals, receipts, p.Name)
		for _, ch := range nbChannels {
			if n := len(fromCommit[ch].Sorted()); n > 0 {
				l := latency("notify.mix_"+p.Name+"."+ch, "commit → request reached the fake (before its injected latency)", fromCommit[ch].Sorted())
				env.Run.AddLatency(latency(l.Name, "scheduled send → request reached the fake (before its injected latency)", fromSchedule[ch].Sorted()))
				env.Run.AddLatency(l)
				env.Logf("notify mix %s %s: %d single notifications, p50 %.0f p99 %.0f ms from the commit", p.Name, ch, n, l.P50, l.P99)
			}
		}
	}
	if _, err := sysReconcileNotices(ctx, env, pool, "notifications of the mix", arrivals, lsn.get, weddings); err != nil {
		return err
	}
	return sysProviderSends(ctx, env, pool, fakes, weddings, "notifications of the mix")
}

// walFloor is the WAL floor: a bare logical-replication client on a temporary slot of its own,
// stamping each message.created event as it arrives.
type walFloor struct {
	tally load.Tally
	at    sync.Map   // message id → receipt time
	lsn   lsnTracker // message id → commit LSN of its transaction
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
	var commitLSN uint64 // of the transaction being decoded
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
			if b, ok := m.(*pglogrepl.BeginMessage); ok {
				commitLSN = uint64(b.FinalLSN)
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
					if lm.Transactional {
						f.lsn.set(ev.Data.MessageID, commitLSN)
					} else {
						f.lsn.set(ev.Data.MessageID, uint64(lm.LSN))
					}
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
