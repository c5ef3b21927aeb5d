// Package report computes vendorhub's integration report for a time range from the database
// alone — deliveries by channel and status, notification success rate and delivery time,
// outbound webhook delivery rate and response time, inbound webhooks, CRM and calendar sync
// success rates, realtime latency percentiles (from the health monitor's samples), each
// integration's uptime (from circuit breaker history) and recent errors — and renders it as
// a table, JSON or Markdown. `vendorhub report` and the dashboard's health page share it, so
// they always agree with each other and with the tables.
//
// Rates are successes over settled outcomes, leaving in-flight rows out:
//
//   - notifications: deliveries sent, delivered or opened over those plus failed and
//     suppressed (queued and deferred are in flight);
//   - webhooks: outbound deliveries succeeded over succeeded, failed and discarded;
//   - syncs: runs ok or not_modified over every run but superseded ones.
//
// A rate with nothing settled is absent (nil), not 100 %.
package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/health"
)

// Querier reads rows: a *pgxpool.Pool, *pgx.Conn or pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// CRMKinds are the connection kinds whose syncs count as CRM syncs.
var CRMKinds = []string{"honeybook", "dubsado", "lightblue"}

// RecentErrorsDefault is how many recent errors Build lists.
const RecentErrorsDefault = 10

// Rate is successes over settled outcomes.
type Rate struct {
	Succeeded int64 `json:"succeeded"`
	Settled   int64 `json:"settled"`
	// Rate is Succeeded/Settled, nil when nothing settled.
	Rate *float64 `json:"rate"`
}

func newRate(ok, settled int64) Rate {
	r := Rate{Succeeded: ok, Settled: settled}
	if settled > 0 {
		v := float64(ok) / float64(settled)
		r.Rate = &v
	}
	return r
}

// Percentiles are p50/p95/p99 of N measurements, in milliseconds.
type Percentiles struct {
	N   int64   `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
}

// DeliveryCount is the number of delivery attempts of a channel in a status.
type DeliveryCount struct {
	Channel string `json:"channel"`
	Status  string `json:"status"`
	Count   int64  `json:"count"`
}

// KindRate is the sync success rate of one connection kind.
type KindRate struct {
	Kind string `json:"kind"`
	Rate
}

// Inbound counts the verified webhooks received.
type Inbound struct {
	Received  int64 `json:"received"`
	Processed int64 `json:"processed"`
	Failing   int64 `json:"failing"` // not processed, with an error
}

// Uptime is one integration's availability over the range.
type Uptime struct {
	// Integration is the breaker name ("provider:fcm", "connection:<uuid>").
	Integration string `json:"integration"`
	// Name is a readable name: the provider, or the connection's display name and kind.
	Name string `json:"name"`
	// Status is the connection's status now (connections only).
	Status string `json:"status,omitempty"`
	// Uptime is the share of the range its breaker was closed (on every instance).
	Uptime float64 `json:"uptime"`
	// DownSeconds is the time its breaker was open or half-open.
	DownSeconds float64 `json:"down_seconds"`
	// Transitions counts its breaker state changes in the range.
	Transitions int `json:"transitions"`
}

// ErrorRow is one recent failure.
type ErrorRow struct {
	At      time.Time `json:"at"`
	Source  string    `json:"source"` // delivery, webhook, sync, breaker, inbox
	Subject string    `json:"subject"`
	Message string    `json:"message"`
}

// Report is the integration report of [From, To).
type Report struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	GeneratedAt time.Time `json:"generated_at"`

	Deliveries               []DeliveryCount `json:"deliveries"`
	DeliveryAttempts         int64           `json:"delivery_attempts"`
	NotificationSuccess      Rate            `json:"notification_success"`
	NotificationDeliveryTime Percentiles     `json:"notification_delivery_time"`

	WebhookDelivery     Rate        `json:"webhook_delivery"`
	WebhookResponseTime Percentiles `json:"webhook_response_time"`
	InboundWebhooks     Inbound     `json:"inbound_webhooks"`

	CRMSync    Rate       `json:"crm_sync"`
	SyncByKind []KindRate `json:"sync_by_kind"`

	RealtimeLatency Percentiles `json:"realtime_latency"`

	Uptime []Uptime `json:"uptime"`

	// OverallHealth is the mean of the rates that have data (notification success,
	// webhook delivery, CRM sync) and of the integrations' uptimes; nil with no data.
	OverallHealth *float64 `json:"overall_health"`

	RecentErrors []ErrorRow `json:"recent_errors"`
}

// Options tune Build.
type Options struct {
	// RecentErrors is the number of recent errors listed. Defaults to RecentErrorsDefault.
	RecentErrors int
}

// ErrRange reports a range whose end is not after its start.
var ErrRange = errors.New("report: the range end must be after its start")

// Build computes the report of [from, to) from q's database.
func Build(ctx context.Context, q Querier, from, to time.Time, opts Options) (*Report, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("%w (from %s, to %s)", ErrRange, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if opts.RecentErrors <= 0 {
		opts.RecentErrors = RecentErrorsDefault
	}
	r := &Report{From: from, To: to, GeneratedAt: time.Now()}
	steps := []func(context.Context, Querier, *Report) error{
		deliveries, deliveryTime, webhooks, inbound, syncs, realtimeLatency, uptime,
	}
	for _, step := range steps {
		if err := step(ctx, q, r); err != nil {
			return nil, err
		}
	}
	if err := recentErrors(ctx, q, r, opts.RecentErrors); err != nil {
		return nil, err
	}
	r.OverallHealth = overall(r)
	return r, nil
}

func deliveries(ctx context.Context, q Querier, r *Report) error {
	rows, err := q.Query(ctx, `
select channel::text, status, count(*) from public.deliveries
where created_at >= $1 and created_at < $2
group by 1, 2 order by 1, 2`, r.From, r.To)
	if err != nil {
		return fmt.Errorf("report: deliveries: %w", err)
	}
	r.Deliveries, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeliveryCount, error) {
		var d DeliveryCount
		return d, row.Scan(&d.Channel, &d.Status, &d.Count)
	})
	if err != nil {
		return fmt.Errorf("report: deliveries: %w", err)
	}
	var ok, settled int64
	for _, d := range r.Deliveries {
		r.DeliveryAttempts += d.Count
		switch d.Status {
		case "sent", "delivered", "opened":
			ok += d.Count
			settled += d.Count
		case "failed", "suppressed":
			settled += d.Count
		}
	}
	r.NotificationSuccess = newRate(ok, settled)
	return nil
}

// percentilesSQL wraps a query of one column "ms" into its count and percentiles.
func percentiles(ctx context.Context, q Querier, inner string, args ...any) (Percentiles, error) {
	var p Percentiles
	err := q.QueryRow(ctx, `
select count(*), coalesce(percentile_cont(0.5) within group (order by ms), 0),
       coalesce(percentile_cont(0.95) within group (order by ms), 0),
       coalesce(percentile_cont(0.99) within group (order by ms), 0)
from (`+inner+`) x`, args...).Scan(&p.N, &p.P50, &p.P95, &p.P99)
	return p, err
}

func deliveryTime(ctx context.Context, q Querier, r *Report) (err error) {
	r.NotificationDeliveryTime, err = percentiles(ctx, q, `
select greatest(extract(epoch from d.created_at - n.created_at) * 1000, 0)::float8 as ms
from public.deliveries d join public.notifications n on n.id = d.notification_id
where d.created_at >= $1 and d.created_at < $2 and d.status in ('sent', 'delivered', 'opened')`, r.From, r.To)
	if err != nil {
		return fmt.Errorf("report: delivery time: %w", err)
	}
	return nil
}

func webhooks(ctx context.Context, q Querier, r *Report) error {
	var ok, settled int64
	err := q.QueryRow(ctx, `
select count(*) filter (where status = 'succeeded'),
       count(*) filter (where status in ('succeeded', 'failed', 'discarded'))
from public.webhook_deliveries where occurred_at >= $1 and occurred_at < $2`, r.From, r.To).Scan(&ok, &settled)
	if err != nil {
		return fmt.Errorf("report: webhook deliveries: %w", err)
	}
	r.WebhookDelivery = newRate(ok, settled)
	r.WebhookResponseTime, err = percentiles(ctx, q, `
select duration_ms::float8 as ms from public.webhook_delivery_attempts
where started_at >= $1 and started_at < $2 and duration_ms is not null`, r.From, r.To)
	if err != nil {
		return fmt.Errorf("report: webhook response time: %w", err)
	}
	return nil
}

func inbound(ctx context.Context, q Querier, r *Report) error {
	err := q.QueryRow(ctx, `
select count(*), count(*) filter (where processed_at is not null),
       count(*) filter (where processed_at is null and last_error is not null)
from vendorhub.webhook_inbox where received_at >= $1 and received_at < $2`, r.From, r.To).
		Scan(&r.InboundWebhooks.Received, &r.InboundWebhooks.Processed, &r.InboundWebhooks.Failing)
	if err != nil {
		return fmt.Errorf("report: inbound webhooks: %w", err)
	}
	return nil
}

func syncs(ctx context.Context, q Querier, r *Report) error {
	rows, err := q.Query(ctx, `
select c.kind, count(*) filter (where s.status in ('ok', 'not_modified')),
       count(*) filter (where s.status <> 'superseded')
from public.sync_runs s join public.integration_connections c on c.id = s.connection_id
where s.started_at >= $1 and s.started_at < $2
group by c.kind order by c.kind`, r.From, r.To)
	if err != nil {
		return fmt.Errorf("report: sync runs: %w", err)
	}
	r.SyncByKind, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (KindRate, error) {
		var k KindRate
		var ok, settled int64
		if err := row.Scan(&k.Kind, &ok, &settled); err != nil {
			return k, err
		}
		k.Rate = newRate(ok, settled)
		return k, nil
	})
	if err != nil {
		return fmt.Errorf("report: sync runs: %w", err)
	}
	var ok, settled int64
	for _, k := range r.SyncByKind {
		if slices.Contains(CRMKinds, k.Kind) {
			ok += k.Succeeded
			settled += k.Settled
		}
	}
	r.CRMSync = newRate(ok, settled)
	return nil
}

func realtimeLatency(ctx context.Context, q Querier, r *Report) error {
	sum := make([]int64, len(health.LatencyBoundsMillis)+1)
	rows, err := q.Query(ctx, `
select i::int, sum(c)::bigint
from vendorhub.health_samples s, unnest(s.realtime_latency_counts) with ordinality as u(c, i)
where s.sampled_at >= $1 and s.sampled_at < $2
group by i order by i`, r.From, r.To)
	if err != nil {
		return fmt.Errorf("report: realtime latency: %w", err)
	}
	var i int
	var c int64
	_, err = pgx.ForEachRow(rows, []any{&i, &c}, func() error {
		if i >= 1 && i <= len(sum) {
			sum[i-1] += c
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("report: realtime latency: %w", err)
	}
	for _, n := range sum {
		r.RealtimeLatency.N += n
	}
	r.RealtimeLatency.P50 = health.HistogramPercentile(sum, 0.50)
	r.RealtimeLatency.P95 = health.HistogramPercentile(sum, 0.95)
	r.RealtimeLatency.P99 = health.HistogramPercentile(sum, 0.99)
	return nil
}

// transition is one breaker state change.
type transition struct {
	breaker, instance, to string
	at                    time.Time
	initial               bool // the state at the range start, not a change inside it
}

func uptime(ctx context.Context, q Querier, r *Report) error {
	// Each (breaker, instance)'s state at the range start, then its changes inside the range.
	rows, err := q.Query(ctx, `
(select distinct on (breaker, instance) breaker, instance, to_state, $1::timestamptz, true
   from vendorhub.breaker_transitions where occurred_at < $1
   order by breaker, instance, occurred_at desc)
union all
(select breaker, instance, to_state, occurred_at, false
   from vendorhub.breaker_transitions where occurred_at >= $1 and occurred_at < $2)
order by 1, 2, 4, 5 desc`, r.From, r.To)
	if err != nil {
		return fmt.Errorf("report: breaker transitions: %w", err)
	}
	var ts []transition
	var t transition
	_, err = pgx.ForEachRow(rows, []any{&t.breaker, &t.instance, &t.to, &t.at, &t.initial}, func() error {
		ts = append(ts, t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("report: breaker transitions: %w", err)
	}
	names := map[string]*Uptime{}
	get := func(name string) *Uptime {
		if u, ok := names[name]; ok {
			return u
		}
		u := &Uptime{Integration: name, Name: strings.TrimPrefix(name, "provider:"), Uptime: 1}
		names[name] = u
		return u
	}
	// Providers that delivered in the range and every connection are listed even without
	// a transition.
	rows, err = q.Query(ctx, `
select distinct provider from public.deliveries where created_at >= $1 and created_at < $2`, r.From, r.To)
	if err != nil {
		return fmt.Errorf("report: providers: %w", err)
	}
	var p string
	if _, err = pgx.ForEachRow(rows, []any{&p}, func() error { get("provider:" + p); return nil }); err != nil {
		return fmt.Errorf("report: providers: %w", err)
	}
	rows, err = q.Query(ctx, `select id::text, kind, display_name, status from public.integration_connections order by kind, display_name`)
	if err != nil {
		return fmt.Errorf("report: connections: %w", err)
	}
	var id, kind, display, status string
	if _, err = pgx.ForEachRow(rows, []any{&id, &kind, &display, &status}, func() error {
		u := get(breaker.Connection(id))
		u.Name, u.Status = display+" ("+kind+")", status
		return nil
	}); err != nil {
		return fmt.Errorf("report: connections: %w", err)
	}

	span := r.To.Sub(r.From)
	byBreaker := map[string][]transition{}
	for _, t := range ts {
		byBreaker[t.breaker] = append(byBreaker[t.breaker], t)
	}
	for name, bts := range byBreaker {
		u := get(name)
		var down []interval
		byInstance := map[string][]transition{}
		for _, t := range bts {
			byInstance[t.instance] = append(byInstance[t.instance], t)
			if !t.initial {
				u.Transitions++
			}
		}
		for _, its := range byInstance {
			down = append(down, downIntervals(its, r.From, r.To)...)
		}
		d := unionLength(down)
		u.DownSeconds = d.Seconds()
		u.Uptime = 1 - float64(d)/float64(span)
	}
	for _, u := range names {
		r.Uptime = append(r.Uptime, *u)
	}
	sort.Slice(r.Uptime, func(i, j int) bool { return r.Uptime[i].Integration < r.Uptime[j].Integration })
	return nil
}

type interval struct{ from, to time.Time }

// downIntervals turns one instance's ordered states into the intervals its breaker was not
// closed, clipped to [from, to).
func downIntervals(ts []transition, from, to time.Time) []interval {
	var out []interval
	var downSince *time.Time
	for _, t := range ts {
		at := t.at
		if at.Before(from) {
			at = from
		}
		if t.to == breaker.StateClosed {
			if downSince != nil {
				out = append(out, interval{*downSince, at})
				downSince = nil
			}
		} else if downSince == nil {
			downSince = &at
		}
	}
	if downSince != nil {
		out = append(out, interval{*downSince, to})
	}
	return out
}

func unionLength(ivs []interval) time.Duration {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].from.Before(ivs[j].from) })
	var total time.Duration
	var cur *interval
	for i := range ivs {
		iv := ivs[i]
		if !iv.to.After(iv.from) {
			continue
		}
		if cur == nil || iv.from.After(cur.to) {
			if cur != nil {
				total += cur.to.Sub(cur.from)
			}
			c := iv
			cur = &c
			continue
		}
		if iv.to.After(cur.to) {
			cur.to = iv.to
		}
	}
	if cur != nil {
		total += cur.to.Sub(cur.from)
	}
	return total
}

func recentErrors(ctx context.Context, q Querier, r *Report, n int) error {
	rows, err := q.Query(ctx, `
(select d.updated_at, 'delivery', d.channel::text || ' via ' || d.provider,
        coalesce(d.error_code || ': ', '') || coalesce(d.error, d.status)
   from public.deliveries d
  where d.status = 'failed' and d.updated_at >= $1 and d.updated_at < $2)
union all
(select a.started_at, 'webhook', e.url, coalesce(a.status_code::text || ' ', '') || coalesce(a.error, a.outcome)
   from public.webhook_delivery_attempts a join public.webhook_endpoints e on e.id = a.endpoint_id
  where a.outcome <> 'succeeded' and a.started_at >= $1 and a.started_at < $2)
union all
(select s.finished_at, 'sync', c.kind || ' ' || c.display_name, coalesce(s.error, s.status)
   from public.sync_runs s join public.integration_connections c on c.id = s.connection_id
  where s.status = 'failed' and s.finished_at >= $1 and s.finished_at < $2)
union all
(select t.occurred_at, 'breaker', t.breaker, t.from_state || ' → ' || t.to_state || coalesce(': ' || t.last_error, '')
   from vendorhub.breaker_transitions t
  where t.to_state = 'open' and t.occurred_at >= $1 and t.occurred_at < $2)
union all
(select i.received_at, 'inbox', i.source, i.last_error
   from vendorhub.webhook_inbox i
  where i.processed_at is null and i.last_error is not null and i.received_at >= $1 and i.received_at < $2)
order by 1 desc limit $3`, r.From, r.To, n)
	if err != nil {
		return fmt.Errorf("report: recent errors: %w", err)
	}
	r.RecentErrors, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ErrorRow, error) {
		var e ErrorRow
		err := row.Scan(&e.At, &e.Source, &e.Subject, &e.Message)
		e.Message = clip(e.Message, 300)
		return e, err
	})
	if err != nil {
		return fmt.Errorf("report: recent errors: %w", err)
	}
	return nil
}

func overall(r *Report) *float64 {
	var sum float64
	var n int
	for _, rate := range []Rate{r.NotificationSuccess, r.WebhookDelivery, r.CRMSync} {
		if rate.Rate != nil {
			sum += *rate.Rate
			n++
		}
	}
	if len(r.Uptime) > 0 {
		var u float64
		for _, x := range r.Uptime {
			u += x.Uptime
		}
		sum += u / float64(len(r.Uptime))
		n++
	}
	if n == 0 {
		return nil
	}
	v := sum / float64(n)
	return &v
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
