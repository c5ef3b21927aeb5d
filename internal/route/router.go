package route

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/event"
)

// Routed is an event with what must happen because of it.
type Routed struct {
	event.Event
	// Topics are the realtime topics to broadcast to, e.g. "conversation:<uuid>" (without
	// the "realtime:" prefix).
	Topics []string
	// Category is the notification category to plan, "" for none.
	Category string
	// Integrations are the integration job kinds to enqueue, e.g. "webhook.outbound".
	Integrations []string
	// Recheck names the realtime channels to re-authorize (the embedded gateway closes those
	// that lost read access); empty for most events.
	Recheck Recheck
}

// Rule says what an event type routes to.
type Rule struct {
	// Type is the event type the rule applies to.
	Type event.Type
	// Topics are topic templates: a prefix and one placeholder, e.g. "vendor:{vendor_id}".
	// Placeholders, resolved from the envelope: {wedding_id}; {conversation_id},
	// {vendor_id}, {user_id} (the subject's field, else a same-named string field of data);
	// {id} (subject id); {actor}. Every id must be a UUID, else the topic is skipped.
	Topics []string
	// Category is the notification category, "" for none.
	Category string
	// Integrations are the integration job kinds to enqueue.
	Integrations []string
	// Escalate, when set, replaces Category when the event's data has the boolean field
	// Escalate.DataFlag set to true.
	Escalate *Escalation
	// Recheck, when set, makes Routed.Recheck name the channels whose read access the event
	// may have removed (see recheckOf).
	Recheck bool
}

// Escalation switches a rule's category on a boolean flag in the event's data.
type Escalation struct {
	// DataFlag is the name of a boolean field of the envelope's data.
	DataFlag string
	// Category is the category used when the flag is true.
	Category string
}

// Options configure a Router.
type Options struct {
	// Logger receives a warning per unknown event type or skipped topic (ids only, never
	// data): the first 10, then at most one a second; the metrics count every one.
	// Defaults to slog.Default().
	Logger *slog.Logger
}

// Router routes events by rules. It is safe for concurrent use.
type Router struct {
	rules map[event.Type]*compiledRule
	log   *slog.Logger
	// logSometimes limits the warning lines: a stream of bad events is counted in full
	// but logs the first few and then one a second.
	logSometimes rate.Sometimes
}

type compiledRule struct {
	Rule
	topics []template
	routed prometheus.Counter // vendorhub_route_events_total{type}
}

// template is a topic template split at its placeholder.
type template struct {
	text        string // as written, the metric label
	prefix, key string
}

// placeholders are the ids a topic template may name.
var placeholders = map[string]bool{
	"wedding_id": true, "conversation_id": true, "vendor_id": true, "user_id": true, "id": true, "actor": true,
}

// NewRouter returns a Router for rules. Rules are code (DefaultRules): an invalid one is
// a programming error and NewRouter panics with ValidateRules' error, which the rule tests
// catch.
func NewRouter(rules []Rule, opts Options) *Router {
	r, err := compile(rules)
	if err != nil {
		panic(err)
	}
	r.log = opts.Logger
	if r.log == nil {
		r.log = slog.Default()
	}
	r.logSometimes = rate.Sometimes{First: 10, Interval: time.Second}
	return r
}

// ValidateRules returns an error for a rule whose type is not in event.Types, a type
// listed twice, a topic template that is not "<prefix>{<placeholder>}" with a known
// placeholder, or an incomplete escalation.
func ValidateRules(rules []Rule) error {
	_, err := compile(rules)
	return err
}

func compile(rules []Rule) (*Router, error) {
	r := &Router{rules: make(map[event.Type]*compiledRule, len(rules))}
	for _, rule := range rules {
		if !rule.Type.Known() {
			return nil, fmt.Errorf("route: rule for unknown event type %q", rule.Type)
		}
		if _, dup := r.rules[rule.Type]; dup {
			return nil, fmt.Errorf("route: two rules for event type %q", rule.Type)
		}
		c := &compiledRule{Rule: rule, routed: routedEvents.WithLabelValues(string(rule.Type))}
		for _, text := range rule.Topics {
			t, err := parseTemplate(text)
			if err != nil {
				return nil, fmt.Errorf("route: rule %q: %w", rule.Type, err)
			}
			c.topics = append(c.topics, t)
		}
		if rule.Escalate != nil && (rule.Escalate.DataFlag == "" || rule.Escalate.Category == "") {
			return nil, fmt.Errorf("route: rule %q: escalation needs a data flag and a category", rule.Type)
		}
		r.rules[rule.Type] = c
	}
	return r, nil
}

func parseTemplate(text string) (template, error) {
	open := strings.IndexByte(text, '{')
	if open < 1 || !strings.HasSuffix(text, "}") || strings.Count(text, "{") != 1 {
		return template{}, fmt.Errorf("topic template %q: want <prefix>{<placeholder>}", text)
	}
	key := text[open+1 : len(text)-1]
	if !placeholders[key] {
		return template{}, fmt.Errorf("topic template %q: unknown placeholder {%s}", text, key)
	}
	return template{text: text, prefix: text[:open], key: key}, nil
}

// Route returns what must happen because of ev. It never fails: an unknown type routes to
// nothing (counted in vendorhub_route_unknown_events_total and logged); a topic whose id is
// missing or not a UUID is skipped (counted in vendorhub_route_skipped_topics_total and
// logged).
func (r *Router) Route(ev event.Event) Routed {
	out := Routed{Event: ev}
	r.route(&out)
	return out
}

// route sets the routes of out.Event in out.
func (r *Router) route(out *Routed) {
	ev := &out.Event
	label := string(ev.Type)
	rule, ok := r.rules[ev.Type]
	if !ok {
		label = typeLabel(ev.Type)
		routedEvents.WithLabelValues(label).Inc()
		unknownEvents.WithLabelValues(label).Inc()
		r.logSometimes.Do(func() {
			r.log.Warn("route: event type has no rule; routed to nothing",
				"type", truncate(string(ev.Type), 64), "key", ev.Key.String(), "id", truncate(ev.ID, 64))
		})
		return
	}
	rule.routed.Inc()

	for _, t := range rule.topics {
		id, ok := lowerUUID(resolve(ev, t.key))
		if !ok {
			skippedTopics.WithLabelValues(label, t.text).Inc()
			r.logSometimes.Do(func() {
				r.log.Warn("route: topic skipped: id missing or not a uuid",
					"type", label, "topic", t.text, "key", ev.Key.String(), "id", truncate(ev.ID, 64))
			})
			continue
		}
		if out.Topics == nil {
			out.Topics = make([]string, 0, len(rule.topics))
		}
		out.Topics = append(out.Topics, t.prefix+id)
	}
	out.Category = rule.Category
	if e := rule.Escalate; e != nil {
		// The flag is the boolean true: DataField returns the value without whitespace.
		if string(event.DataField(ev.Data, e.DataFlag)) == "true" {
			out.Category = e.Category
		}
	}
	if len(rule.Integrations) > 0 {
		out.Integrations = append([]string(nil), rule.Integrations...)
	}
	if rule.Recheck {
		out.Recheck = recheckOf(ev)
	}
}

// resolve returns the id a placeholder names, or "".
func resolve(ev *event.Event, key string) string {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	var id string
	switch key {
	case "wedding_id":
		id = deref(ev.WeddingID)
	case "conversation_id":
		id = deref(ev.Subject.ConversationID)
	case "vendor_id":
		id = deref(ev.Subject.VendorID)
	case "user_id":
		id = deref(ev.Subject.UserID)
	case "id":
		return ev.Subject.ID
	case "actor":
		return deref(ev.Actor)
	}
	if id == "" {
		id = dataString(event.DataField(ev.Data, key))
	}
	return id
}

// dataString returns the string a raw JSON value holds, "" when it holds none.
func dataString(raw json.RawMessage) string {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && !bytes.ContainsAny(raw[1:n-1], `"\`) && utf8.Valid(raw) {
		return string(raw[1 : n-1]) // a string without escapes is its contents
	}
	var s string
	_ = json.Unmarshal(raw, &s) // not a string: stays ""
	return s
}

// lowerUUID returns s in lower case when it is a UUID in its canonical 8-4-4-4-12 hex form.
func lowerUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	upper := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9' || 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, true
}

// typeLabel is the metric label of a type without a rule: its name when it looks like one
// (a type from a newer emitter), else "invalid", so junk cannot grow the label set.
func typeLabel(t event.Type) string {
	if len(t) == 0 || len(t) > 64 {
		return "invalid"
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('a' <= c && c <= 'z' || c == '.' || c == '_') {
			return "invalid"
		}
	}
	return string(t)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
