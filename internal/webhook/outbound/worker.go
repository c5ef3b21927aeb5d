package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

var (
	metricAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vendorhub_webhook_outbound_attempts_total",
		Help: "Outbound webhook attempts by outcome (succeeded, failed, gone; circuit_open: put off by an open breaker, no request made).",
	}, []string{"outcome"})
	metricDisabled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vendorhub_webhook_outbound_endpoints_disabled_total",
		Help: "Outbound webhook endpoints disabled (410 Gone or failing for too long).",
	})
	metricLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vendorhub_webhook_outbound_attempt_seconds",
		Help:    "Duration of outbound webhook HTTP attempts.",
		Buckets: prometheus.DefBuckets,
	})
)

// Collectors returns the package's Prometheus collectors, for the sidecar's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{metricAttempts, metricDisabled, metricLatency}
}

// Worker sends delivery attempts. Register it with river.AddWorker.
type Worker struct {
	river.WorkerDefaults[DeliveryArgs]
	pool    *pgxpool.Pool
	keyring *secret.Keyring
	cfg     Config
}

// NewWorker returns a Worker on pool's database, opening signing secrets with keyring.
func NewWorker(pool *pgxpool.Pool, keyring *secret.Keyring, cfg Config) *Worker {
	return &Worker{pool: pool, keyring: keyring, cfg: cfg.WithDefaults()}
}

// Timeout implements river.Worker: an attempt plus its bookkeeping.
func (w *Worker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return w.cfg.Timeout + 15*time.Second
}

// NextRetry implements river.Worker: the retry schedule, on the worker's clock.
func (w *Worker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	return w.cfg.Now().Add(w.cfg.NextDelay(job.Attempt))
}

// delivery is what one attempt needs.
type delivery struct {
	id, endpointID, vendorID, url, messageID, status, body string
	enabled                                                bool
	failingSince                                           *time.Time
	connectionID                                           *string
}

// breaker names the circuit breaker of d's endpoint: its integration connection's, if any.
func (d delivery) breaker() string {
	if d.connectionID != nil {
		return breaker.Connection(*d.connectionID)
	}
	return breaker.Endpoint(d.endpointID)
}

// errOutage carries an attempt's outage to the breaker.
var errOutage = errors.New("outbound: endpoint outage")

// Work implements river.Worker: one attempt of one delivery.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	d, err := w.load(ctx, job.Args.DeliveryID)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("outbound: delivery %s no longer exists", job.Args.DeliveryID))
	}
	if err != nil {
		return err
	}
	if d.status == "succeeded" && !job.Args.Replay {
		return nil // a rescued job whose attempt had succeeded
	}
	if !d.enabled {
		_, err := w.pool.Exec(ctx, `update public.webhook_deliveries set status = 'discarded', last_error = 'endpoint disabled',
			next_attempt_at = null where id = $1`, d.id)
		if err != nil {
			return err
		}
		return river.JobCancel(errors.New("outbound: endpoint disabled"))
	}
	now := w.cfg.Now()
	secrets, err := signingSecrets(ctx, w.pool, w.keyring, d.endpointID, now, w.cfg.RotationOverlap)
	if err != nil {
		return fmt.Errorf("outbound: signing secret of endpoint %s: %w", d.endpointID, err)
	}
	var (
		attempt, status int
		dur             time.Duration
		sendErr         error
		v               Verdict
	)
	attemptFn := func() error {
		if err := w.pool.QueryRow(ctx, `update public.webhook_deliveries set attempts = attempts + 1 where id = $1 returning attempts`,
			d.id).Scan(&attempt); err != nil {
			return err
		}
		status, dur, sendErr = w.send(ctx, d, secrets, now)
		v = Decide(Attempt{Now: now, FailingSince: d.failingSince, Number: job.Attempt, Max: job.MaxAttempts, Status: status, SendErr: sendErr},
			w.cfg.DisableAfter, w.cfg.NextDelay)
		if v.Outage() && ctx.Err() == nil { // a shutdown is not the endpoint's fault
			return errOutage
		}
		return nil
	}
	if w.cfg.Breakers == nil {
		err = attemptFn()
	} else {
		err = w.cfg.Breakers.DoIf(d.breaker(), attemptFn, func(err error) bool { return errors.Is(err, errOutage) })
	}
	var open *breaker.OpenError
	switch {
	case errors.As(err, &open):
		return w.snooze(ctx, d, open)
	case err != nil && !errors.Is(err, errOutage):
		return err
	}
	metricLatency.Observe(dur.Seconds())
	metricAttempts.WithLabelValues(v.Outcome).Inc()
	if err := w.record(ctx, d, v, attempt, status, dur, sendErr, now); err != nil {
		return fmt.Errorf("outbound: record attempt of %s: %w", d.id, err)
	}
	switch v.Next {
	case Delivered:
		return nil
	case Disable:
		return river.JobCancel(fmt.Errorf("outbound: endpoint disabled: %s", v.Reason))
	}
	return v.Err // River retries (NextRetry) or, after the last attempt, discards
}

// record writes the attempt and its verdict in one transaction: the attempt's row, the
// delivery's state, the endpoint's health and, for Disable, the endpoint turned off.
func (w *Worker) record(ctx context.Context, d delivery, v Verdict, attempt, status int, dur time.Duration,
	sendErr error, now time.Time) error {
	var errText *string
	if sendErr != nil {
		s := sendErr.Error()
		errText = &s
	}
	var code *int
	if sendErr == nil {
		code = &status
	}
	var nextAt *time.Time
	if v.Next == RetryAt {
		nextAt = &v.At
	}
	outcome, finalStatus, disableReason := v.Outcome, v.Status(), ""
	if v.Next == Disable {
		disableReason = v.Reason
	}
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `insert into public.webhook_delivery_attempts
			(delivery_id, endpoint_id, vendor_id, attempt, started_at, duration_ms, status_code, outcome, error)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			d.id, d.endpointID, d.vendorID, attempt, now, dur.Milliseconds(), code, outcome, errText); err != nil {
			return err
		}
		lastErr := errText
		if lastErr == nil && outcome != "succeeded" {
			s := fmt.Sprintf("endpoint answered %d", status)
			lastErr = &s
		}
		if _, err := tx.Exec(ctx, `update public.webhook_deliveries set status = $2, last_status_code = $3, last_error = $4,
			next_attempt_at = $5, succeeded_at = case when $2 = 'succeeded' then $6::timestamptz else succeeded_at end where id = $1`,
			d.id, finalStatus, code, lastErr, nextAt, now); err != nil {
			return err
		}
		if outcome == "succeeded" {
			_, err := tx.Exec(ctx, `update public.webhook_endpoints set last_success_at = $2, failing_since = null where id = $1`, d.endpointID, now)
			return err
		}
		if _, err := tx.Exec(ctx, `update public.webhook_endpoints set last_failure_at = $2,
			failing_since = coalesce(failing_since, $2) where id = $1`, d.endpointID, now); err != nil {
			return err
		}
		if disableReason == "" {
			return nil
		}
		return w.disable(ctx, tx, d, disableReason, now)
	})
}

// snooze puts the delivery off while its endpoint's breaker is open: no attempt is made or
// counted (River gives the job's attempt back), and the delivery shows when it will be tried.
func (w *Worker) snooze(ctx context.Context, d delivery, open *breaker.OpenError) error {
	wait := provider.Jitter(max(open.RetryAfter, time.Second)) // spread the snoozed jobs of one endpoint
	if _, err := w.pool.Exec(ctx, `update public.webhook_deliveries set next_attempt_at = $2,
		last_error = 'circuit breaker open: the endpoint has been failing' where id = $1 and status = 'pending'`,
		d.id, w.cfg.Now().Add(wait)); err != nil {
		return err
	}
	metricAttempts.WithLabelValues("circuit_open").Inc()
	return river.JobSnooze(wait)
}

// disable turns an endpoint off and fails its other pending deliveries' futures (their jobs see
// the endpoint disabled and stop).
func (w *Worker) disable(ctx context.Context, tx pgx.Tx, d delivery, reason string, now time.Time) error {
	tag, err := tx.Exec(ctx, `update public.webhook_endpoints set enabled = false, disabled_at = $2, disabled_reason = $3
		where id = $1 and enabled`, d.endpointID, now, reason)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	metricDisabled.Inc()
	e := audit.Entry{Action: audit.ActionEndpointDisabled, Subject: "webhook_endpoint:" + d.endpointID, Reason: reason,
		Details: map[string]any{"vendor_id": d.vendorID, "delivery_id": d.id}}
	return audit.Write(ctx, tx, e)
}

func (w *Worker) load(ctx context.Context, id string) (delivery, error) {
	var d delivery
	err := w.pool.QueryRow(ctx, `select d.id, d.endpoint_id, d.vendor_id, e.url, d.message_id, d.status, d.body, e.enabled, e.failing_since,
		e.connection_id::text
		from public.webhook_deliveries d join public.webhook_endpoints e on e.id = d.endpoint_id where d.id = $1`, id).
		Scan(&d.id, &d.endpointID, &d.vendorID, &d.url, &d.messageID, &d.status, &d.body, &d.enabled, &d.failingSince, &d.connectionID)
	return d, err
}

// send makes the HTTP attempt: status code and duration. Nothing of the answer's body is kept:
// what the vendor's members read is the status code and a fixed message.
func (w *Worker) send(ctx context.Context, d delivery, secrets [][]byte, now time.Time) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	body := []byte(d.body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("invalid endpoint URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	signature.SetHeaders(req.Header, signature.StandardHeaders, secrets, d.messageID, now, body)
	start := time.Now()
	resp, err := w.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, time.Since(start), sanitize(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // capped by the client at MaxResponseBytes
	return resp.StatusCode, time.Since(start), nil
}

// ErrPrivateAddress matches attempts the guarded client refused (netguard.ErrBlocked).
var ErrPrivateAddress = netguard.ErrBlocked

// sanitize keeps transport errors short and fixed where it can, and free of URL userinfo and
// query strings (netguard.Redact) where it cannot. A refused address stays ErrPrivateAddress
// (fixed text, no address), which Decide classifies as permanent.
func sanitize(err error) error {
	switch {
	case errors.Is(err, netguard.ErrBlocked):
		return ErrPrivateAddress
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("timed out")
	}
	s := netguard.RedactError(err)
	if len(s) > 300 {
		s = s[:300]
	}
	return errors.New(s)
}

// Replay re-queues endpoint's deliveries of events that occurred in [since, until) — only the
// failed ones unless all — through public.replay_webhook_deliveries. It returns how many.
func Replay(ctx context.Context, q secret.Querier, endpointID string, since, until time.Time, all bool) (int, error) {
	var n int
	err := q.QueryRow(ctx, `select public.replay_webhook_deliveries($1, $2, $3, $4)`, endpointID, since, until, !all).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("outbound: replay endpoint %s: %w", endpointID, err)
	}
	return n, nil
}
