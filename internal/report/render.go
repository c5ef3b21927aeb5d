package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats Render writes.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// Formats lists the formats, in the order `vendorhub report -h` names them.
var Formats = []string{FormatTable, FormatJSON, FormatMarkdown}

// UnknownFormatError reports a format Render does not know.
type UnknownFormatError struct{ Format string }

func (e *UnknownFormatError) Error() string {
	return fmt.Sprintf("report: unknown format %q (want %s)", e.Format, strings.Join(Formats, ", "))
}

// Percent renders a rate as "97.5%", or "n/a" when nothing settled.
func Percent(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", *r*100)
}

// Millis renders milliseconds as "12.3 ms" or "n/a" for no measurements.
func Millis(p Percentiles, v float64) string {
	if p.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", v)
}

// section is one titled table of the report.
type section struct {
	title  string
	header []string
	rows   [][]string
}

func (r *Report) sections() []section {
	var out []section

	summary := section{title: "Summary", header: []string{"figure", "value", "detail"}}
	add := func(name, value, detail string) { summary.rows = append(summary.rows, []string{name, value, detail}) }
	add("Overall health", Percent(r.OverallHealth), "mean of the rates and uptimes below that have data")
	add("Notification success rate", Percent(r.NotificationSuccess.Rate),
		fmt.Sprintf("%d of %d settled delivery attempts", r.NotificationSuccess.Succeeded, r.NotificationSuccess.Settled))
	add("Notification delivery time p50/p95", Millis(r.NotificationDeliveryTime, r.NotificationDeliveryTime.P50)+" / "+
		Millis(r.NotificationDeliveryTime, r.NotificationDeliveryTime.P95), fmt.Sprintf("%d sent", r.NotificationDeliveryTime.N))
	add("Webhook delivery rate", Percent(r.WebhookDelivery.Rate),
		fmt.Sprintf("%d of %d settled outbound webhooks", r.WebhookDelivery.Succeeded, r.WebhookDelivery.Settled))
	add("Webhook response time p50/p95", Millis(r.WebhookResponseTime, r.WebhookResponseTime.P50)+" / "+
		Millis(r.WebhookResponseTime, r.WebhookResponseTime.P95), fmt.Sprintf("%d attempts", r.WebhookResponseTime.N))
	add("Inbound webhooks", fmt.Sprint(r.InboundWebhooks.Received),
		fmt.Sprintf("%d processed, %d failing", r.InboundWebhooks.Processed, r.InboundWebhooks.Failing))
	add("CRM sync success rate", Percent(r.CRMSync.Rate), fmt.Sprintf("%d of %d settled runs", r.CRMSync.Succeeded, r.CRMSync.Settled))
	add("Realtime latency p50/p95/p99", Millis(r.RealtimeLatency, r.RealtimeLatency.P50)+" / "+
		Millis(r.RealtimeLatency, r.RealtimeLatency.P95)+" / "+Millis(r.RealtimeLatency, r.RealtimeLatency.P99),
		fmt.Sprintf("%d events", r.RealtimeLatency.N))
	out = append(out, summary)

	d := section{title: "Deliveries by channel and status", header: []string{"channel", "status", "attempts"}}
	for _, x := range r.Deliveries {
		d.rows = append(d.rows, []string{x.Channel, x.Status, fmt.Sprint(x.Count)})
	}
	d.rows = append(d.rows, []string{"total", "", fmt.Sprint(r.DeliveryAttempts)})
	out = append(out, d)

	s := section{title: "Sync runs by connection kind", header: []string{"kind", "success rate", "succeeded", "settled"}}
	for _, k := range r.SyncByKind {
		s.rows = append(s.rows, []string{k.Kind, Percent(k.Rate.Rate), fmt.Sprint(k.Succeeded), fmt.Sprint(k.Settled)})
	}
	out = append(out, s)

	u := section{title: "Integration uptime", header: []string{"integration", "name", "status", "uptime", "down", "transitions"}}
	for _, x := range r.Uptime {
		up := x.Uptime
		u.rows = append(u.rows, []string{x.Integration, x.Name, x.Status, Percent(&up),
			(time.Duration(x.DownSeconds * float64(time.Second))).Round(time.Second).String(), fmt.Sprint(x.Transitions)})
	}
	out = append(out, u)

	e := section{title: "Recent errors", header: []string{"at", "source", "subject", "message"}}
	for _, x := range r.RecentErrors {
		e.rows = append(e.rows, []string{x.At.UTC().Format(time.RFC3339), x.Source, x.Subject, x.Message})
	}
	out = append(out, e)
	return out
}

// Render writes r in format (FormatTable, FormatJSON or FormatMarkdown).
func (r *Report) Render(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatMarkdown:
		return r.markdown(w)
	case FormatTable, "":
		return r.table(w)
	}
	return &UnknownFormatError{Format: format}
}

func (r *Report) rangeLine() string {
	return fmt.Sprintf("%s to %s", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
}

func (r *Report) table(w io.Writer) error {
	fmt.Fprintf(w, "vendorhub integration report, %s\n", r.rangeLine())
	for _, s := range r.sections() {
		fmt.Fprintf(w, "\n%s\n", s.title)
		if len(s.rows) == 0 {
			fmt.Fprintln(w, "  (none)")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.ToUpper(strings.Join(s.header, "\t")))
		for _, row := range s.rows {
			fmt.Fprintln(tw, "  "+strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) markdown(w io.Writer) error {
	fmt.Fprintf(w, "# vendorhub integration report\n\n%s\n", r.rangeLine())
	for _, s := range r.sections() {
		fmt.Fprintf(w, "\n## %s\n\n", s.title)
		if len(s.rows) == 0 {
			fmt.Fprintln(w, "_none_")
			continue
		}
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(s.header, " | "), strings.Repeat(" --- |", len(s.header)))
		for _, row := range s.rows {
			cells := make([]string, len(row))
			for i, c := range row {
				cells[i] = mdEscape(c)
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	return nil
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
