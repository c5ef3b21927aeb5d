package health

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
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/breaker"
)

// ActionBreakerChanged is the audit action of a breaker state change.
const ActionBreakerChanged = "breaker.changed"

// Defaults of RecorderConfig.
const (
	RecorderQueueDefault = 256
	RetryDefault         = 2 * time.Second
	// RecorderMaxAttemptsDefault is RecorderConfig.MaxAttempts' default.
	RecorderMaxAttemptsDefault = 60
)

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// Instance names this sidecar in transition rows. Required.
	Instance string
	// AlertWebhook enqueues an AlertArgs job per transition (worked by AlertWorker) when
	// set. Defaults to false.
	AlertWebhook bool
	// Jobs inserts the alert jobs (the sidecar's River client). Defaults to nil: none
	// inserted.
	Jobs Inserter
	// Queue bounds the transitions waiting to be written; beyond it they are dropped and
	// counted. Defaults to RecorderQueueDefault (256).
	Queue int
	// Retry is the wait before writing a transition again after a database error. Defaults
	// to RetryDefault (2 s).
	Retry time.Duration
	// MaxAttempts bounds the writes of one transition; then it is dropped, logged and
	// counted (so one bad transition cannot block the others). Defaults to
	// RecorderMaxAttemptsDefault (60: two minutes at the default Retry).
	MaxAttempts int
	// Logger receives write failures. Defaults to slog.Default().
	Logger *slog.Logger
}

// Inserter inserts a River job inside a transaction; *river.Client[pgx.Tx] is one.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Recorder writes breaker transitions durably (see Record), in order, from one goroutine.
type Recorder struct {
	pool *pgxpool.Pool
	cfg  RecorderConfig
	ch   chan breaker.Transition
	// Written, when set, receives each transition once it committed (tests).
	Written chan<- breaker.Transition
}

// NewRecorder returns a Recorder writing through pool.
func NewRecorder(pool *pgxpool.Pool, cfg RecorderConfig) (*Recorder, error) {
	cfg.Queue = cmp.Or(cfg.Queue, RecorderQueueDefault)
	cfg.Retry = cmp.Or(cfg.Retry, RetryDefault)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, RecorderMaxAttemptsDefault)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if pool == nil || cfg.Instance == "" {
		return nil, errors.New("health: NewRecorder needs a pool and RecorderConfig.Instance")
	}
	return &Recorder{pool: pool, cfg: cfg, ch: make(chan breaker.Transition, cfg.Queue)}, nil
}

// Notify queues t without blocking (Breakers.OnChange).
func (r *Recorder) Notify(t breaker.Transition) {
	select {
	case r.ch <- t:
	default:
		transitionsDropped.Inc()
		r.cfg.Logger.Error("health: breaker transition dropped: recorder queue full", "breaker", t.Breaker, "to", t.To)
	}
}

// Run writes queued transitions until ctx ends, retrying each until it is written; then it
// writes what is still queued with a short deadline and returns nil.
func (r *Recorder) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			r.drain()
			return nil
		case t := <-r.ch:
			for attempt := 1; ; attempt++ {
				err := r.write(ctx, t)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					r.cfg.Logger.Error("health: breaker transition not recorded at shutdown", "breaker", t.Breaker, "err", err)
					break
				}
				if attempt >= r.cfg.MaxAttempts {
					transitionsDropped.Inc()
					r.cfg.Logger.Error("health: breaker transition dropped after repeated failures", "breaker", t.Breaker,
						"to", t.To, "attempts", attempt, "err", err)
					break
				}
				r.cfg.Logger.Warn("health: recording breaker transition failed; retrying", "breaker", t.Breaker, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(r.cfg.Retry):
				}
			}
		}
	}
}

func (r *Recorder) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case t := <-r.ch:
			if err := r.write(ctx, t); err != nil {
				r.cfg.Logger.Error("health: breaker transition not recorded at shutdown", "breaker", t.Breaker, "err", err)
			}
		default:
			return
		}
	}
}

func (r *Recorder) write(ctx context.Context, t breaker.Transition) error {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	id, err := Record(ctx, tx, r.cfg.Instance, t)
	if err != nil {
		return err
	}
	if r.cfg.AlertWebhook && r.cfg.Jobs != nil {
		if c := r.cfg.Jobs; c != nil {
			if _, err := c.InsertTx(ctx, tx, AlertArgs{TransitionID: id, Breaker: t.Breaker, From: t.From, To: t.To,
				At: t.At, Instance: r.cfg.Instance, ConsecutiveFailures: t.ConsecutiveFailures, LastError: t.LastError}, nil); err != nil {
				return fmt.Errorf("health: alert job: %w", err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if r.Written != nil {
		r.Written <- t
	}
	return nil
}

// Record writes t inside tx: its vendorhub.breaker_transitions row, its breaker.changed
// event, its audit row and an in-app notification for every operator. It returns the
// transition's id.
func Record(ctx context.Context, tx pgx.Tx, instance string, t breaker.Transition) (string, error) {
	data, err := json.Marshal(map[string]any{
		"breaker": t.Breaker, "kind": breakerKind(t.Breaker), "target": breakerTarget(t.Breaker),
		"from": t.From, "to": t.To, "consecutive_failures": t.ConsecutiveFailures,
		"last_error": clip(t.LastError, 500), "instance": instance, "at": t.At.UTC()})
	if err != nil {
		return "", err
	}
	var id, eventID string
	err = tx.QueryRow(ctx, `
with t as (select gen_random_uuid() as id),
ev as (
  select t.id, vendorhub.emit('breaker.changed', null,
           jsonb_build_object('table', 'breaker_transitions', 'id', t.id), $1::jsonb) as event_id
  from t)
insert into vendorhub.breaker_transitions (id, occurred_at, instance, breaker, from_state, to_state,
  consecutive_failures, last_error, event_id)
select ev.id, $2, $3, $4, $5, $6, $7, nullif($8, ''), ev.event_id from ev
returning id::text, event_id::text`,
		data, t.At, instance, t.Breaker, t.From, t.To, t.ConsecutiveFailures, clip(t.LastError, 2000)).Scan(&id, &eventID)
	if err != nil {
		return "", fmt.Errorf("health: record transition: %w", err)
	}
	if err := audit.Write(ctx, tx, audit.Entry{Action: ActionBreakerChanged, Subject: "breaker:" + t.Breaker,
		Reason: fmt.Sprintf("%s → %s after %d consecutive failures", t.From, t.To, t.ConsecutiveFailures),
		Details: map[string]any{"transition_id": id, "event_id": eventID, "instance": instance, "from": t.From,
			"to": t.To, "last_error": t.LastError}, OccurredAt: t.At}); err != nil {
		return "", err
	}
	title, body := alertText(t)
	if _, err := tx.Exec(ctx, `
insert into public.notifications (user_id, category, title, body, data, event_key)
select op, 'integration_failure', $1, $2, $3::jsonb, 'breaker/' || $4
from vendorhub.operator_ids() as op
on conflict (user_id, event_key) do nothing`, title, body, data, id); err != nil {
		return "", fmt.Errorf("health: operator alerts: %w", err)
	}
	return id, nil
}

// alertText is the operators' notification of t.
func alertText(t breaker.Transition) (string, string) {
	what := breakerTarget(t.Breaker)
	switch breakerKind(t.Breaker) {
	case "connection":
		what = "connection " + what
	case "endpoint":
		what = "webhook endpoint " + what
	}
	var title string
	switch t.To {
	case breaker.StateOpen:
		title = fmt.Sprintf("%s is failing: circuit opened", what)
	case breaker.StateHalfOpen:
		title = fmt.Sprintf("%s: probing after an outage", what)
	default:
		title = fmt.Sprintf("%s recovered: circuit closed", what)
	}
	body := fmt.Sprintf("Breaker %s went from %s to %s.", t.Breaker, t.From, t.To)
	if t.To == breaker.StateOpen && t.LastError != "" {
		body += " Last error: " + clip(t.LastError, 300)
	}
	return clip(title, 200), body
}

func breakerKind(name string) string {
	k, _, _ := strings.Cut(name, ":")
	return k
}

func breakerTarget(name string) string {
	_, t, _ := strings.Cut(name, ":")
	return t
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
