package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/health"
	"github.com/wedsync/vendorhub/internal/report"
)

// Overall health levels.
const (
	LevelHealthy  = "healthy"
	LevelDegraded = "degraded"
	LevelDown     = "down"
)

// component is one /readyz component.
type component struct {
	Ready bool   `json:"ready"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// card is one integration card.
type card struct {
	Integration string // breaker name
	Title       string
	Kind        string // provider, or the connection kind
	Vendor      string
	Status      string // connection status
	Breaker     string
	Calls       int64
	SuccessRate *float64
	RateSource  string // "recent calls", "sync runs (7 days)", …
	P50, P95    *float64
	LastError   string
	LastAt      *time.Time
}

// overview is everything the overview page shows.
type overview struct {
	At         time.Time
	Level      string
	Reasons    []string
	Ready      bool
	Components map[string]component
	Role       string
	Sample     health.Sample
	Chart      chart
	Cards      []card
	Failures   []report.ErrorRow
	Inbox      []inboxRow
	Outbound   []outboundRow
	Notes      []notificationRow
	Mailbox    []mailRow
	Dev        bool
}

type inboxRow struct {
	ReceivedAt          time.Time
	Source, EventID     string
	Connection          string
	ProcessedAt         *time.Time
	Attempts            int
	LastError           string
	ConnectionID        string
	ConnectionKindTitle string
}

type outboundRow struct {
	OccurredAt time.Time
	URL        string
	EventType  string
	Status     string
	Attempts   int
	LastCode   *int
	LastError  string
}

type attemptRow struct {
	Channel, Provider, Status string
	Attempt                   int
	ErrorCode, Error          string
	At                        time.Time
}

type notificationRow struct {
	ID        string
	CreatedAt time.Time
	User      string
	Category  string
	Title     string
	Attempts  []attemptRow
}

type mailRow struct {
	CreatedAt                 time.Time
	Channel, Recipient, Title string
	Body                      string
}

// chart is the lag chart: an SVG polyline of lag seconds over the monitor's history.
type chart struct {
	Width, Height int
	Points        string // "x,y x,y …"
	MaxSeconds    float64
	MaxBytes      int64
	Span          string
	Samples       int
}

func (s *Server) overview(ctx context.Context) (*overview, error) {
	o := &overview{At: time.Now(), Dev: s.cfg.Dev, Sample: s.cfg.Monitor.Latest(), Components: map[string]component{}}
	if s.cfg.Ready != nil {
		var body struct {
			Role       string               `json:"role"`
			Components map[string]component `json:"components"`
		}
		ok, raw := s.cfg.Ready(ctx)
		o.Ready = ok
		if json.Unmarshal(raw, &body) == nil {
			o.Components, o.Role = body.Components, body.Role
		}
	}
	o.Chart = lagChart(s.cfg.Monitor.History())
	var err error
	if o.Cards, err = s.cards(ctx); err != nil {
		return nil, err
	}
	rep, err := report.Build(ctx, s.pool, o.At.Add(-7*24*time.Hour), o.At.Add(time.Second), report.Options{RecentErrors: 8})
	if err != nil {
		return nil, err
	}
	o.Failures = rep.RecentErrors
	if o.Inbox, err = s.inbox(ctx, 15); err != nil {
		return nil, err
	}
	if o.Outbound, err = s.outbound(ctx, 10); err != nil {
		return nil, err
	}
	if o.Notes, err = s.notifications(ctx, 12); err != nil {
		return nil, err
	}
	if s.cfg.Dev {
		if o.Mailbox, err = s.mailbox(ctx, 15); err != nil {
			return nil, err
		}
	}
	o.Level, o.Reasons = judge(o)
	return o, nil
}

// judge sums the overview up: down when the database or replication is not ready, degraded
// for a slot at risk, an open breaker, a connection in error or a backlog; healthy otherwise.
func judge(o *overview) (string, []string) {
	var down, degraded []string
	if o.Sample.DBError != "" {
		down = append(down, "database unreachable: "+o.Sample.DBError)
	}
	for _, name := range sortedKeys(o.Components) {
		c := o.Components[name]
		if !c.Ready {
			down = append(down, fmt.Sprintf("%s %s%s", name, c.State, suffix(c.Error)))
		}
	}
	if o.Sample.Risk == health.RiskCritical {
		down = append(down, o.Sample.Warning)
	} else if o.Sample.Risk == health.RiskWarning {
		degraded = append(degraded, o.Sample.Warning)
	}
	for _, c := range o.Cards {
		switch {
		case c.Breaker == breaker.StateOpen || c.Breaker == breaker.StateHalfOpen:
			degraded = append(degraded, fmt.Sprintf("%s: circuit %s", c.Title, c.Breaker))
		case c.Status == "error" || c.Status == "needs_reauth":
			degraded = append(degraded, fmt.Sprintf("%s: %s", c.Title, strings.ReplaceAll(c.Status, "_", " ")))
		}
	}
	if o.Sample.OldestJobSeconds > 300 {
		degraded = append(degraded, fmt.Sprintf("oldest waiting job is %s old", time.Duration(o.Sample.OldestJobSeconds*float64(time.Second)).Round(time.Second)))
	}
	switch {
	case len(down) > 0:
		return LevelDown, append(down, degraded...)
	case len(degraded) > 0:
		return LevelDegraded, degraded
	}
	return LevelHealthy, nil
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func lagChart(hist []health.Sample) chart {
	c := chart{Width: 600, Height: 120, Samples: len(hist)}
	var pts []health.Sample
	for _, h := range hist {
		if h.DBError == "" {
			pts = append(pts, h)
		}
	}
	if len(pts) == 0 {
		return c
	}
	for _, p := range pts {
		c.MaxSeconds = math.Max(c.MaxSeconds, p.LagSeconds)
		c.MaxBytes = max(c.MaxBytes, p.LagBytes)
	}
	top := math.Max(c.MaxSeconds, 1)
	first, last := pts[0].At, pts[len(pts)-1].At
	span := last.Sub(first)
	c.Span = span.Round(time.Second).String()
	var b strings.Builder
	for i, p := range pts {
		x := float64(c.Width)
		if span > 0 {
			x = float64(c.Width) * float64(p.At.Sub(first)) / float64(span)
		} else if len(pts) > 1 {
			x = float64(c.Width) * float64(i) / float64(len(pts)-1)
		}
		y := float64(c.Height) - float64(c.Height-10)*p.LagSeconds/top
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, y)
	}
	c.Points = b.String()
	return c
}

const cardsSQL = `
select c.id::text, c.kind, c.display_name, v.name, c.status, coalesce(c.last_error, ''),
       coalesce(c.last_sync_at, (select max(i.received_at) from vendorhub.webhook_inbox i where i.connection_id = c.id)),
       (select count(*) filter (where r.status in ('ok', 'not_modified')) from public.sync_runs r
         where r.connection_id = c.id and r.started_at > now() - interval '7 days'),
       (select count(*) filter (where r.status <> 'superseded') from public.sync_runs r
         where r.connection_id = c.id and r.started_at > now() - interval '7 days'),
       (select percentile_cont(0.5) within group (order by greatest(extract(epoch from r.finished_at - r.started_at) * 1000, 0))
          from public.sync_runs r where r.connection_id = c.id and r.started_at > now() - interval '7 days'),
       (select percentile_cont(0.95) within group (order by greatest(extract(epoch from r.finished_at - r.started_at) * 1000, 0))
          from public.sync_runs r where r.connection_id = c.id and r.started_at > now() - interval '7 days'),
       (select count(*) from vendorhub.webhook_inbox i where i.connection_id = c.id and i.received_at > now() - interval '7 days')
from public.integration_connections c join public.vendors v on v.id = c.vendor_id
order by c.kind, c.display_name`

const providerSQL = `
select provider, count(*) filter (where status in ('sent', 'delivered', 'opened')),
       count(*) filter (where status in ('sent', 'delivered', 'opened', 'failed', 'suppressed')),
       max(created_at)
from public.deliveries where created_at > now() - interval '7 days'
group by provider order by provider`

func (s *Server) cards(ctx context.Context) ([]card, error) {
	stats := map[string]breaker.IntegrationStatus{}
	for _, st := range s.cfg.Breakers.Integrations() {
		stats[st.Name] = st
	}
	var out []card
	seen := map[string]bool{}
	addStats := func(c *card) {
		st, ok := stats[c.Integration]
		if !ok {
			return
		}
		seen[c.Integration] = true
		c.Breaker, c.Calls, c.LastError = st.Breaker, st.Calls, cmpStr(st.LastError, c.LastError)
		if st.WindowCalls > 0 {
			r, p50, p95 := st.SuccessRate, st.P50, st.P95
			c.SuccessRate, c.RateSource, c.P50, c.P95 = &r, fmt.Sprintf("last %d calls", st.WindowCalls), &p50, &p95
		}
	}
	rows, err := s.pool.Query(ctx, providerSQL)
	if err != nil {
		return nil, fmt.Errorf("dashboard: providers: %w", err)
	}
	var provider string
	var ok, settled int64
	var last *time.Time
	_, err = pgx.ForEachRow(rows, []any{&provider, &ok, &settled, &last}, func() error {
		c := card{Integration: breaker.Provider(provider), Title: provider, Kind: "provider", LastAt: last,
			Breaker: breaker.StateClosed, RateSource: "deliveries (7 days)"}
		if settled > 0 {
			r := float64(ok) / float64(settled)
			c.SuccessRate = &r
		}
		addStats(&c)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: providers: %w", err)
	}
	for name, st := range stats { // providers called but without deliveries rows yet
		if !seen[name] && strings.HasPrefix(name, "provider:") {
			c := card{Integration: name, Title: strings.TrimPrefix(name, "provider:"), Kind: "provider", Breaker: st.Breaker}
			addStats(&c)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b card) int { return strings.Compare(a.Title, b.Title) })

	rows, err = s.pool.Query(ctx, cardsSQL)
	if err != nil {
		return nil, fmt.Errorf("dashboard: connections: %w", err)
	}
	var id string
	var c card
	var inboxN int64
	_, err = pgx.ForEachRow(rows, []any{&id, &c.Kind, &c.Title, &c.Vendor, &c.Status, &c.LastError, &c.LastAt,
		&ok, &settled, &c.P50, &c.P95, &inboxN}, func() error {
		cc := c
		cc.Integration = breaker.Connection(id)
		cc.Breaker = breaker.StateClosed
		if settled > 0 {
			r := float64(ok) / float64(settled)
			cc.SuccessRate, cc.RateSource = &r, fmt.Sprintf("%d sync runs (7 days)", settled)
		} else if inboxN > 0 {
			cc.RateSource = fmt.Sprintf("%d webhooks received (7 days)", inboxN)
		}
		addStats(&cc)
		out = append(out, cc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: connections: %w", err)
	}
	return out, nil
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) inbox(ctx context.Context, n int) ([]inboxRow, error) {
	rows, err := s.pool.Query(ctx, `
select i.received_at, i.source, i.provider_event_id, coalesce(c.display_name, ''), i.processed_at, i.attempts,
       coalesce(i.last_error, ''), coalesce(i.connection_id::text, '')
from vendorhub.webhook_inbox i left join public.integration_connections c on c.id = i.connection_id
order by i.received_at desc limit $1`, n)
	if err != nil {
		return nil, fmt.Errorf("dashboard: webhook inbox: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (inboxRow, error) {
		var x inboxRow
		return x, r.Scan(&x.ReceivedAt, &x.Source, &x.EventID, &x.Connection, &x.ProcessedAt, &x.Attempts, &x.LastError, &x.ConnectionID)
	})
}

func (s *Server) outbound(ctx context.Context, n int) ([]outboundRow, error) {
	rows, err := s.pool.Query(ctx, `
select d.occurred_at, e.url, d.event_type, d.status, d.attempts, d.last_status_code, coalesce(d.last_error, '')
from public.webhook_deliveries d join public.webhook_endpoints e on e.id = d.endpoint_id
order by d.occurred_at desc limit $1`, n)
	if err != nil {
		return nil, fmt.Errorf("dashboard: outbound webhooks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboundRow, error) {
		var x outboundRow
		return x, r.Scan(&x.OccurredAt, &x.URL, &x.EventType, &x.Status, &x.Attempts, &x.LastCode, &x.LastError)
	})
}

func (s *Server) notifications(ctx context.Context, n int) ([]notificationRow, error) {
	rows, err := s.pool.Query(ctx, `
select n.id::text, n.created_at, coalesce(u.email, n.user_id::text), n.category::text, n.title,
       coalesce((select jsonb_agg(jsonb_build_object('channel', d.channel, 'provider', d.provider, 'status', d.status,
                   'attempt', d.attempt, 'error_code', coalesce(d.error_code, ''), 'error', coalesce(d.error, ''),
                   'at', d.updated_at) order by d.created_at, d.attempt)
                 from public.deliveries d where d.notification_id = n.id), '[]')
from public.notifications n left join auth.users u on u.id = n.user_id
order by n.created_at desc limit $1`, n)
	if err != nil {
		return nil, fmt.Errorf("dashboard: deliveries: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (notificationRow, error) {
		var x notificationRow
		var raw []byte
		if err := r.Scan(&x.ID, &x.CreatedAt, &x.User, &x.Category, &x.Title, &raw); err != nil {
			return x, err
		}
		var as []struct {
			Channel, Provider, Status string
			Attempt                   int
			ErrorCode                 string `json:"error_code"`
			Error                     string
			At                        time.Time
		}
		if err := json.Unmarshal(raw, &as); err != nil {
			return x, err
		}
		for _, a := range as {
			x.Attempts = append(x.Attempts, attemptRow{Channel: a.Channel, Provider: a.Provider, Status: a.Status,
				Attempt: a.Attempt, ErrorCode: a.ErrorCode, Error: a.Error, At: a.At})
		}
		return x, nil
	})
}

func (s *Server) mailbox(ctx context.Context, n int) ([]mailRow, error) {
	rows, err := s.pool.Query(ctx, `
select created_at, channel, left(recipient, 120), title, left(body, 300)
from vendorhub.dev_mailbox order by created_at desc limit $1`, n)
	if err != nil {
		return nil, fmt.Errorf("dashboard: dev mailbox: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (mailRow, error) {
		var x mailRow
		return x, r.Scan(&x.CreatedAt, &x.Channel, &x.Recipient, &x.Title, &x.Body)
	})
}

func (s *Server) serveOverview(w http.ResponseWriter, r *http.Request) {
	o, err := s.overview(r.Context())
	if err != nil {
		s.fail(w, "overview", err)
		return
	}
	s.render(w, r, "overview", map[string]any{"O": o, "Title": "Overview"})
}

// Sections of the overview the live refresh replaces, by data-section name.
var overviewSections = []string{"health", "replication", "integrations", "failures", "webhooks", "deliveries", "queue", "mailbox"}

// serveOverviewAPI returns the overview's sections rendered, for the page's live refresh,
// and the headline figures as JSON.
func (s *Server) serveOverviewAPI(w http.ResponseWriter, r *http.Request) {
	o, err := s.overview(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	t := s.tmpl["overview"]
	sections := map[string]string{}
	for _, name := range overviewSections {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, "sec-"+name, map[string]any{"O": o, "Dev": s.cfg.Dev}); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		sections[name] = b.String()
	}
	writeJSON(w, http.StatusOK, map[string]any{"at": o.At, "level": o.Level, "ready": o.Ready, "sample": o.Sample,
		"sections": sections})
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"pct": func(r *float64) string { return report.Percent(r) },
	"ms": func(v *float64) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.0f ms", *v)
	},
	"bytes": func(n int64) string {
		if n < 0 {
			return "unlimited"
		}
		return humanBytes(n)
	},
	"secs": func(f float64) string { return fmt.Sprintf("%.1f s", f) },
	"ago": func(t any) string {
		var tt time.Time
		switch v := t.(type) {
		case time.Time:
			tt = v
		case *time.Time:
			if v == nil {
				return "never"
			}
			tt = *v
		}
		if tt.IsZero() {
			return "never"
		}
		return tt.UTC().Format("2006-01-02 15:04:05Z")
	},
	"title": func(s string) string {
		s = strings.ReplaceAll(s, "_", " ")
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"eq1": func(a, b string) bool { return a == b },
	"json": func(v any) template.JS {
		b, _ := json.Marshal(v)
		return template.JS(b)
	},
	"num":    func(v float64) string { return fmt.Sprintf("%.4f", v) },
	"mul100": func(v float64) float64 { return v * 100 },
	"ratev": func(r *float64) string {
		if r == nil {
			return ""
		}
		return fmt.Sprintf("%.6f", *r)
	},
}

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
