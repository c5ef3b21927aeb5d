package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/channel/kind"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/route"
)

// Defaults of Config.
const (
	WindowDefault     = 2 * time.Minute
	InactivityDefault = time.Minute
	MaxWaitDefault    = 10 * time.Minute
)

// Config configures the planner and the digest worker.
type Config struct {
	// Window is the anti-spam window: at most one message notification per recipient and
	// conversation per Window; the rest wait for a digest. Defaults to WindowDefault (2 min).
	Window time.Duration
	// Inactivity sends a thread's digest once no message arrived for this long. Defaults to
	// InactivityDefault (1 min).
	Inactivity time.Duration
	// MaxWait sends a digest at the latest this long after its first held message (but
	// never before the window ends). Defaults to MaxWaitDefault (10 min).
	MaxWait time.Duration
	// Providers names the provider of each channel, written into the 'deferred' delivery
	// rows the planner creates. Defaults to fcm, resend and twilio.
	Providers map[kind.Kind]string
	// Now is the digest worker's clock. Defaults to time.Now. (The planner itself uses each
	// event's commit time, so a replay decides the same way.)
	Now func() time.Time
	// Logger receives skipped events. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Window = cmp.Or(c.Window, WindowDefault)
	c.Inactivity = cmp.Or(c.Inactivity, InactivityDefault)
	c.MaxWait = cmp.Or(c.MaxWait, MaxWaitDefault)
	if c.Providers == nil {
		c.Providers = map[kind.Kind]string{kind.Push: "fcm", kind.Email: "resend", kind.SMS: "twilio"}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	if c.Window < 0 || c.Inactivity < 0 || c.MaxWait < 0 {
		return fmt.Errorf("notify: Window, Inactivity and MaxWait must not be negative")
	}
	for ch, p := range c.Providers {
		if !ch.Valid() || p == "" {
			return fmt.Errorf("notify: Providers[%q] = %q: want push/email/sms and a provider name", ch, p)
		}
	}
	return nil
}

// JobInserter inserts River jobs inside a transaction; *river.Client[pgx.Tx] is one.
type JobInserter interface {
	InsertManyFastTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) (int, error)
}

// Planner is the notification planner, a handoff.Sink.
type Planner struct {
	cfg  Config
	jobs JobInserter
}

// NewPlanner returns a planner inserting its jobs with jobs.
func NewPlanner(cfg Config, jobs JobInserter) (*Planner, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if jobs == nil {
		return nil, fmt.Errorf("notify: nil JobInserter")
	}
	return &Planner{cfg: cfg, jobs: jobs}, nil
}

// Name implements handoff.Sink.
func (p *Planner) Name() string { return "notify" }

var planned = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "vendorhub_notify_planned_total",
	Help: "Recipient decisions of the notification planner, by outcome (notified, deferred, digested, muted, replayed).",
}, []string{"outcome"})

// notice is what one event tells its recipients: the content their notifications share.
type notice struct {
	category, title, body, eventKey string
	weddingID                       *string
	data                            []byte
}

// item is one notification to write: a notice for one recipient.
type item struct {
	userID string
	notice *notice
	plan   Plan
}

// threadState mirrors a vendorhub.notify_threads row.
type threadState struct {
	userID, thread      string
	windowStart         time.Time
	lastKey             event.Key
	pending             int
	firstAt, lastAt     time.Time
	senders             []pgtype.UUID
	savedSenders        int  // senders[:savedSenders] are in the row already
	resetSenders        bool // the row's senders are replaced, not appended to
	weddingID           *string
	flushAt             time.Time
	newDigest, existing bool
	tid                 pgtype.TID // the locked row's ctid, when existing
}

type threadKey struct{ user, thread string }

// HandOff implements handoff.Sink: it plans every event that has a category.
func (p *Planner) HandOff(ctx context.Context, tx pgx.Tx, events []route.Routed) error {
	type cand struct {
		ev       *route.Routed
		category string
		thread   string
		exclude  []string
		sender   string // who a held message counts as from
	}
	var cands []cand
	var auds []audience
	for i := range events {
		r := &events[i]
		if r.Category == "" {
			continue
		}
		if !KnownCategory(r.Category) {
			p.cfg.Logger.Warn("notify: unknown category, event skipped", "category", r.Category, "key", r.Key.String())
			continue
		}
		if r.Type == event.IntegrationFailed && dataString(r.Data, "kind") == "delivery" {
			continue // a failed notification is not itself notified: that would loop
		}
		if r.Type == event.AvailabilityChanged && r.Actor == nil {
			continue // a calendar sync echoing the vendor's own calendar: nobody to tell
		}
		c := cand{ev: r, category: r.Category}
		if r.Actor != nil {
			c.exclude = append(c.exclude, *r.Actor)
		}
		if r.Type == event.MessageCreated {
			c.sender = dataString(r.Data, "sender_id")
			if c.sender != "" {
				c.exclude = append(c.exclude, c.sender)
			}
			if r.Subject.ConversationID != nil && !Critical(r.Category) {
				c.thread = "conversation:" + *r.Subject.ConversationID
			}
		}
		if c.sender == "" && r.Actor != nil {
			c.sender = *r.Actor
		}
		cands = append(cands, c)
		auds = append(auds, audienceOf(r.Event, r.Category))
	}
	if len(cands) == 0 {
		return nil
	}
	lists, err := resolveAudiences(ctx, tx, auds)
	if err != nil {
		return err
	}
	var users []string
	seen := map[string]bool{}
	for i := range lists {
		lists[i] = dedupe(lists[i], cands[i].exclude)
		for _, u := range lists[i] {
			if !seen[u] {
				seen[u] = true
				users = append(users, u)
			}
		}
	}
	if len(users) == 0 {
		return nil
	}
	recips, err := loadRecipients(ctx, tx, users)
	if err != nil {
		return err
	}
	threads, err := p.loadThreads(ctx, tx, cands2keys(len(cands), func(i int) (string, []string) { return cands[i].thread, lists[i] }))
	if err != nil {
		return err
	}
	var items []item
	dirty := map[threadKey]*threadState{}
	for i, c := range cands {
		now := eventTime(c.ev.Event, p.cfg.Now)
		title, body := content(c.ev.Event, c.category)
		nt := &notice{category: c.category, title: title, body: body, eventKey: c.ev.Key.String(),
			weddingID: c.ev.WeddingID, data: notificationData(c.ev.Event)}
		for _, u := range lists[i] {
			r := recips[u]
			if r == nil {
				continue // no such user (deleted): nothing to tell
			}
			plan := Decide(r, c.category, now)
			if !plan.Notify {
				planned.WithLabelValues("muted").Inc()
				continue
			}
			if c.thread != "" {
				k := threadKey{u, c.thread}
				st := threads[k]
				if st != nil && !keyAfter(c.ev.Key, st.lastKey) {
					planned.WithLabelValues("replayed").Inc()
					continue
				}
				if st != nil && (st.pending > 0 || now.Before(st.windowStart.Add(p.cfg.Window))) {
					if err := p.hold(st, c.ev, c.sender, now); err != nil {
						return err
					}
					dirty[k] = st
					planned.WithLabelValues("digested").Inc()
					continue
				}
				if st == nil {
					st = &threadState{userID: u, thread: c.thread}
					threads[k] = st
				}
				st.windowStart, st.lastKey = now, c.ev.Key
				dirty[k] = st
			}
			items = append(items, item{userID: u, notice: nt, plan: plan})
		}
	}
	if err := p.saveThreads(ctx, tx, dirty); err != nil {
		return err
	}
	_, err = writeNotifications(ctx, tx, p.jobs, p.cfg, items)
	return err
}

// hold adds a message from sender ("": unknown) to st's pending digest.
func (p *Planner) hold(st *threadState, ev *route.Routed, sender string, now time.Time) error {
	st.pending++
	if st.pending == 1 {
		st.firstAt, st.newDigest, st.senders = now, true, nil
		st.savedSenders, st.resetSenders = 0, true
	}
	st.lastAt, st.lastKey = now, ev.Key
	if sender != "" {
		u, err := parseUUID(sender)
		if err != nil {
			return err
		}
		if !slices.Contains(st.senders, u) {
			st.senders = append(st.senders, u)
		}
	}
	if ev.WeddingID != nil {
		st.weddingID = ev.WeddingID
	}
	st.flushAt = p.flushAt(st)
	return nil
}

// flushAt is when st's digest may go out: after Inactivity of quiet, at the latest MaxWait
// after the first held message, and never inside the window of the last push.
func (p *Planner) flushAt(st *threadState) time.Time {
	t := st.lastAt.Add(p.cfg.Inactivity)
	if m := st.firstAt.Add(p.cfg.MaxWait); m.Before(t) {
		t = m
	}
	if w := st.windowStart.Add(p.cfg.Window); w.After(t) {
		t = w
	}
	return t
}

func cands2keys(n int, f func(int) (string, []string)) []threadKey {
	var keys []threadKey
	for i := 0; i < n; i++ {
		thread, users := f(i)
		if thread == "" {
			continue
		}
		for _, u := range users {
			keys = append(keys, threadKey{u, thread})
		}
	}
	return keys
}

// loadThreads locks and reads the thread rows of keys, in key order (the lock order of every
// hand-off), with their tuple ids: the rows stay locked, so saveThreads updates them by ctid.
func (p *Planner) loadThreads(ctx context.Context, tx pgx.Tx, keys []threadKey) (map[threadKey]*threadState, error) {
	out := map[threadKey]*threadState{}
	if len(keys) == 0 {
		return out, nil
	}
	us, ts := make([]pgtype.UUID, 0, len(keys)), make([]string, 0, len(keys))
	seen := make(map[threadKey]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		u, err := parseUUID(k.user)
		if err != nil {
			return nil, err
		}
		us, ts = append(us, u), append(ts, k.thread)
	}
	rows, err := tx.Query(ctx, `
select t.user_id::text, t.thread, t.window_started_at, (t.last_lsn - '0/0')::bigint, t.last_index, t.pending_count,
       t.pending_first_at, t.pending_last_at, t.pending_senders, t.pending_wedding_id::text, t.flush_at, t.ctid
from vendorhub.notify_threads t
join unnest($1::uuid[], $2::text[]) as k(user_id, thread)
  on t.user_id = k.user_id and t.thread = k.thread
order by t.user_id, t.thread
for update of t`, us, ts)
	if err != nil {
		return nil, fmt.Errorf("notify: load threads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid pgtype.TID
		st, err := scanThread(rows, &tid)
		if err != nil {
			return nil, err
		}
		st.tid, st.savedSenders = tid, len(st.senders)
		out[threadKey{st.userID, st.thread}] = st
	}
	return out, rows.Err()
}

// scanThread scans a thread row, then into extra the columns after it.
func scanThread(rows pgx.Row, extra ...any) (*threadState, error) {
	st := &threadState{existing: true}
	var lsn int64
	var idx int32
	var first, last, flush *time.Time
	dst := []any{&st.userID, &st.thread, &st.windowStart, &lsn, &idx, &st.pending, &first, &last, &st.senders, &st.weddingID, &flush}
	if err := rows.Scan(append(dst, extra...)...); err != nil {
		return nil, fmt.Errorf("notify: scan thread: %w", err)
	}
	st.lastKey = event.Key{CommitLSN: uint64(lsn), Index: uint32(idx)}
	if first != nil {
		st.firstAt = *first
	}
	if last != nil {
		st.lastAt = *last
	}
	if flush != nil {
		st.flushAt = *flush
	}
	return st, nil
}

// saveThreads writes dirty thread rows and schedules the digests that just started: rows that
// loadThreads locked are updated by ctid (no index probe, no second lock), new rows inserted.
func (p *Planner) saveThreads(ctx context.Context, tx pgx.Tx, dirty map[threadKey]*threadState) error {
	if len(dirty) == 0 {
		return nil
	}
	keys := make([]threadKey, 0, len(dirty))
	for k := range dirty {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b threadKey) int {
		return cmp.Or(strings.Compare(a.user, b.user), strings.Compare(a.thread, b.thread))
	})
	// Non-nil senders: pgx sends a nil slice as NULL.
	old, fresh := threadRows{senders: []pgtype.UUID{}}, threadRows{senders: []pgtype.UUID{}}
	var jobs []river.InsertManyParams
	for _, k := range keys {
		st := dirty[k]
		rows := &fresh
		if st.existing {
			rows = &old
		}
		if err := rows.add(st); err != nil {
			return err
		}
		if st.newDigest {
			st.newDigest = false
			jobs = append(jobs, river.InsertManyParams{Args: DigestArgs{UserID: st.userID, Thread: st.thread},
				InsertOpts: &river.InsertOpts{Queue: Queue, ScheduledAt: st.flushAt}})
		}
	}
	batch := &pgx.Batch{}
	if len(old.us) > 0 {
		batch.Queue(`
update vendorhub.notify_threads as t set
  window_started_at = x.w, last_lsn = '0/0'::pg_lsn + x.l, last_index = x.i, pending_count = x.pc,
  pending_first_at = x.f, pending_last_at = x.la,
  pending_senders = case when x.keep then t.pending_senders else '{}' end || ($11::uuid[])[x.lo:x.hi],
  pending_wedding_id = x.wd, flush_at = x.fl, updated_at = now()
from unnest($1::tid[], $2::timestamptz[], $3::bigint[], $4::int[], $5::int[], $6::timestamptz[],
            $7::timestamptz[], $8::bool[], $9::int[], $10::int[], $12::uuid[], $13::timestamptz[])
  as x(id, w, l, i, pc, f, la, keep, lo, hi, wd, fl)
where t.ctid = x.id`, old.tids, old.win, old.lsns, old.idx, old.pend, old.first, old.last, old.keep, old.lo, old.hi, old.senders, old.wed, old.flush)
	}
	if len(fresh.us) > 0 {
		batch.Queue(`
insert into vendorhub.notify_threads as t (user_id, thread, window_started_at, last_lsn, last_index, pending_count,
  pending_first_at, pending_last_at, pending_senders, pending_wedding_id, flush_at, updated_at)
select u, th, w, '0/0'::pg_lsn + l, i, pc, f, la, ($12::uuid[])[lo:hi], wd, fl, now()
from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::int[], $6::int[], $7::timestamptz[],
            $8::timestamptz[], $9::int[], $10::int[], $11::uuid[], $13::timestamptz[]) as x(u, th, w, l, i, pc, f, la, lo, hi, wd, fl)
on conflict (user_id, thread) do update set
  window_started_at = excluded.window_started_at, last_lsn = excluded.last_lsn, last_index = excluded.last_index,
  pending_count = excluded.pending_count, pending_first_at = excluded.pending_first_at,
  pending_last_at = excluded.pending_last_at, pending_senders = excluded.pending_senders,
  pending_wedding_id = excluded.pending_wedding_id, flush_at = excluded.flush_at, updated_at = now()`,
			fresh.us, fresh.ts, fresh.win, fresh.lsns, fresh.idx, fresh.pend, fresh.first, fresh.last, fresh.lo, fresh.hi, fresh.wed, fresh.senders, fresh.flush)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("notify: save threads: %w", err)
	}
	if len(jobs) > 0 {
		if _, err := p.jobs.InsertManyFastTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("notify: insert digest jobs: %w", err)
		}
	}
	return nil
}

// threadRows holds thread rows column by column, as statement parameters. A row's senders
// are its kept ones (keep) followed by senders[lo-1:hi], the ones it did not hold yet.
type threadRows struct {
	tids               []pgtype.TID
	ts                 []string
	lsns               []int64
	us, wed, senders   []pgtype.UUID
	idx, pend, lo, hi  []int32
	keep               []bool
	win                []time.Time
	first, last, flush []pgtype.Timestamptz
}

func (r *threadRows) add(st *threadState) error {
	u, err := parseUUID(st.userID)
	if err != nil {
		return err
	}
	w, err := parseUUIDPtr(st.weddingID)
	if err != nil {
		return err
	}
	held := st.pending > 0
	r.tids, r.us, r.ts, r.wed = append(r.tids, st.tid), append(r.us, u), append(r.ts, st.thread), append(r.wed, w)
	r.lsns, r.idx = append(r.lsns, int64(st.lastKey.CommitLSN)), append(r.idx, int32(st.lastKey.Index))
	r.win, r.pend = append(r.win, st.windowStart), append(r.pend, int32(st.pending))
	r.first, r.last, r.flush = append(r.first, timestamptz(st.firstAt, held)), append(r.last, timestamptz(st.lastAt, held)), append(r.flush, timestamptz(st.flushAt, held))
	added := st.senders[st.savedSenders:]
	r.keep = append(r.keep, !st.resetSenders)
	r.lo, r.hi = append(r.lo, int32(len(r.senders)+1)), append(r.hi, int32(len(r.senders)+len(added)))
	r.senders = append(r.senders, added...)
	return nil
}

// writeNotifications writes the in-app rows of items and, for the rows this transaction
// created (a replay creates none), the first delivery job of each chain plus a 'deferred'
// delivery row where quiet hours hold it back. It returns the ids of the created rows.
func writeNotifications(ctx context.Context, tx pgx.Tx, jobs JobInserter, cfg Config, items []item) (map[string]string, error) {
	created := map[string]string{}
	if len(items) == 0 {
		return created, nil
	}
	// One row per recipient (user, notice index); the notices' content once each, so a group
	// chat's 30 recipients do not send (and the server parse) the same title, body and data 30 times.
	us, at := make([]pgtype.UUID, len(items)), make([]int32, len(items))
	var (
		cats, titles, keys []string
		bodies             []*string
		weds               []pgtype.UUID
		datas              [][]byte
	)
	index := map[*notice]int32{}
	for i, it := range items {
		u, err := parseUUID(it.userID)
		if err != nil {
			return nil, err
		}
		n := it.notice
		j, ok := index[n]
		if !ok {
			wed, err := parseUUIDPtr(n.weddingID)
			if err != nil {
				return nil, err
			}
			var body *string
			if n.body != "" {
				body = &n.body
			}
			cats, titles, bodies, keys = append(cats, n.category), append(titles, n.title), append(bodies, body), append(keys, n.eventKey)
			weds, datas = append(weds, wed), append(datas, n.data)
			j = int32(len(keys)) // SQL arrays count from 1
			index[n] = j
		}
		us[i], at[i] = u, j
	}
	rows, err := tx.Query(ctx, `
insert into public.notifications (user_id, wedding_id, category, title, body, data, event_key)
select r.u, ($3::uuid[])[r.i], ($4::text[])[r.i], ($5::text[])[r.i], ($6::text[])[r.i], ($7::jsonb[])[r.i], ($8::text[])[r.i]
from unnest($1::uuid[], $2::int[]) as r(u, i)
on conflict (user_id, event_key) do nothing
returning id::text, user_id::text, event_key`, us, at, weds, cats, titles, bodies, datas, keys)
	if err != nil {
		return nil, fmt.Errorf("notify: insert notifications: %w", err)
	}
	for rows.Next() {
		var id, u, k string
		if err := rows.Scan(&id, &u, &k); err != nil {
			rows.Close()
			return nil, fmt.Errorf("notify: insert notifications: %w", err)
		}
		created[u+"\x00"+k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: insert notifications: %w", err)
	}
	var params []river.InsertManyParams
	var dn, du, dc, dp, dk, de []string
	for _, it := range items {
		id, ok := created[it.userID+"\x00"+it.notice.eventKey]
		if !ok {
			planned.WithLabelValues("replayed").Inc()
			continue
		}
		if len(it.plan.Chain) == 0 {
			planned.WithLabelValues("notified").Inc()
			continue // in-app only
		}
		args := DeliverArgs{NotificationID: id, UserID: it.userID, Channel: it.plan.Chain[0], Rest: it.plan.Chain[1:], Critical: it.plan.Critical}
		opts := &river.InsertOpts{Queue: Queue}
		if !it.plan.NotBefore.IsZero() {
			opts.ScheduledAt = it.plan.NotBefore
			dn, du, dc = append(dn, id), append(du, it.userID), append(dc, string(args.Channel))
			dp, dk = append(dp, cfg.Providers[args.Channel]), append(dk, it.notice.eventKey)
			de = append(de, "quiet hours: deferred until "+it.plan.NotBefore.UTC().Format(time.RFC3339))
			planned.WithLabelValues("deferred").Inc()
		} else {
			planned.WithLabelValues("notified").Inc()
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
	}
	if len(dn) > 0 {
		if _, err := tx.Exec(ctx, `
insert into public.deliveries (notification_id, user_id, channel, provider, status, attempt, error_code, error, event_key)
select n, u, c, p, 'deferred', 1, 'quiet_hours', e, k
from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) as x(n, u, c, p, k, e)
on conflict (notification_id, channel, attempt) do nothing`, dn, du, dc, dp, dk, de); err != nil {
			return nil, fmt.Errorf("notify: insert deferred deliveries: %w", err)
		}
	}
	if len(params) > 0 {
		if _, err := jobs.InsertManyFastTx(ctx, tx, params); err != nil {
			return nil, fmt.Errorf("notify: insert delivery jobs: %w", err)
		}
	}
	return created, nil
}

// timestamptz is t as a parameter; NULL unless ok and t is set.
func timestamptz(t time.Time, ok bool) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: ok && !t.IsZero()}
}

// keyAfter reports whether a comes after b in WAL order.
func keyAfter(a, b event.Key) bool {
	return a.CommitLSN > b.CommitLSN || (a.CommitLSN == b.CommitLSN && a.Index > b.Index)
}

// eventTime is the instant an event is planned at: its commit time, so a replay decides
// the same way; else when it occurred; else now.
func eventTime(ev event.Event, now func() time.Time) time.Time {
	switch {
	case !ev.CommitTime.IsZero():
		return ev.CommitTime
	case !ev.OccurredAt.IsZero():
		return ev.OccurredAt
	}
	return now()
}

func dedupe(users, exclude []string) []string {
	out := users[:0:0]
	for _, u := range users {
		if u == "" || slices.Contains(exclude, u) || slices.Contains(out, u) {
			continue
		}
		out = append(out, u)
	}
	return out
}

func dataString(raw json.RawMessage, key string) string {
	if len(raw) == 0 {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[key], &s) != nil {
		return ""
	}
	return s
}

// notificationData is the data of an in-app row: what the app needs to open the subject
// (not the participant list, which a group chat would copy into every row).
func notificationData(ev event.Event) []byte {
	sub := ev.Subject
	sub.Participants = nil
	b, _ := json.Marshal(map[string]any{"event_type": ev.Type, "event_id": ev.ID, "subject": sub})
	return b
}

// parseUUID turns id into a uuid parameter: pgx sends pgtype.UUID arrays in binary, strings as
// an array literal the server must parse.
func parseUUID(id string) (pgtype.UUID, error) {
	var u pgtype.UUID
	if err := u.Scan(id); err != nil {
		return pgtype.UUID{}, fmt.Errorf("notify: id %q: %w", id, err)
	}
	return u, nil
}

// parseUUIDPtr is parseUUID of an optional id (nil: NULL).
func parseUUIDPtr(id *string) (pgtype.UUID, error) {
	if id == nil {
		return pgtype.UUID{}, nil
	}
	return parseUUID(*id)
}

// parseUUIDs is parseUUID of every id.
func parseUUIDs(ids []string) ([]pgtype.UUID, error) {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		u, err := parseUUID(id)
		if err != nil {
			return nil, err
		}
		out[i] = u
	}
	return out, nil
}
