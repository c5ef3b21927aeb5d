package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of MonitorConfig.
const (
	PollIntervalDefault   = 5 * time.Second
	SampleIntervalDefault = 30 * time.Second
	RetentionDefault      = 7 * 24 * time.Hour
	WarnFractionDefault   = 0.5
	HistoryDefault        = 360
	QueryTimeoutDefault   = 3 * time.Second
	// GatewayConnectionsMetric is the gauge the embedded gateway keeps of its sockets.
	GatewayConnectionsMetric = "vendorhub_gateway_connections"
)

// Slot risk levels of Sample.Risk.
const (
	RiskOK       = "ok"
	RiskWarning  = "warning"
	RiskCritical = "critical"
)

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	// Slot is the replication slot watched. Required.
	Slot string
	// Instance names this process in sample rows. Required.
	Instance string
	// PollInterval is the time between polls (and the resolution of lag). Defaults to
	// PollIntervalDefault (5 s).
	PollInterval time.Duration
	// SampleInterval is the time between rows written to vendorhub.health_samples; 0 after
	// defaults is impossible, negative disables writing. Defaults to SampleIntervalDefault (30 s).
	SampleInterval time.Duration
	// Retention is how long sample rows are kept. Defaults to RetentionDefault (7 days).
	Retention time.Duration
	// WarnFraction raises a warning once the slot retains this fraction of
	// max_slot_wal_keep_size (safe_wal_size below 1-WarnFraction of it). Defaults to
	// WarnFractionDefault (0.5).
	WarnFraction float64
	// WarnRetainedBytes raises a warning when max_slot_wal_keep_size is unlimited (-1) and
	// the slot retains more than this. Defaults to 1 GiB.
	WarnRetainedBytes int64
	// History is the number of recent polls kept for the dashboard's chart. Defaults to
	// HistoryDefault (360: 30 minutes at 5 s).
	History int
	// Gatherer is read for the gateway's socket gauge. Defaults to prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Latency supplies the realtime latency histogram written with each sample. Defaults to
	// none (empty histograms).
	Latency *Latency
	// QueryTimeout bounds one poll's queries. Defaults to QueryTimeoutDefault (3 s).
	QueryTimeout time.Duration
	// Logger receives slot warnings and poll failures. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c MonitorConfig) WithDefaults() MonitorConfig {
	c.PollInterval = cmp.Or(c.PollInterval, PollIntervalDefault)
	c.SampleInterval = cmp.Or(c.SampleInterval, SampleIntervalDefault)
	c.Retention = cmp.Or(c.Retention, RetentionDefault)
	c.WarnFraction = cmp.Or(c.WarnFraction, WarnFractionDefault)
	c.WarnRetainedBytes = cmp.Or(c.WarnRetainedBytes, 1<<30)
	c.History = cmp.Or(c.History, HistoryDefault)
	c.QueryTimeout = cmp.Or(c.QueryTimeout, QueryTimeoutDefault)
	if c.Gatherer == nil {
		c.Gatherer = prometheus.DefaultGatherer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c MonitorConfig) validate() error {
	switch {
	case c.Slot == "":
		return errors.New("health: MonitorConfig.Slot is required")
	case c.Instance == "":
		return errors.New("health: MonitorConfig.Instance is required")
	case c.WarnFraction <= 0 || c.WarnFraction >= 1:
		return fmt.Errorf("health: MonitorConfig.WarnFraction %v: want (0, 1)", c.WarnFraction)
	case c.PollInterval <= 0:
		return errors.New("health: MonitorConfig.PollInterval must be positive")
	}
	return nil
}

// QueueStatus is one River queue's backlog.
type QueueStatus struct {
	Queue            string  `json:"queue"`
	Depth            int     `json:"depth"`
	OldestJobSeconds float64 `json:"oldest_job_seconds"`
}

// Sample is what one poll saw.
type Sample struct {
	At time.Time `json:"at"`
	// DBError is set when the database could not be read; the other fields are then zero.
	DBError string `json:"db_error,omitempty"`

	// SlotExists reports whether the slot exists; the slot fields are zero when it does not.
	SlotExists bool `json:"slot_exists"`
	// SlotActive reports a walsender streaming the slot.
	SlotActive bool `json:"slot_active"`
	// LagBytes and LagSeconds: see the package comment.
	LagBytes   int64   `json:"lag_bytes"`
	LagSeconds float64 `json:"lag_seconds"`
	// RetainedBytes is the WAL the slot keeps on disk.
	RetainedBytes int64 `json:"retained_bytes"`
	// WALStatus is pg_replication_slots.wal_status.
	WALStatus string `json:"wal_status"`
	// SafeWALSize is pg_replication_slots.safe_wal_size; -1 when unlimited.
	SafeWALSize int64 `json:"safe_wal_size"`
	// MaxSlotWALKeepSize is the server setting in bytes; -1 when unlimited.
	MaxSlotWALKeepSize int64 `json:"max_slot_wal_keep_size"`
	// Risk is RiskOK, RiskWarning or RiskCritical; Warning says why.
	Risk    string `json:"risk"`
	Warning string `json:"warning,omitempty"`

	// Queues is River's backlog per queue with a ready job; QueueDepth and OldestJobSeconds
	// are their total and maximum.
	Queues           []QueueStatus `json:"queues"`
	QueueDepth       int           `json:"queue_depth"`
	OldestJobSeconds float64       `json:"oldest_job_seconds"`

	// GatewayConnections is the embedded gateway's open sockets (0 when it is off).
	GatewayConnections int `json:"gateway_connections"`
}

type mark struct {
	lsn uint64
	at  time.Time
}

// Monitor polls the database for the health of replication and jobs.
type Monitor struct {
	pool *pgxpool.Pool
	cfg  MonitorConfig

	mu         sync.Mutex
	marks      []mark
	history    []Sample
	last       Sample
	lastWrite  time.Time
	lastPrune  time.Time
	lastRisk   string
	knownQueue map[string]bool
}

// NewMonitor returns a Monitor reading through pool.
func NewMonitor(pool *pgxpool.Pool, cfg MonitorConfig) (*Monitor, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("health: NewMonitor: nil pool")
	}
	return &Monitor{pool: pool, cfg: cfg, lastRisk: RiskOK, knownQueue: map[string]bool{}}, nil
}

// Run polls every PollInterval until ctx ends; it returns nil then. Poll failures are
// logged and reported in the samples, never returned.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.PollInterval)
	defer t.Stop()
	for {
		if _, err := m.Poll(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Warn("health: poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Latest returns the last sample (zero before the first poll).
func (m *Monitor) Latest() Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// History returns the recent samples, oldest first.
func (m *Monitor) History() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.history)
}

// Poll reads the database once, updates the gauges and history, writes a sample row when
// SampleInterval has passed, and returns the sample. A database error is returned and also
// recorded in the sample.
func (m *Monitor) Poll(ctx context.Context) (Sample, error) {
	qctx, cancel := context.WithTimeout(ctx, m.cfg.QueryTimeout)
	defer cancel()
	s, err := m.read(qctx)
	s.GatewayConnections = m.gatewayConnections()
	if err != nil {
		s.DBError = err.Error()
		dbUp.Set(0)
	} else {
		dbUp.Set(1)
	}
	m.publish(s)
	if err == nil {
		if werr := m.maybeWrite(qctx, s); werr != nil {
			err = werr
		}
	}
	return s, err
}

const slotSQL = `
select pg_current_wal_lsn()::text,
       s.slot_name is not null,
       coalesce(s.active, false),
       coalesce(s.confirmed_flush_lsn::text, ''),
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint, 0),
       coalesce(s.wal_status, ''),
       coalesce(s.safe_wal_size, -1),
       (select case when setting::bigint < 0 then -1 else setting::bigint * 1024 * 1024 end
          from pg_settings where name = 'max_slot_wal_keep_size')
from (select 1) one
left join pg_replication_slots s on s.slot_name = $1`

const queueSQL = `
select queue, count(*)::int, coalesce(extract(epoch from now() - min(scheduled_at)), 0)::float8
from river.river_job
where state in ('available', 'retryable', 'scheduled') and scheduled_at <= now()
group by queue order by queue`

func (m *Monitor) read(ctx context.Context) (Sample, error) {
	s := Sample{At: time.Now(), Risk: RiskOK}
	var current, confirmed string
	err := m.pool.QueryRow(ctx, slotSQL, m.cfg.Slot).Scan(&current, &s.SlotExists, &s.SlotActive, &confirmed,
		&s.RetainedBytes, &s.WALStatus, &s.SafeWALSize, &s.MaxSlotWALKeepSize)
	if err != nil {
		return s, fmt.Errorf("health: read slot: %w", err)
	}
	cur, err := pglogrepl.ParseLSN(current)
	if err != nil {
		return s, fmt.Errorf("health: current WAL position %q: %w", current, err)
	}
	if s.SlotExists && confirmed != "" {
		c, err := pglogrepl.ParseLSN(confirmed)
		if err != nil {
			return s, fmt.Errorf("health: confirmed_flush_lsn %q: %w", confirmed, err)
		}
		s.LagBytes, s.LagSeconds = m.lag(uint64(cur), uint64(c), s.At)
	}
	s.Risk, s.Warning = m.risk(s)

	rows, err := m.pool.Query(ctx, queueSQL)
	if err != nil {
		return s, fmt.Errorf("health: read River queues: %w", err)
	}
	s.Queues, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueueStatus, error) {
		var q QueueStatus
		return q, r.Scan(&q.Queue, &q.Depth, &q.OldestJobSeconds)
	})
	if err != nil {
		return s, fmt.Errorf("health: read River queues: %w", err)
	}
	for _, q := range s.Queues {
		s.QueueDepth += q.Depth
		s.OldestJobSeconds = max(s.OldestJobSeconds, q.OldestJobSeconds)
	}
	return s, nil
}

// lag applies the marks: it drops those the slot confirmed, measures against the previous
// polls' marks, then adds this poll's.
func (m *Monitor) lag(current, confirmed uint64, now time.Time) (int64, float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := 0
	for i < len(m.marks) && m.marks[i].lsn <= confirmed {
		i++
	}
	m.marks = m.marks[i:]
	var bytes int64
	var secs float64
	if n := len(m.marks); n > 0 {
		bytes = int64(m.marks[n-1].lsn - confirmed)
		secs = now.Sub(m.marks[0].at).Seconds()
	}
	if n := len(m.marks); n == 0 || m.marks[n-1].lsn < current {
		m.marks = append(m.marks, mark{lsn: current, at: now})
	}
	if len(m.marks) > 4*m.cfg.History { // a slot stuck for hours: keep the oldest and the newest
		m.marks = append(m.marks[:1], m.marks[len(m.marks)-2*m.cfg.History:]...)
	}
	return bytes, secs
}

// risk judges the slot's state.
func (m *Monitor) risk(s Sample) (string, string) {
	switch {
	case !s.SlotExists:
		return RiskCritical, fmt.Sprintf("replication slot %q does not exist: events are not being captured", m.cfg.Slot)
	case s.WALStatus == "lost":
		return RiskCritical, "the slot lost required WAL (max_slot_wal_keep_size exceeded): it must be recreated and events were missed"
	case s.WALStatus == "unreserved":
		return RiskCritical, "the slot retains more WAL than max_slot_wal_keep_size: it will be invalidated at the next checkpoint unless the sidecar catches up"
	case s.MaxSlotWALKeepSize > 0 && s.SafeWALSize >= 0 &&
		float64(s.SafeWALSize) <= (1-m.cfg.WarnFraction)*float64(s.MaxSlotWALKeepSize):
		return RiskWarning, fmt.Sprintf("the slot retains %s of max_slot_wal_keep_size %s (safe_wal_size %s left)",
			humanBytes(s.RetainedBytes), humanBytes(s.MaxSlotWALKeepSize), humanBytes(s.SafeWALSize))
	case s.MaxSlotWALKeepSize < 0 && s.RetainedBytes >= m.cfg.WarnRetainedBytes:
		return RiskWarning, fmt.Sprintf("the slot retains %s of WAL and max_slot_wal_keep_size is unlimited: the disk may fill",
			humanBytes(s.RetainedBytes))
	case s.WALStatus == "extended":
		return RiskWarning, "the slot retains more than max_wal_size (wal_status extended)"
	}
	return RiskOK, ""
}

func (m *Monitor) gatewayConnections() int {
	mfs, err := m.cfg.Gatherer.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == GatewayConnectionsMetric && len(mf.GetMetric()) > 0 {
			return int(mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	return 0
}

// publish updates the gauges, history and warning log.
func (m *Monitor) publish(s Sample) {
	m.mu.Lock()
	m.last = s
	m.history = append(m.history, s)
	if len(m.history) > m.cfg.History {
		m.history = slices.Delete(m.history, 0, len(m.history)-m.cfg.History)
	}
	prevRisk := m.lastRisk
	if s.DBError == "" {
		m.lastRisk = s.Risk
	}
	seen := map[string]bool{}
	for _, q := range s.Queues {
		seen[q.Queue] = true
		m.knownQueue[q.Queue] = true
	}
	var gone []string
	for q := range m.knownQueue {
		if !seen[q] {
			gone = append(gone, q)
		}
	}
	m.mu.Unlock()

	if s.DBError != "" {
		return
	}
	lagBytes.Set(float64(s.LagBytes))
	lagSeconds.Set(s.LagSeconds)
	retainedBytes.Set(float64(s.RetainedBytes))
	safeWALSize.Set(float64(s.SafeWALSize))
	slotActive.Set(b2f(s.SlotActive))
	status := s.WALStatus
	if !s.SlotExists {
		status = "missing"
	}
	for _, st := range []string{"reserved", "extended", "unreserved", "lost", "missing"} {
		slotWALStatus.WithLabelValues(st).Set(b2f(st == status))
	}
	slotWarning.Set(map[string]float64{RiskOK: 0, RiskWarning: 1, RiskCritical: 2}[s.Risk])
	for _, q := range s.Queues {
		queueDepth.WithLabelValues(q.Queue).Set(float64(q.Depth))
		oldestJob.WithLabelValues(q.Queue).Set(q.OldestJobSeconds)
	}
	for _, q := range gone {
		queueDepth.WithLabelValues(q).Set(0)
		oldestJob.WithLabelValues(q).Set(0)
	}
	if s.Risk != prevRisk {
		if s.Risk == RiskOK {
			m.cfg.Logger.Info("health: replication slot back to normal", "slot", m.cfg.Slot)
		} else {
			m.cfg.Logger.Warn("health: replication slot at risk", "slot", m.cfg.Slot, "risk", s.Risk, "why", s.Warning)
		}
	}
}

// maybeWrite writes a sample row every SampleInterval and prunes old rows.
func (m *Monitor) maybeWrite(ctx context.Context, s Sample) error {
	if m.cfg.SampleInterval < 0 {
		return nil
	}
	m.mu.Lock()
	due := s.At.Sub(m.lastWrite) >= m.cfg.SampleInterval
	prune := s.At.Sub(m.lastPrune) >= time.Hour
	m.mu.Unlock()
	if !due {
		return nil
	}
	var counts []int64
	if m.cfg.Latency != nil {
		counts = m.cfg.Latency.Take()
	}
	var safe *int64
	if s.SafeWALSize >= 0 {
		safe = &s.SafeWALSize
	}
	var walStatus *string
	if s.WALStatus != "" {
		walStatus = &s.WALStatus
	}
	_, err := m.pool.Exec(ctx, `
insert into vendorhub.health_samples (sampled_at, instance, lag_bytes, lag_seconds, retained_bytes, slot_active,
  wal_status, safe_wal_size, queue_depth, oldest_job_seconds, gateway_connections, realtime_latency_counts)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, coalesce($12::int[], '{}'))`,
		s.At, m.cfg.Instance, s.LagBytes, s.LagSeconds, s.RetainedBytes, s.SlotActive, walStatus, safe,
		s.QueueDepth, s.OldestJobSeconds, s.GatewayConnections, counts)
	if err != nil {
		return fmt.Errorf("health: write sample: %w", err)
	}
	m.mu.Lock()
	m.lastWrite = s.At
	m.mu.Unlock()
	if prune {
		if _, err := m.pool.Exec(ctx, `delete from vendorhub.health_samples where sampled_at < now() - make_interval(secs => $1)`,
			m.cfg.Retention.Seconds()); err != nil {
			return fmt.Errorf("health: prune samples: %w", err)
		}
		m.mu.Lock()
		m.lastPrune = s.At
		m.mu.Unlock()
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// humanBytes renders n as "512 B", "3.2 MiB", "1.5 GiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
