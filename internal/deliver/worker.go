package deliver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/provider"
)

// Defaults of Config.
const (
	MaxAttemptsDefault  = 8
	RetryBaseDefault    = 2 * time.Second
	RetryMaxDefault     = 10 * time.Minute
	SnoozeMinDefault    = time.Second
	SendTimeoutDefault  = 30 * time.Second
	maxErrorText        = 2000
	maxIdempotencyChars = 256
)

// Config configures the delivery worker.
type Config struct {
	// Senders sends each channel. A channel without a sender is unreachable (its jobs fall
	// back). Required: at least one.
	Senders map[channel.Kind]channel.Sender
	// MaxAttempts bounds the attempts of one delivery job. Defaults to MaxAttemptsDefault (8).
	MaxAttempts int
	// RetryBase is the first retry delay; each attempt doubles it (provider.Backoff, with its
	// jitter).
	// Defaults to RetryBaseDefault (2 s).
	RetryBase time.Duration
	// RetryMax caps the retry delay. Defaults to RetryMaxDefault (10 min).
	RetryMax time.Duration
	// SnoozeMin is the shortest wait after a 429 without a usable Retry-After. Defaults to
	// SnoozeMinDefault (1 s).
	SnoozeMin time.Duration
	// SendTimeout bounds one job's provider call. Defaults to SendTimeoutDefault (30 s).
	SendTimeout time.Duration
	// Now is the clock for quiet hours. Defaults to time.Now.
	Now func() time.Time
	// Logger receives failures. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.MaxAttempts = cmp.Or(c.MaxAttempts, MaxAttemptsDefault)
	c.RetryBase = cmp.Or(c.RetryBase, RetryBaseDefault)
	c.RetryMax = cmp.Or(c.RetryMax, RetryMaxDefault)
	c.SnoozeMin = cmp.Or(c.SnoozeMin, SnoozeMinDefault)
	c.SendTimeout = cmp.Or(c.SendTimeout, SendTimeoutDefault)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	if len(c.Senders) == 0 {
		return errors.New("deliver: Config.Senders: need at least one channel sender")
	}
	for k, s := range c.Senders {
		if !k.Valid() || s == nil {
			return fmt.Errorf("deliver: Config.Senders[%q]: want push/email/sms and a non-nil sender", k)
		}
	}
	if c.MaxAttempts < 1 || c.RetryBase < 0 || c.RetryMax < c.RetryBase {
		return errors.New("deliver: MaxAttempts ≥ 1 and 0 ≤ RetryBase ≤ RetryMax required")
	}
	return nil
}

// Worker works notify.DeliverArgs jobs.
type Worker struct {
	river.WorkerDefaults[notify.DeliverArgs]
	pool *pgxpool.Pool
	cfg  Config
}

// NewWorker returns the delivery worker. It inserts fallback jobs through the River client
// of the job's context.
func NewWorker(pool *pgxpool.Pool, cfg Config) (*Worker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("deliver: nil pool")
	}
	return &Worker{pool: pool, cfg: cfg}, nil
}

var (
	attempts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_deliver_attempts_total",
		Help: "Delivery attempts by channel, provider and outcome (sent, unreachable, unavailable, rate_limited, transient, permanent, suppressed, deferred).",
	}, []string{"channel", "provider", "outcome"})
	sendSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vendorhub_deliver_send_seconds",
		Help:    "Duration of provider calls by channel and provider.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"channel", "provider"})
)

// NextRetry implements river.Worker: provider.Backoff after the attempt that just failed.
func (w *Worker) NextRetry(job *river.Job[notify.DeliverArgs]) time.Time {
	return time.Now().Add(provider.Backoff(w.cfg.RetryBase, w.cfg.RetryMax, job.Attempt))
}

// Timeout implements river.Worker: the provider call plus the bookkeeping.
func (w *Worker) Timeout(*river.Job[notify.DeliverArgs]) time.Duration {
	return w.cfg.SendTimeout + 30*time.Second
}

// target is what a channel needs to reach the user, read at send time, and the user's quiet
// hours (quiet holds only those).
type target struct {
	email, phone string
	emailOK      bool
	phoneOK      bool
	tokens       []string
	quiet        notify.Recipient
}

// targetColumns selects the target of user $1 from public.notification_settings aliased s
// (columns null when the user has no settings row); scan reads them.
const targetColumns = `
coalesce(case when s.email_verified_at is not null then s.email end, ''), coalesce(s.email_bounced_at is null, false),
coalesce(case when s.phone_verified_at is not null then s.phone end, ''),
coalesce(s.sms_opted_out_at is null and s.phone_invalid_at is null, false),
array(select d.token from public.devices d where d.user_id = $1::uuid and d.enabled order by d.last_seen_at desc limit 500),
` + notify.QuietColumns

// scan returns the destinations of targetColumns and a function that completes t after the
// scan.
func (t *target) scan() (dest []any, done func()) {
	var (
		tz     string
		qs, qe int32
	)
	return []any{&t.email, &t.emailOK, &t.phone, &t.phoneOK, &t.tokens, &tz, &qs, &qe},
		func() { t.quiet.SetQuiet(tz, qs, qe) }
}

func (t *target) reachable(ch channel.Kind) (to []string, code string) {
	switch ch {
	case channel.Push:
		if len(t.tokens) == 0 {
			return nil, channel.CodeNoDevice
		}
		return t.tokens, ""
	case channel.Email:
		if t.email == "" {
			return nil, channel.CodeInvalidAddress
		}
		if !t.emailOK {
			return nil, channel.CodeBounced
		}
		return []string{t.email}, ""
	case channel.SMS:
		if t.phone == "" {
			return nil, channel.CodeInvalidNumber
		}
		if !t.phoneOK {
			return nil, channel.CodeOptedOut
		}
		return []string{t.phone}, ""
	}
	return nil, "invalid_channel"
}

func loadTarget(ctx context.Context, q notify.Queryer, userID string) (*target, error) {
	rows, err := q.Query(ctx, `select `+targetColumns+`
from (select $1::uuid as id) u left join public.notification_settings s on s.user_id = u.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("deliver: load target: %w", err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (*target, error) {
		t := &target{}
		dest, done := t.scan()
		if err := r.Scan(dest...); err != nil {
			return nil, err
		}
		done()
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("deliver: load target: %w", err)
	}
	return t, nil
}

// notification is the row being delivered.
type notification struct {
	title, body, eventKey, category string
	weddingID                       *string
	data                            map[string]any
}

// IdempotencyKey is the provider idempotency key of a delivery: the causing event's key,
// the recipient and the channel — the same across retries, replays and restarts.
func IdempotencyKey(eventKey, userID string, ch channel.Kind) string {
	k := "vendorhub/" + eventKey + "/" + userID + "/" + string(ch)
	if len(k) > maxIdempotencyChars {
		k = k[:maxIdempotencyChars]
	}
	return k
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[notify.DeliverArgs]) error {
	a := job.Args
	if !a.Channel.Valid() {
		return river.JobCancel(fmt.Errorf("deliver: job %d: invalid channel %q", job.ID, a.Channel))
	}
	// The notification and its recipient's target in one round trip.
	var (
		n    notification
		data []byte
		tgt  target
	)
	dest, done := tgt.scan()
	err := w.pool.QueryRow(ctx, `
select n.title, coalesce(n.body, ''), coalesce(n.event_key, n.id::text), n.category, n.wedding_id::text, n.data,`+targetColumns+`
from public.notifications n left join public.notification_settings s on s.user_id = n.user_id
where n.id = $2 and n.user_id = $1`, a.UserID, a.NotificationID).
		Scan(append([]any{&n.title, &n.body, &n.eventKey, &n.category, &n.weddingID, &data}, dest...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the notification (or its user) was deleted: nothing to deliver
	}
	if err != nil {
		return fmt.Errorf("deliver: load notification: %w", err)
	}
	done()
	_ = json.Unmarshal(data, &n.data)
	sender := w.cfg.Senders[a.Channel]
	prov := "none"
	if sender != nil {
		prov = sender.Provider()
	}
	rec := &record{args: a, attempt: job.Attempt, provider: prov, eventKey: n.eventKey, weddingID: n.weddingID}

	now := w.cfg.Now()
	if !a.Critical && notify.Deferrable(a.Channel) {
		if end, quiet := tgt.quiet.QuietUntil(now); quiet {
			rec.status, rec.code, rec.text = "deferred", "quiet_hours", "quiet hours: deferred until "+end.UTC().Format(time.RFC3339)
			if err := w.commit(ctx, job, rec, false); err != nil {
				return err
			}
			attempts.WithLabelValues(string(a.Channel), prov, "deferred").Inc()
			return river.JobSnooze(end.Sub(now))
		}
	}

	to, code := tgt.reachable(a.Channel)
	if sender == nil {
		to, code = nil, "no_provider"
	}
	if to == nil {
		rec.status, rec.code, rec.text, rec.fallback = "suppressed", code, "recipient unreachable on "+string(a.Channel), true
		attempts.WithLabelValues(string(a.Channel), prov, "suppressed").Inc()
		return w.commit(ctx, job, rec, true)
	}

	msg := channel.Message{Channel: a.Channel, IdempotencyKey: IdempotencyKey(n.eventKey, a.UserID, a.Channel),
		To: to, Title: n.title, Body: n.body, Data: pushData(a.NotificationID, n)}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	start := time.Now()
	res, sendErr := sender.Send(sctx, msg)
	cancel()
	sendSeconds.WithLabelValues(string(a.Channel), prov).Observe(time.Since(start).Seconds())
	rec.providerID, rec.deadTokens = res.ProviderID, res.DeadTokens

	if pe, ok := provider.As(sendErr); ok {
		rec.code = pe.Code
	}
	if sendErr != nil {
		rec.text = sendErr.Error()
	}
	o := decide(sendErr, job.Attempt, min(job.MaxAttempts, w.cfg.MaxAttempts), w.cfg.SnoozeMin)
	rec.status, rec.fallback, rec.unreachable, rec.gaveUp = o.status, o.fallback, o.unreachable, o.gaveUp
	attempts.WithLabelValues(string(a.Channel), prov, o.metric).Inc()
	if err := w.commit(ctx, job, rec, o.complete); err != nil {
		return err
	}
	return o.jobResult(sendErr, job.Attempt)
}

// outcome is what the worker does after one send: the attempt's deliveries row, whether the
// commit completes the job, and River's answer after it.
type outcome struct {
	// status is the deliveries row's status: sent, failed or deferred; metric the attempts label.
	status, metric string
	// fallback inserts the next channel's job; unreachable marks the recipient; gaveUp emits
	// integration.failed.
	fallback, unreachable, gaveUp bool
	// complete completes the job in the attempt's transaction.
	complete bool
	// decision is River's answer when the job is not completed in the transaction.
	decision provider.Decision
}

// decide is the delivery rule, without I/O: the provider's answer (sendErr), the attempt that
// made it and the attempts allowed → the outcome. Sent completes; an unreachable recipient or
// an open breaker completes and falls back to the next channel; a rate limit defers and
// snoozes (Retry-After, at least snoozeMin; not an attempt); a transient failure is retried
// until the last attempt, which gives up and falls back; a permanent one gives up at once.
func decide(sendErr error, attempt, maxAttempts int, snoozeMin time.Duration) outcome {
	d := provider.Policy{SnoozeMin: snoozeMin}.Decide(sendErr, attempt)
	switch class := provider.ClassOf(sendErr); class {
	case 0:
		return outcome{status: "sent", metric: "sent", complete: true}
	case provider.Unreachable, provider.Unavailable:
		return outcome{status: "failed", metric: class.String(), fallback: true, unreachable: class == provider.Unreachable, complete: true}
	case provider.RateLimited:
		return outcome{status: "deferred", metric: "rate_limited", decision: d}
	case provider.Transient:
		if attempt >= maxAttempts {
			return outcome{status: "failed", metric: "transient", fallback: true, gaveUp: true, decision: provider.Decision{Action: provider.Cancel}}
		}
		return outcome{status: "failed", metric: "transient", decision: provider.Decision{Action: provider.Retry}}
	}
	return outcome{status: "failed", metric: "permanent", fallback: true, gaveUp: true, decision: provider.Decision{Action: provider.Cancel}}
}

// jobResult is the worker's return value after the outcome is committed.
func (o outcome) jobResult(sendErr error, attempt int) error {
	switch {
	case o.complete:
		return nil
	case o.decision.Action == provider.Cancel && provider.ClassOf(sendErr) == provider.Transient:
		return river.JobCancel(fmt.Errorf("deliver: gave up after %d attempts: %w", attempt, sendErr))
	}
	return o.decision.JobResult(sendErr)
}

// pushData is the app payload of a push: ids to open the notification.
func pushData(notificationID string, n notification) map[string]string {
	d := map[string]string{"notification_id": notificationID, "category": n.category}
	if t, ok := n.data["event_type"].(string); ok {
		d["event_type"] = t
	}
	return d
}

// record is the outcome of one attempt.
type record struct {
	args                  notify.DeliverArgs
	attempt               int
	provider              string
	status, code, text    string
	providerID            string
	eventKey              string
	weddingID             *string
	deadTokens            []string
	fallback, unreachable bool
	gaveUp                bool
}

// commit writes rec in one transaction: the attempt's deliveries row, the recipient's
// state, the fallback job, an integration.failed event when the delivery gave up, and —
// when complete is set — the job's completion, so a crash can't complete the job without
// its row or fallback (and vice versa).
func (w *Worker) commit(ctx context.Context, job *river.Job[notify.DeliverArgs], rec *record, complete bool) error {
	ctx = context.WithoutCancel(ctx) // the provider already answered: record it even if the job's context ended
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("deliver: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	a := rec.args
	var deliveryID string
	if err := tx.QueryRow(ctx, `
insert into public.deliveries (notification_id, user_id, channel, provider, status, attempt, error_code, error, provider_id, event_key)
values ($1, $2, $3, $4, $5, $6, nullif($7, ''), nullif($8, ''), nullif($9, ''), $10)
on conflict (notification_id, channel, attempt) do update set
  provider = excluded.provider, status = excluded.status, error_code = excluded.error_code,
  error = excluded.error, provider_id = coalesce(excluded.provider_id, deliveries.provider_id)
returning id::text`, a.NotificationID, a.UserID, string(a.Channel), rec.provider, rec.status, max(rec.attempt, 1),
		truncate(rec.code, 200), truncate(rec.text, maxErrorText), truncate(rec.providerID, 500), rec.eventKey).Scan(&deliveryID); err != nil {
		return fmt.Errorf("deliver: record attempt: %w", err)
	}
	if err := markRecipient(ctx, tx, a.UserID, a.Channel, rec); err != nil {
		return err
	}
	if rec.gaveUp {
		if err := emitFailed(ctx, tx, deliveryID, rec); err != nil {
			return err
		}
	}
	if rec.fallback {
		if err := w.fallback(ctx, tx, a); err != nil {
			return err
		}
	}
	if complete {
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return fmt.Errorf("deliver: complete job: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("deliver: commit: %w", err)
	}
	return nil
}

// markRecipient applies what the provider said about the recipient: dead tokens disable
// their devices; STOP opts the number out; an invalid number is marked; a bad address is
// marked bounced.
func markRecipient(ctx context.Context, tx pgx.Tx, userID string, ch channel.Kind, rec *record) error {
	var err error
	switch {
	case len(rec.deadTokens) > 0:
		reason := channel.CodeDeadTokens
		if rec.unreachable && rec.code != "" {
			reason = rec.code // UNREGISTERED, SENDER_ID_MISMATCH or INVALID_ARGUMENT (bad token)
		}
		_, err = tx.Exec(ctx, `update public.devices set enabled = false, disabled_reason = $3
where user_id = $1 and token = any($2) and enabled`, userID, rec.deadTokens, truncate(reason, 200))
	case !rec.unreachable:
	case ch == channel.SMS && rec.code == channel.CodeOptedOut:
		_, err = tx.Exec(ctx, `update public.notification_settings set sms_opted_out_at = now() where user_id = $1 and sms_opted_out_at is null`, userID)
	case ch == channel.SMS:
		_, err = tx.Exec(ctx, `update public.notification_settings set phone_invalid_at = now() where user_id = $1 and phone_invalid_at is null`, userID)
	case ch == channel.Email && rec.code == channel.CodeInvalidAddress:
		_, err = tx.Exec(ctx, `update public.notification_settings set email_bounced_at = now() where user_id = $1 and email_bounced_at is null`, userID)
	}
	if err != nil {
		return fmt.Errorf("deliver: mark recipient: %w", err)
	}
	return nil
}

// emitFailed raises integration.failed for a delivery that gave up. The planner does not
// turn these into notifications (data.kind = "delivery").
func emitFailed(ctx context.Context, tx pgx.Tx, deliveryID string, rec *record) error {
	subject, _ := json.Marshal(map[string]any{"table": "deliveries", "id": deliveryID, "user_id": rec.args.UserID})
	data, _ := json.Marshal(map[string]any{"kind": "delivery", "delivery_id": deliveryID, "notification_id": rec.args.NotificationID,
		"channel": rec.args.Channel, "provider": rec.provider, "error_code": rec.code, "attempt": rec.attempt,
		"reason": truncate(rec.text, 280)})
	if _, err := tx.Exec(ctx, `select vendorhub.emit('integration.failed', $1::uuid, $2::jsonb, $3::jsonb)`, rec.weddingID, subject, data); err != nil {
		return fmt.Errorf("deliver: emit integration.failed: %w", err)
	}
	return nil
}

// fallback inserts the job of the next channel of a's chain that can reach the user now,
// unique on its arguments so a re-run of this job cannot fall back twice. A non-critical
// push or SMS fallback inside quiet hours is scheduled for the window's end.
func (w *Worker) fallback(ctx context.Context, tx pgx.Tx, a notify.DeliverArgs) error {
	if len(a.Rest) == 0 {
		return nil
	}
	tgt, err := loadTarget(ctx, tx, a.UserID)
	if err != nil {
		return err
	}
	rest := a.Rest
	for len(rest) > 0 {
		if to, _ := tgt.reachable(rest[0]); to != nil && w.cfg.Senders[rest[0]] != nil {
			break
		}
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil
	}
	next := notify.DeliverArgs{NotificationID: a.NotificationID, UserID: a.UserID, Channel: rest[0], Rest: rest[1:], Critical: a.Critical}
	opts := &river.InsertOpts{Queue: notify.Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if !a.Critical && notify.Deferrable(next.Channel) {
		if end, quiet := tgt.quiet.QuietUntil(w.cfg.Now()); quiet {
			opts.ScheduledAt = end
		}
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("deliver: fallback: %w", err)
	}
	if _, err := client.InsertTx(ctx, tx, next, opts); err != nil {
		return fmt.Errorf("deliver: fallback job: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
