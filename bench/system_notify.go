package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/bench/load"
	"github.com/wedsync/vendorhub/bench/results"
)

// sysNotifyRate is the message rate of the notification surge; the normal day before it runs
// at 1/sysSurgeFactor of it.
var sysNotifyRate = flag.Float64("system-notify-rate", 500, "system: messages per second of the notification surge (part notify; the normal day is 1/20 of it)")

// sysNotifyGoal is the product's goal: commit → provider receipt p99, the provider's injected
// latency excluded, for push, email and SMS at the surge rate, every stage on.
const sysNotifyGoal = 250

// sysNotifyRun is part notify of the system run: single notifications as real users produce
// them. A fresh database holds one two-person chat (a wedding of its own) per two messages
// (nbPairs): each message is the first its recipient gets in that conversation — first the
// message, then the reply, from the other side — so each is notified alone, never folded
// into a digest by the anti-spam window. A third of the recipients have a device (push), a
// third a verified email only, a third a verified phone with SMS on. The sidecar is `vendorhub
// run` as shipped (defaults, every stage, the gateway on), against the provider fakes with
// their injected latencies; the load is open loop: a normal day at 1/20 of the surge rate,
// then the surge. Every message is timed from its commit to its provider request's arrival at
// the fake (before the fake's injected latency), reconciled per message (notified exactly
// once) and per notification and channel (sent exactly once); the delivery jobs' River
// timestamps show where the time went.
func sysNotifyRun(ctx context.Context, env *Env, bin string) error {
	run := env.Run
	normal := load.Phase{Name: "normal", Rate: *sysNotifyRate / sysSurgeFactor, For: *sysFor}
	surge := load.Phase{Name: "surge", Rate: *sysNotifyRate, For: *sysFor}
	phases := []load.Phase{normal, surge}
	total := len(load.Arrivals(phases...))
	db, err := env.NewDB(ctx, true)
	if err != nil {
		return err
	}
	pairs, err := nbPairs(ctx, db.Pool, (total+1)/2)
	if err != nil {
		return err
	}
	var weddings []string
	for _, p := range pairs {
		weddings = append(weddings, p.wedding)
	}
	run.Workload = append(run.Workload, fmt.Sprintf("part notify: %d two-person chats (each a wedding of its own; a third of the users reachable by push — a device and a verified email —, a third by a verified email only, a third by a verified phone with SMS on); open loop: normal day %.0f messages/s for %s, then surge %.0f messages/s (%d×) for %s, one transaction each; each message is its recipient's first in that conversation (the message, later the reply), so it is notified alone; latency from the commit to the provider fake's receipt of the request, before the fake's injected latency",
		len(pairs), normal.Rate, normal.For, surge.Rate, sysSurgeFactor, surge.For))

	fakes := newNBFakes()
	defer fakes.close()
	fakes.fcm.SetLatency(sysFakeLatency["fcm"])
	fakes.resend.SetLatency(sysFakeLatency["resend"])
	fakes.twilio.SetLatency(sysFakeLatency["twilio"])
	sc, err := startSidecar(ctx, bin, append(sysKeys(db.URL, "bench_system_notify"), fakes.env()...))
	if err != nil {
		return err
	}
	defer sc.stop()
	floor := &walFloor{}
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	floorReady := make(chan error, 1)
	go func() { floorReady <- floor.run(fctx, db.URL, floorReadyFn(floorReady)) }()
	if err := <-floorReady; err != nil {
		return fmt.Errorf("wal floor: %w", err)
	}
	env.Logf("notify: sidecar ready, %d chats, %d messages (%.0f/s then %.0f/s)", len(pairs), total, normal.Rate, surge.Rate)

	cpu0, _ := procCPU(sc.cmd.Process.Pid)
	began := time.Now()
	arrivals, lateness, failed, err := nbOpenLoop(ctx, db.URL, phases, func(ctx context.Context, pool *pgxpool.Pool, i int) arrival {
		return nbPairArrive(ctx, pool, pairs, i)
	})
	if err != nil {
		return err
	}
	loadFor := time.Since(began)
	cpu1, _ := procCPU(sc.cmd.Process.Pid)
	env.Logf("notify: %d messages in %s (generator at most %s behind schedule, %d failed writes); the sidecar used %.1f CPU-s meanwhile (%.2f cores)", len(arrivals),
		loadFor.Round(time.Millisecond), lateness.Round(time.Millisecond), failed, (cpu1 - cpu0).Seconds(), (cpu1-cpu0).Seconds()/loadFor.Seconds())
	if failed > 0 {
		run.Fail("notify: %d messages failed to write", failed)
	}
	want := len(arrivals) - failed
	got := nbAwaitReceipts(ctx, fakes, want, 10*time.Minute, 30*time.Second)
	cpu2, _ := procCPU(sc.cmd.Process.Pid)
	env.Logf("notify: %d of %d notifications reached a fake %s after the load began; the sidecar used %.1f CPU-s in all (%.0f µs per message, %.2f cores after the load)",
		got, want, time.Since(began).Round(time.Second), (cpu2 - cpu0).Seconds(), float64((cpu2-cpu0).Microseconds())/float64(max(want, 1)),
		(cpu2-cpu1).Seconds()/(time.Since(began)-loadFor).Seconds())
	if got < want {
		run.Fail("notify: %d of %d notifications had not reached a fake %s after the load began (still queued or lost: see the reconciliations)",
			want-got, want, time.Since(began).Round(time.Second))
	}
	if err := sysDrainNotify(ctx, db.Pool, 2*time.Minute); err != nil {
		run.Fail("notify: %v", err)
	}

	receipts := nbReceipts(fakes)
	for _, p := range phases {
		fromCommit, fromSchedule := nbLatency(arrivals, receipts, p.Name)
		ls := nbRecordLatency(run, "notify."+p.Name, fromCommit, fromSchedule)
		var flCommit load.Samples
		for _, a := range arrivals {
			if at, ok := floor.at.Load(a.messageID); ok && a.ok && a.phase == p.Name {
				flCommit.Add(at.(time.Time).Sub(a.committed))
			}
		}
		fl := latency("notify."+p.Name+".wal_floor", "commit", flCommit.Sorted())
		run.AddLatency(fl)
		for _, ch := range nbChannels {
			l := ls[ch]
			env.Logf("notify %s %s: %d notifications, from the commit p50 %.0f p99 %.0f max %.0f ms (WAL floor p99 %.1f ms)", p.Name, ch, l.Samples, l.P50, l.P99, l.Max, fl.P99)
			if p.Name != surge.Name {
				continue
			}
			if l.Samples == 0 {
				run.Fail("notify.surge.%s: no single-message notification reached its fake", ch)
				continue
			}
			run.Add(results.NewFigure("notify.surge."+ch+".p99_minus_injected", l.P99, "ms",
				"commit → receipt of the same messages by a pglogrepl client on a second slot, p99", fl.P99,
				&results.Goal{Of: "value", AtMost: true, Limit: sysNotifyGoal},
				fmt.Sprintf("commit → %s request at the provider fake, its own injected latency excluded, at %.0f messages/s (%d× surge), every stage on; %d messages", ch, surge.Rate, sysSurgeFactor, l.Samples)))
		}
		if err := sysJobTimings(ctx, env, db.Pool, "notify."+p.Name, p.Name, arrivals, weddings); err != nil {
			return fmt.Errorf("job timings: %w", err)
		}
	}
	if _, err := sysReconcileNotices(ctx, env, db.Pool, "single notifications (part notify)", arrivals, floor.lsn.get, weddings); err != nil {
		return err
	}
	return sysProviderSends(ctx, env, db.Pool, fakes, weddings, "single notifications (part notify)")
}

// nbPairArrive writes message i of nbPairMessage, body "bench-<i>".
func nbPairArrive(ctx context.Context, pool *pgxpool.Pool, pairs []nbPair, i int) arrival {
	p, sender, recipient := nbPairMessage(pairs, i)
	a := arrival{kind: "message", conv: p.conv, to: []string{recipient}}
	var err error
	a.messageID, a.committed, err = nbSend(ctx, pool, p.conv, sender, fmt.Sprintf("bench-%d", i))
	a.ok = err == nil
	return a
}

// nbAwaitReceipts waits until the fakes together received want requests, none arrived for
// quiet, or within passed; it returns the requests received.
func nbAwaitReceipts(ctx context.Context, f *nbFakes, want int, within, quiet time.Duration) int {
	deadline, last, lastAt := time.Now().Add(within), -1, time.Now()
	for {
		n := f.fcm.Len() + f.resend.Len() + f.twilio.Len()
		if n != last {
			last, lastAt = n, time.Now()
		}
		if n >= want || time.Now().After(deadline) || time.Since(lastAt) > quiet || ctx.Err() != nil {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}
