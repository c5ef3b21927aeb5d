package main

// Notification measurement shared by the system run (system.go, system_notify.go) and the
// notify stage benchmark (notify.go): the two-person-chat workload, the open-loop writer,
// provider receipts per message, per-message reconciliation of notices, provider sends per
// notification, and where a delivery's time went (River job timestamps).

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/bench/load"
	"github.com/wedsync/vendorhub/bench/results"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

// nbChannels are the remote channels, in the planner's chain order.
var nbChannels = []string{"push", "email", "sms"}

// nbPair is a two-person conversation (a couple↔vendor chat) of a wedding of its own.
type nbPair struct {
	wedding, conv string
	users         [2]string
}

// nbPairs writes n two-person chats. User j (users[0] of pair i is 2i, users[1] is 2i+1) is
// reached on nbChannels[j%3] by the product's own rules: push (a device and a verified email;
// push comes first in the chain), email (a verified email, no device) or SMS (a verified
// phone with the new_message SMS preference on; no device, no email). Addresses written by
// the server are verified when written (migration verified_contacts).
func nbPairs(ctx context.Context, pool *pgxpool.Pool, n int) ([]nbPair, error) {
	pairs := make([]nbPair, n)
	var users, emails, phones, devU, devT, prefU, wIDs, cIDs, cW, cpC, cpU []string
	for i := range pairs {
		p := &pairs[i]
		p.wedding, p.conv = uuid.NewString(), uuid.NewString()
		wIDs, cIDs, cW = append(wIDs, p.wedding), append(cIDs, p.conv), append(cW, p.wedding)
		for s := range 2 {
			u, j := uuid.NewString(), 2*i+s
			p.users[s] = u
			email, phone := "", ""
			switch nbChannels[j%3] {
			case "push":
				devU, devT = append(devU, u), append(devT, "bench-token:"+u)
				email = "u-" + u + "@example.com"
			case "email":
				email = "u-" + u + "@example.com"
			case "sms":
				phone = fmt.Sprintf("+1415%07d", j%10_000_000)
				prefU = append(prefU, u)
			}
			users, emails, phones = append(users, u), append(emails, email), append(phones, phone)
			cpC, cpU = append(cpC, p.conv), append(cpU, u)
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(`insert into auth.users (id, email, aud, role, created_at) select u, nullif(e, ''), 'authenticated', 'authenticated', now() from unnest($1::uuid[], $2::text[]) x(u, e)`, users, emails)
	batch.Queue(`insert into public.notification_settings (user_id, email, phone) select u, nullif(e, ''), nullif(p, '') from unnest($1::uuid[], $2::text[], $3::text[]) x(u, e, p)`, users, emails, phones)
	batch.Queue(`insert into public.devices (user_id, platform, token) select u, 'ios', t from unnest($1::uuid[], $2::text[]) x(u, t)`, devU, devT)
	batch.Queue(`insert into public.notification_preferences (user_id, category, channel, enabled) select u, 'new_message', 'sms', true from unnest($1::uuid[]) u`, prefU)
	batch.Queue(`insert into public.weddings (id, title, wedding_date) select w, 'Bench', '2027-06-12' from unnest($1::uuid[]) w`, wIDs)
	batch.Queue(`insert into public.conversations (id, wedding_id, subject) select c, w, 'Bench' from unnest($1::uuid[], $2::uuid[]) x(c, w)`, cIDs, cW)
	batch.Queue(`insert into public.conversation_participants (conversation_id, user_id) select c, u from unnest($1::uuid[], $2::uuid[]) x(c, u)`, cpC, cpU)
	if err := pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("pairs fixture: %w", err)
	}
	return pairs, nil
}

// nbPairMessage is message i of a run over pairs: pair i mod n, first from users[0] to
// users[1], then (i ≥ n) the reply. Each recipient gets one message per conversation, so
// every message is the first of its recipient's anti-spam window there: notified alone.
func nbPairMessage(pairs []nbPair, i int) (p nbPair, sender, recipient string) {
	p = pairs[i%len(pairs)]
	s := (i / len(pairs)) % 2
	return p, p.users[s], p.users[1-s]
}

// nbSend commits one message in its own transaction; committed is clock_timestamp() as the
// insert ends, just before its commit.
func nbSend(ctx context.Context, pool *pgxpool.Pool, conv, sender, body string) (id string, committed time.Time, err error) {
	err = pool.QueryRow(ctx, `insert into public.messages (conversation_id, sender_id, body) values ($1, $2, $3)
returning id::text, clock_timestamp()`, conv, sender, body).Scan(&id, &committed)
	return id, committed, err
}

// nbOpenLoop issues the arrivals of phases open loop (package load) on a pool of 64
// connections to dbURL; write commits arrival i. It returns the arrivals (phase and scheduled
// time filled in), the generator's worst lateness and the number of failed writes.
func nbOpenLoop(ctx context.Context, dbURL string, phases []load.Phase, write func(ctx context.Context, pool *pgxpool.Pool, i int) arrival) ([]arrival, time.Duration, int, error) {
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, 0, 0, err
	}
	pcfg.MaxConns = 64
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, 0, 0, err
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
	lateness := load.Run(ctx, time.Now().Add(100*time.Millisecond), offsets, func(ctx context.Context, a load.Arrival) {
		ar := write(ctx, pool, a.Index)
		ar.phase, ar.scheduled = phaseOf(a.Index), a.Scheduled
		arrivals[a.Index] = ar
	})
	failed := 0
	for _, a := range arrivals {
		if !a.ok {
			failed++
		}
	}
	return arrivals, lateness, failed, ctx.Err()
}

// nbReceipt is what a provider fake received for one message's single notification on one
// channel: the first request's arrival (recorded before the fake's injected latency) and the
// number of requests.
type nbReceipt struct {
	at       time.Time
	requests int
}

// nbReceipts reads the fakes' recorders: per channel, the receipts of single-message
// notifications by message index (message bodies are "bench-<i>"; a digest has no body).
func nbReceipts(f *nbFakes) map[string]map[int]*nbReceipt {
	text := map[string]func([]byte) string{
		"push": func(b []byte) string {
			var m struct {
				Message struct {
					Notification struct{ Body string } `json:"notification"`
				} `json:"message"`
			}
			_ = json.Unmarshal(b, &m)
			return m.Message.Notification.Body
		},
		"email": func(b []byte) string {
			var m struct{ Text string }
			_ = json.Unmarshal(b, &m)
			return m.Text
		},
		"sms": func(b []byte) string {
			v, _ := url.ParseQuery(string(b))
			return v.Get("Body")
		},
	}
	recs := map[string]*providerfake.Recorder{"push": &f.fcm.Recorder, "email": &f.resend.Recorder, "sms": &f.twilio.Recorder}
	out := map[string]map[int]*nbReceipt{}
	for _, ch := range nbChannels {
		out[ch] = map[int]*nbReceipt{}
		for _, r := range recs[ch].Requests() {
			body := text[ch](r.Body)
			k := strings.Index(body, "bench-")
			if k < 0 {
				continue
			}
			i, err := strconv.Atoi(strings.TrimRightFunc(body[k+len("bench-"):], func(r rune) bool { return r < '0' || r > '9' }))
			if err != nil {
				continue
			}
			if rc := out[ch][i]; rc != nil {
				rc.requests++
			} else {
				out[ch][i] = &nbReceipt{at: r.At, requests: 1}
			}
		}
	}
	return out
}

// nbLatency collects, per channel, commit → provider receipt (and scheduled send → receipt)
// of the single-message notifications of the arrivals of phase.
func nbLatency(arrivals []arrival, receipts map[string]map[int]*nbReceipt, phase string) (fromCommit, fromSchedule map[string]*load.Samples) {
	fromCommit, fromSchedule = map[string]*load.Samples{}, map[string]*load.Samples{}
	for _, ch := range nbChannels {
		c, s := &load.Samples{}, &load.Samples{}
		for i, rc := range receipts[ch] {
			if i < 0 || i >= len(arrivals) || !arrivals[i].ok || arrivals[i].phase != phase {
				continue
			}
			c.Add(rc.at.Sub(arrivals[i].committed))
			s.Add(rc.at.Sub(earlier(arrivals[i].scheduled, arrivals[i].committed)))
		}
		fromCommit[ch], fromSchedule[ch] = c, s
	}
	return fromCommit, fromSchedule
}

// nbRecordLatency adds the distributions of nbLatency as <prefix>.<channel> and returns the
// commit-timed ones.
func nbRecordLatency(run *results.Run, prefix string, fromCommit, fromSchedule map[string]*load.Samples) map[string]results.Latency {
	out := map[string]results.Latency{}
	for _, ch := range nbChannels {
		run.AddLatency(latency(prefix+"."+ch, "scheduled send → request reached the fake (before its injected latency)", fromSchedule[ch].Sorted()))
		l := latency(prefix+"."+ch, "commit → request reached the fake (before its injected latency)", fromCommit[ch].Sorted())
		run.AddLatency(l)
		out[ch] = l
	}
	return out
}

// sysReconcileNotices reconciles every recipient-message of arrivals per message: notified
// alone (a notification whose subject is the message), counted in exactly one digest (the
// digest whose range of commit LSNs holds it, load.Thread) or held for the next digest.
// lsn gives each message's commit LSN (from the WAL floor).
func sysReconcileNotices(ctx context.Context, env *Env, pool *pgxpool.Pool, label string, arrivals []arrival, lsn func(id string) uint64, weddings []string) (load.NoticeTally, error) {
	type key struct{ user, thread string }
	threads := map[key]*load.Thread{}
	th := func(k key) *load.Thread {
		t := threads[k]
		if t == nil {
			t = &load.Thread{Alone: map[string]int{}}
			threads[k] = t
		}
		return t
	}
	want, noLSN := 0, 0
	var names []string
	for _, a := range arrivals {
		if !a.ok || a.kind != "message" {
			continue
		}
		l := lsn(a.messageID)
		if l == 0 {
			noLSN++
		}
		for _, u := range a.to {
			t := th(key{u, "conversation:" + a.conv})
			if len(t.Messages) == 0 {
				names = append(names, "conversation:"+a.conv)
			}
			t.Messages = append(t.Messages, load.ThreadMessage{ID: a.messageID, LSN: l})
			want++
		}
	}
	rows, err := pool.Query(ctx, `select user_id::text, 'conversation:' || coalesce(data->'subject'->>'conversation_id', ''), coalesce(data->'subject'->>'id', '')
from public.notifications where wedding_id = any($1::uuid[]) and data->>'event_type' = 'message.created'`, weddings)
	if err != nil {
		return load.NoticeTally{}, err
	}
	var u, thread, id string
	if _, err := pgx.ForEachRow(rows, []any{&u, &thread, &id}, func() error { th(key{u, thread}).Alone[id]++; return nil }); err != nil {
		return load.NoticeTally{}, fmt.Errorf("single notifications: %w", err)
	}
	var dkey string
	var n int
	rows, err = pool.Query(ctx, `select user_id::text, coalesce(data->>'thread', ''), coalesce(event_key, ''), coalesce((data->>'messages')::int, 0)
from public.notifications where wedding_id = any($1::uuid[]) and data->>'event_type' = 'digest'`, weddings)
	if err != nil {
		return load.NoticeTally{}, err
	}
	if _, err := pgx.ForEachRow(rows, []any{&u, &thread, &dkey, &n}, func() error {
		last, err := digestLastLSN(dkey)
		if err != nil {
			return err
		}
		t := th(key{u, thread})
		t.Digests = append(t.Digests, load.Digest{Last: last, Messages: n})
		return nil
	}); err != nil {
		return load.NoticeTally{}, fmt.Errorf("digests: %w", err)
	}
	rows, err = pool.Query(ctx, `select user_id::text, thread, pending_count from vendorhub.notify_threads where thread = any($1::text[]) and pending_count > 0`, names)
	if err != nil {
		return load.NoticeTally{}, err
	}
	if _, err := pgx.ForEachRow(rows, []any{&u, &thread, &n}, func() error { th(key{u, thread}).Held += n; return nil }); err != nil {
		return load.NoticeTally{}, fmt.Errorf("held: %w", err)
	}
	var sum load.NoticeTally
	for _, t := range threads {
		sum.Add(t.Reconcile())
	}
	if noLSN > 0 {
		env.Logf("%s: %d messages without a commit LSN from the WAL floor (placed first in their threads)", label, noLSN)
	}
	env.Run.AddReconciliation(results.Reconciliation{Name: fmt.Sprintf("%s: each recipient-message (message id × recipient) notified alone (%d), counted in the one digest whose commit-LSN range holds it (%d) or held for the next digest (%d)",
		label, sum.Alone, sum.Digested, sum.Held), Expected: want, Lost: sum.Lost, Duplicated: sum.Duplicated})
	env.Logf("%s: %d recipient-messages: %d alone, %d in digests, %d held; lost %d, duplicated %d", label, want, sum.Alone, sum.Digested, sum.Held, sum.Lost, sum.Duplicated)
	return sum, nil
}

// digestLastLSN reads the commit LSN of the last message a digest covers from its event key,
// "digest/<thread>/<LSN as X/X>/<index>".
func digestLastLSN(key string) (uint64, error) {
	parts := strings.Split(key, "/")
	if len(parts) < 4 || parts[0] != "digest" {
		return 0, fmt.Errorf("digest key %q: want digest/<thread>/<lsn>/<index>", key)
	}
	l, err := pglogrepl.ParseLSN(parts[len(parts)-3] + "/" + parts[len(parts)-2])
	if err != nil {
		return 0, fmt.Errorf("digest key %q: %w", key, err)
	}
	return uint64(l), nil
}

// sysProviderSends reconciles provider sends by notification id and channel: every
// notification of weddings with a remote channel reached a provider, none twice. FCM carries
// the notification id in its data; Resend and Twilio ids map back through deliveries.
// Resend absorbs a resent request with the same Idempotency-Key (it answers the first email's
// id and sends nothing): such requests are reported, not counted as duplicates.
func sysProviderSends(ctx context.Context, env *Env, pool *pgxpool.Pool, fakes *nbFakes, weddings []string, label string) error {
	jobRows, err := pool.Query(ctx, `select distinct args->>'notification_id' from river.river_job where kind = 'notify.deliver'`)
	if err != nil {
		return err
	}
	delivered, err := pgx.CollectRows(jobRows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	hasJob := make(map[string]bool, len(delivered))
	for _, id := range delivered {
		hasJob[id] = true
	}
	rows, err := pool.Query(ctx, `select n.id::text, coalesce(d.provider, ''), coalesce(d.provider_id, '')
from public.notifications n left join public.deliveries d on d.notification_id = n.id and d.provider_id is not null
where n.wedding_id = any($1::uuid[])`, weddings)
	if err != nil {
		return err
	}
	var ids []string
	byProviderID := map[string]string{}
	seenID := map[string]bool{}
	var id, prov, pid string
	if _, err := pgx.ForEachRow(rows, []any{&id, &prov, &pid}, func() error {
		if !seenID[id] && hasJob[id] {
			seenID[id] = true
			ids = append(ids, id)
		}
		if pid != "" {
			byProviderID[prov+"/"+pid] = id
		}
		return nil
	}); err != nil {
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
	absorbed := 0
	keys := map[string]int{}
	for _, r := range fakes.resend.Requests() {
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			if keys[k]++; keys[k] > 1 {
				absorbed++
			}
		}
	}
	var lostIDs []string
	for _, id := range ids {
		if !perNotification[id] {
			lostIDs = append(lostIDs, id)
		}
	}
	if len(lostIDs) > 0 {
		var why string
		_ = pool.QueryRow(ctx, `select coalesce(string_agg(format('%s %s %s %s', n.category, d.channel, d.status, coalesce(d.error_code, '')), '; '), 'no deliveries rows')
from public.notifications n left join public.deliveries d on d.notification_id = n.id where n.id = any($1::uuid[])`, lostIDs[:min(5, len(lostIDs))]).Scan(&why)
		env.Logf("%s: notifications without a provider send (first 5): %s", label, why)
	}
	dup := 0
	sends.Each(func(_ string, n int) {
		if n > 1 {
			dup += n - 1
		}
	})
	env.Run.AddReconciliation(results.Reconciliation{Name: fmt.Sprintf("%s: provider sends per notification id and channel (FCM notification_id; Resend/Twilio provider id → deliveries; %d resent emails absorbed by Resend's Idempotency-Key)", label, absorbed),
		Expected: len(ids), Lost: len(lostIDs), Duplicated: dup})
	env.Logf("%s: %d notifications with a delivery job; %d FCM, %d Resend (%d absorbed resends), %d Twilio sends; lost %d, duplicated %d",
		label, len(ids), len(fakes.fcm.Sent()), len(fakes.resend.Sent()), absorbed, len(fakes.twilio.Sent()), len(lostIDs), dup)
	return nil
}

// sysJobTimings records where the single notifications' time went, per channel, from River's
// own timestamps of their delivery jobs: commit → job inserted by the planner (replication
// and hand-off), scheduled → attempted (waiting for a worker), attempted → finalized (the
// provider call with its injected latency, and the bookkeeping).
func sysJobTimings(ctx context.Context, env *Env, pool *pgxpool.Pool, prefix, phase string, arrivals []arrival, weddings []string) error {
	byID := map[string]*arrival{}
	for i := range arrivals {
		if arrivals[i].ok && arrivals[i].phase == phase && arrivals[i].kind == "message" {
			byID[arrivals[i].messageID] = &arrivals[i]
		}
	}
	rows, err := pool.Query(ctx, `select j.args->>'channel', coalesce(n.data->'subject'->>'id', ''), j.created_at, j.scheduled_at, j.attempted_at, j.finalized_at
from river.river_job j join public.notifications n on n.id = (j.args->>'notification_id')::uuid
where j.kind = 'notify.deliver' and j.state = 'completed' and n.wedding_id = any($1::uuid[]) and n.data->>'event_type' = 'message.created'`, weddings)
	if err != nil {
		return err
	}
	type trio struct{ inserted, wait, run load.Samples }
	per := map[string]*trio{}
	var ch, id string
	var created, scheduled time.Time
	var attempted, finalized *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&ch, &id, &created, &scheduled, &attempted, &finalized}, func() error {
		a := byID[id]
		if a == nil || attempted == nil || finalized == nil {
			return nil
		}
		t := per[ch]
		if t == nil {
			t = &trio{}
			per[ch] = t
		}
		t.inserted.Add(created.Sub(a.committed))
		t.wait.Add(attempted.Sub(scheduled))
		t.run.Add(finalized.Sub(*attempted))
		return nil
	}); err != nil {
		return err
	}
	for _, ch := range nbChannels {
		t := per[ch]
		if t == nil {
			continue
		}
		name := prefix + "." + ch + ".job"
		ins, wait, run := latency(name, "commit → delivery job inserted (replication, planner hand-off)", t.inserted.Sorted()),
			latency(name, "job scheduled_at → attempted_at (waiting for a notify worker)", t.wait.Sorted()),
			latency(name, "job attempted_at → finalized_at (provider call incl. injected latency, bookkeeping)", t.run.Sorted())
		env.Run.AddLatency(ins)
		env.Run.AddLatency(wait)
		env.Run.AddLatency(run)
		env.Logf("%s jobs (%d): commit → inserted p50 %.0f p99 %.0f ms; waiting for a worker p50 %.0f p99 %.0f ms; attempt p50 %.0f p99 %.0f ms",
			name, ins.Samples, ins.P50, ins.P99, wait.P50, wait.P99, run.P50, run.P99)
	}
	return nil
}

// lsnTracker remembers each message's commit LSN, safe for concurrent use.
type lsnTracker struct{ m sync.Map }

func (t *lsnTracker) set(id string, lsn uint64) { t.m.LoadOrStore(id, lsn) }

func (t *lsnTracker) get(id string) uint64 {
	if v, ok := t.m.Load(id); ok {
		return v.(uint64)
	}
	return 0
}
