package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/bench/load"
	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

func init() { register("notify", benchNotify) }

// Notification benchmarks:
//
//   - notify.planner_decisions_per_s: recipient decisions per second of the planner's whole
//     hand-off (recipient load, thread state, Decide, notification rows with their emit
//     trigger, River jobs), on 200 weddings whose group chats have the couple and 30 vendors,
//     50 messages per hand-off, with a 1 ns window so every decision writes a notification
//     (the worst case); the median of -notify-planner-reps runs (3) of 30,000 decisions each.
//     notify.planner_burst_decisions_per_s: the same messages as bursts of
//     5 per chat with the default window (1 in 5 decisions writes a notification, the rest
//     are held for the digest). notify.decide_per_s is Decide alone, in memory.
//   - notify.{push,email,sms}_p99_ms: `vendorhub run` (stage notify) against the FCM, Resend
//     and Twilio fakes, on the workload of the system run's part notify (nbPairs: one
//     recipient per message, a third per channel, every message the first of its recipient's
//     anti-spam window, so each is its own notification); messages commit open loop at
//     notifyRate per second for notifyFor; latency is commit → the fake received the request.
//   - notify.surge_*: 10,000 messages in 10 s into the couple↔vendor chats of weddings of 30
//     vendors; the sidecar runs with a 2 s window (1 s inactivity, 5 s max wait) so digests
//     settle quickly. lost = messages neither notified nor counted in a digest + notifications
//     never pushed; duplicated = pushes beyond one per notification; peak RSS is the sidecar's.
const (
	notifyRate         = 500
	notifyFor          = 60 * time.Second
	notifySurge        = 10000
	notifySurgeFor     = 10 * time.Second
	notifyVendors      = 30
	notifyPlanWeddings = 200
)

// notifyPlannerOnly skips the sidecar runs (latency, surge), which take minutes: for
// iterating on the planner, `go run ./bench -only notify -notify-planner-only`.
var notifyPlannerOnly = flag.Bool("notify-planner-only", false, "notify: measure only the planner (and Decide)")

// notifyPlannerReps repeats the worst-case planner run (fresh events, each later than the last)
// and records the median: steadier figures on a shared machine.
var notifyPlannerReps = flag.Int("notify-planner-reps", 3, "notify: runs of the worst-case planner measurement (the median is recorded)")

func benchNotify(ctx context.Context, env *Env) error {
	if err := benchPlanner(ctx, env); err != nil {
		return fmt.Errorf("planner: %w", err)
	}
	if *notifyPlannerOnly {
		return nil
	}
	bin, err := buildVendorhub(ctx)
	if err != nil {
		return err
	}
	if err := benchNotifyLatency(ctx, env, bin); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if err := benchNotifySurge(ctx, env, bin); err != nil {
		return fmt.Errorf("surge: %w", err)
	}
	return nil
}

// nbWedding is a benchmark wedding: its couple, one member per vendor, the group chat of all
// of them, and one couple↔vendor chat per vendor.
type nbWedding struct {
	id, couple, group string
	vendors, chats    []string
}

// nbFixture writes n weddings of vendors vendors each, in bulk. Couples have a device and an
// email; vendor members have an email.
func nbFixture(ctx context.Context, pool *pgxpool.Pool, n, vendors int) ([]nbWedding, error) {
	ws := make([]nbWedding, n)
	var users, emails []string
	var devUsers, devTokens []string
	var wIDs []string
	var vIDs, vNames, vmV, vmU []string
	var wvW, wvV []string
	var wcW, wcU []string
	var cIDs, cW []string
	var cpC, cpU []string
	for i := range ws {
		w := &ws[i]
		w.id, w.couple, w.group = uuid.NewString(), uuid.NewString(), uuid.NewString()
		wIDs = append(wIDs, w.id)
		users, emails = append(users, w.couple), append(emails, "couple-"+w.couple+"@example.com")
		devUsers, devTokens = append(devUsers, w.couple), append(devTokens, "bench-token:"+w.couple)
		wcW, wcU = append(wcW, w.id), append(wcU, w.couple)
		cIDs, cW = append(cIDs, w.group), append(cW, w.id)
		cpC, cpU = append(cpC, w.group), append(cpU, w.couple)
		for v := 0; v < vendors; v++ {
			u, vid, chat := uuid.NewString(), uuid.NewString(), uuid.NewString()
			w.vendors, w.chats = append(w.vendors, u), append(w.chats, chat)
			users, emails = append(users, u), append(emails, "vendor-"+u+"@example.com")
			vIDs, vNames = append(vIDs, vid), append(vNames, fmt.Sprintf("Vendor %d", v))
			vmV, vmU = append(vmV, vid), append(vmU, u)
			wvW, wvV = append(wvW, w.id), append(wvV, vid)
			cpC, cpU = append(cpC, w.group), append(cpU, u)
			cIDs, cW = append(cIDs, chat), append(cW, w.id)
			cpC, cpU = append(cpC, chat, chat), append(cpU, w.couple, u)
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(`insert into auth.users (id, email, aud, role, created_at) select u, e, 'authenticated', 'authenticated', now() from unnest($1::uuid[], $2::text[]) x(u, e)`, users, emails)
	batch.Queue(`insert into public.notification_settings (user_id, email) select u, e from unnest($1::uuid[], $2::text[]) x(u, e)`, users, emails)
	batch.Queue(`insert into public.devices (user_id, platform, token) select u, 'android', t from unnest($1::uuid[], $2::text[]) x(u, t)`, devUsers, devTokens)
	batch.Queue(`insert into public.weddings (id, title, wedding_date) select w, 'Bench wedding', '2027-06-12' from unnest($1::uuid[]) w`, wIDs)
	batch.Queue(`insert into public.wedding_couples (wedding_id, user_id) select w, u from unnest($1::uuid[], $2::uuid[]) x(w, u)`, wcW, wcU)
	batch.Queue(`insert into public.vendors (id, name, kind) select v, n, 'photographer' from unnest($1::uuid[], $2::text[]) x(v, n)`, vIDs, vNames)
	batch.Queue(`insert into public.vendor_members (vendor_id, user_id) select v, u from unnest($1::uuid[], $2::uuid[]) x(v, u)`, vmV, vmU)
	batch.Queue(`insert into public.wedding_vendors (wedding_id, vendor_id, status) select w, v, 'booked' from unnest($1::uuid[], $2::uuid[]) x(w, v)`, wvW, wvV)
	batch.Queue(`insert into public.conversations (id, wedding_id, subject) select c, w, 'Bench' from unnest($1::uuid[], $2::uuid[]) x(c, w)`, cIDs, cW)
	batch.Queue(`insert into public.conversation_participants (conversation_id, user_id) select c, u from unnest($1::uuid[], $2::uuid[]) x(c, u)`, cpC, cpU)
	if err := pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	return ws, nil
}

// benchPlanner measures the planner's hand-off in process.
func benchPlanner(ctx context.Context, env *Env) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	ws, err := nbFixture(ctx, db.Pool, notifyPlanWeddings, notifyVendors)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := jobs.NewClient(db.Pool, jobs.Config{Logger: quiet})
	if err != nil {
		return err
	}
	// Worst case: a 1 ns window, so every decision writes a notification and a job.
	worst, err := notify.NewPlanner(notify.Config{Window: time.Nanosecond, Logger: quiet}, client)
	if err != nil {
		return err
	}
	// Group-chat bursts with the default window: the first message of a burst is notified,
	// the next four are held for the digest.
	mixed, err := notify.NewPlanner(notify.Config{Logger: quiet}, client)
	if err != nil {
		return err
	}
	lsn := uint64(0x1000000)
	for _, c := range []struct {
		name    string
		p       *notify.Planner
		start   time.Time
		notices int // notifications written per wedding
		reps    int
	}{
		// Every decision writes a notification: 5 rounds × 30 recipients. Each repetition
		// starts a minute after the last, so it again notifies everyone.
		{"notify.planner_decisions_per_s", worst, time.Now(), 5 * notifyVendors, max(1, *notifyPlannerReps)},
		// Each of the chat's 31 members is notified once (the first message they did not
		// send); the rest of the burst is held. Not repeatable: the held messages stay pending.
		{"notify.planner_burst_decisions_per_s", mixed, time.Now().Add(time.Hour), notifyVendors + 1, 1},
	} {
		var rates []float64
		for rep := range c.reps {
			// Start settled: statistics current and no checkpoint of earlier work pending.
			if _, err := db.Pool.Exec(ctx, `analyze; checkpoint`); err != nil {
				return err
			}
			before, err := nbCount(ctx, db.Pool, `select count(*) from public.notifications`)
			if err != nil {
				return err
			}
			start := c.start.Add(time.Duration(rep) * time.Minute)
			const rounds, perHandOff = 5, 50
			chats := make([]notifytest.GroupChat, len(ws))
			for i, w := range ws {
				chats[i] = notifytest.GroupChat{WeddingID: w.id, ConversationID: w.group, Couple: w.couple, Vendors: w.vendors}
			}
			events := notifytest.GroupChatMessages(chats, rounds, start, time.Second, &lsn)
			began := time.Now()
			for i := 0; i < len(events); i += perHandOff {
				chunk := events[i:min(i+perHandOff, len(events))]
				if err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return c.p.HandOff(ctx, tx, chunk) }); err != nil {
					return err
				}
			}
			elapsed := time.Since(began)
			after, err := nbCount(ctx, db.Pool, `select count(*) from public.notifications`)
			if err != nil {
				return err
			}
			decisions := len(events) * notifyVendors
			if want := len(ws) * c.notices; after-before != want {
				return fmt.Errorf("%s: %d notifications, want %d", c.name, after-before, want)
			}
			env.Logf("%s: %d decisions (%d events × %d recipients, %d notifications written) in %s, %d events per hand-off",
				c.name, decisions, len(events), notifyVendors, after-before, elapsed.Round(time.Millisecond), perHandOff)
			rates = append(rates, float64(decisions)/elapsed.Seconds())
		}
		slices.Sort(rates)
		env.Record(c.name, rates[len(rates)/2])
	}
	return benchDecide(env)
}

func nbCount(ctx context.Context, pool *pgxpool.Pool, sql string) (int, error) {
	var n int
	err := pool.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

// benchDecide measures Decide alone: a recipient in New York with quiet hours, across a day.
func benchDecide(env *Env) error {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return err
	}
	r := &notify.Recipient{UserID: "u", Location: loc, QuietStart: 22 * 60, QuietEnd: 7 * 60, HasQuiet: true,
		Reachable: map[channel.Kind]bool{channel.Push: true, channel.Email: true, channel.SMS: true},
		Prefs:     map[string]bool{"new_message/sms": true}}
	const n = 2_000_000
	t0 := time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	deferred := 0
	began := time.Now()
	for i := range n {
		if !notify.Decide(r, notify.CategoryNewMessage, t0.Add(time.Duration(i)*43*time.Millisecond)).NotBefore.IsZero() {
			deferred++
		}
	}
	elapsed := time.Since(began)
	if deferred == 0 || deferred == n {
		return fmt.Errorf("decide: %d of %d deferred: the clock did not cross the quiet window", deferred, n)
	}
	env.Record("notify.decide_per_s", n/elapsed.Seconds())
	return nil
}

// nbFakes are the provider fakes the benchmarked sidecar sends to, with its environment.
type nbFakes struct {
	fcm    *providerfake.FCM
	resend *providerfake.Resend
	twilio *providerfake.Twilio
}

func newNBFakes() *nbFakes {
	return &nbFakes{fcm: providerfake.NewFCM(), resend: providerfake.NewResend("re_bench"), twilio: providerfake.NewTwilio("ACbench", "benchtoken")}
}

func (f *nbFakes) close() { f.fcm.Close(); f.resend.Close(); f.twilio.Close() }

func (f *nbFakes) env() []string {
	return []string{"FCM_PROJECT_ID=vendorhub-bench", "VENDORHUB_FCM_ENDPOINT=" + f.fcm.URL(),
		"RESEND_API_KEY=re_bench", "VENDORHUB_RESEND_BASE_URL=" + f.resend.URL(),
		"TWILIO_ACCOUNT_SID=ACbench", "TWILIO_AUTH_TOKEN=benchtoken", "TWILIO_FROM=+15005550006",
		"VENDORHUB_TWILIO_BASE_URL=" + f.twilio.URL()}
}

// startNotifySidecar runs `vendorhub run` with only the notify stage and waits for /readyz.
func startNotifySidecar(ctx context.Context, bin, dbURL, slot string, extra []string) (*rtSidecar, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	s := &rtSidecar{addr: addr, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "run")
	s.cmd.Env = append(append(os.Environ(), "DATABASE_URL="+dbURL, "VENDORHUB_HTTP_ADDR="+addr, "VENDORHUB_SLOT="+slot,
		"VENDORHUB_STAGES=notify", "VENDORHUB_DB_MAX_CONNS=30", "VENDORHUB_NOTIFY_WORKERS=60",
		"VENDORHUB_SHUTDOWN_TIMEOUT=5s"), extra...)
	var log lockedLog
	s.cmd.Stdout, s.cmd.Stderr = &log, &log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
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
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("vendorhub run not ready in 60s: %s", log.String())
		}
	}
}

// nbWrite commits total messages at rate per second, batch per transaction (writers
// goroutines on their own tickers); message i goes to pick(i) and its body is "bench-<i>". It
// returns when each message's commit returned.
func nbWrite(ctx context.Context, pool *pgxpool.Pool, total, rate, batch int, pick func(i int) (conv, sender string)) ([]time.Time, error) {
	const writers = 8
	committed := make([]time.Time, total)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second * writers * time.Duration(batch) / time.Duration(rate))
			defer t.Stop()
			for {
				first := int(next.Add(int64(batch)) - int64(batch))
				if first >= total {
					return
				}
				select {
				case <-t.C:
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
				var convs, senders, bodies []string
				for i := first; i < min(first+batch, total); i++ {
					c, s := pick(i)
					convs, senders, bodies = append(convs, c), append(senders, s), append(bodies, "bench-"+strconv.Itoa(i))
				}
				if _, err := pool.Exec(ctx, `insert into public.messages (conversation_id, sender_id, body)
select * from unnest($1::uuid[], $2::uuid[], $3::text[])`, convs, senders, bodies); err != nil {
					errs <- err
					return
				}
				now := time.Now()
				for i := first; i < min(first+batch, total); i++ {
					committed[i] = now
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return committed, <-errs
}

// benchNotifyLatency measures commit → provider request per channel at notifyRate, on the
// workload of the system run's part notify (nbPairs: every message the first of its
// recipient's window, a third of the recipients per channel) with the notify stage alone.
func benchNotifyLatency(ctx context.Context, env *Env, bin string) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	phase := load.Phase{Name: "steady", Rate: notifyRate, For: notifyFor}
	total := int(notifyRate * notifyFor / time.Second)
	pairs, err := nbPairs(ctx, db.Pool, (total+1)/2)
	if err != nil {
		return err
	}
	fakes := newNBFakes()
	defer fakes.close()
	sc, err := startNotifySidecar(ctx, bin, db.URL, "bench_notify_latency", fakes.env())
	if err != nil {
		return err
	}
	defer sc.stop()
	env.Logf("notify latency: %d messages at %d/s into %d two-person chats, push/email/SMS in thirds", total, notifyRate, len(pairs))
	arrivals, _, failed, err := nbOpenLoop(ctx, db.URL, []load.Phase{phase}, func(ctx context.Context, pool *pgxpool.Pool, i int) arrival {
		return nbPairArrive(ctx, pool, pairs, i)
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d messages failed to write", failed)
	}
	if got := nbAwaitReceipts(ctx, fakes, total, 3*time.Minute, 30*time.Second); got < total {
		return fmt.Errorf("only %d of %d notifications reached the fakes", got, total)
	}
	fromCommit, _ := nbLatency(arrivals, nbReceipts(fakes), phase.Name)
	for _, ch := range nbChannels {
		ms := fromCommit[ch].Sorted()
		if len(ms) == 0 {
			return fmt.Errorf("no %s requests", ch)
		}
		env.Logf("%s: %d notifications, p50 %.0f ms, p99 %.0f ms, max %.0f ms", ch, len(ms), pct(ms, 0.50), pct(ms, 0.99), ms[len(ms)-1])
		env.Record("notify."+ch+"_p50_ms", pct(ms, 0.50))
		env.Record("notify."+ch+"_p99_ms", pct(ms, 0.99))
	}
	return nil
}

// benchNotifySurge sends notifySurge messages in notifySurgeFor to weddings of 30 vendors
// and checks that every message was delivered exactly once (alone or in a digest).
func benchNotifySurge(ctx context.Context, env *Env, bin string) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	ws, err := nbFixture(ctx, db.Pool, 34, notifyVendors)
	if err != nil {
		return err
	}
	type chat struct{ id, vendor string }
	var chats []chat
	for _, w := range ws {
		for i := range w.chats {
			chats = append(chats, chat{w.chats[i], w.vendors[i]})
		}
	}
	fakes := newNBFakes()
	defer fakes.close()
	sc, err := startNotifySidecar(ctx, bin, db.URL, "bench_notify_surge", append(fakes.env(),
		"VENDORHUB_NOTIFY_WINDOW=2s", "VENDORHUB_NOTIFY_INACTIVITY=1s", "VENDORHUB_NOTIFY_MAX_WAIT=5s"))
	if err != nil {
		return err
	}
	defer sc.stop()
	rate := int(notifySurge / notifySurgeFor.Seconds())
	env.Logf("notify surge: %d messages at %d/s into %d couple↔vendor chats of %d weddings", notifySurge, rate, len(chats), len(ws))
	began := time.Now()
	if _, err := nbWrite(ctx, db.Pool, notifySurge, rate, 20, func(i int) (string, string) { c := chats[i%len(chats)]; return c.id, c.vendor }); err != nil {
		return err
	}
	written := time.Since(began)
	env.Logf("surge written in %s (20 messages per transaction)", written.Round(time.Millisecond))
	env.Record("notify.surge_write_s", written.Seconds())

	// Drained: no notify job left to run, no digest pending, every notification pushed.
	deadline := time.Now().Add(5 * time.Minute)
	var notifications int
	for {
		var open, pending int
		if err := db.Pool.QueryRow(ctx, `select
  (select count(*) from river.river_job where queue = $1 and state not in ($2, $3, $4)),
  (select count(*) from vendorhub.notify_threads where pending_count > 0),
  (select count(*) from public.notifications)`, notify.Queue, rivertype.JobStateCompleted, rivertype.JobStateCancelled,
			rivertype.JobStateDiscarded).Scan(&open, &pending, &notifications); err != nil {
			return err
		}
		if open == 0 && pending == 0 && len(fakes.fcm.Sent()) >= notifications {
			break
		}
		if time.Now().After(deadline) {
			env.Logf("surge not drained: %d open jobs, %d pending digests, %d pushes for %d notifications", open, pending, len(fakes.fcm.Sent()), notifications)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	drained := time.Since(began)
	rss, err := peakRSSMiB(sc.cmd.Process.Pid)
	if err != nil {
		return err
	}

	// Messages: each is notified alone or counted in exactly one digest.
	var alone, digested int
	if err := db.Pool.QueryRow(ctx, `select
  count(*) filter (where data->>'event_type' = 'message.created'),
  coalesce(sum((data->>'messages')::int) filter (where data->>'event_type' = 'digest'), 0)
from public.notifications`).Scan(&alone, &digested); err != nil {
		return err
	}
	accounted := alone + digested
	lost, dup := max(0, notifySurge-accounted), max(0, accounted-notifySurge)
	// Deliveries: each notification pushed exactly once.
	rows, err := db.Pool.Query(ctx, `select id::text from public.notifications`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	pushes := map[string]int{}
	for _, m := range fakes.fcm.Sent() {
		pushes[m.Data["notification_id"]]++
	}
	for _, id := range ids {
		switch n := pushes[id]; {
		case n == 0:
			lost++
		case n > 1:
			dup += n - 1
		}
	}
	env.Logf("surge: %d notifications (%d alone, %d digests covering %d messages), %d pushes; drained in %s; lost %d, duplicated %d; peak RSS %.0f MiB",
		notifications, alone, notifications-alone, digested, len(fakes.fcm.Sent()), drained.Round(time.Millisecond), lost, dup, rss)
	env.Record("notify.surge_lost", float64(lost))
	env.Record("notify.surge_duplicated", float64(dup))
	env.Record("notify.surge_peak_rss_mib", rss)
	env.Record("notify.surge_drain_s", drained.Seconds())
	if lost > 0 || dup > 0 {
		return errors.New("surge lost or duplicated deliveries")
	}
	return nil
}
