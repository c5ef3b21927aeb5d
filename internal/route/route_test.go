package route_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/route"
)

const (
	weddingID      = "0b8e3c1a-1111-4c1a-9a0e-000000000001"
	conversationID = "0b8e3c1a-2222-4c1a-9a0e-000000000002"
	vendorID       = "0b8e3c1a-3333-4c1a-9a0e-000000000003"
	userID         = "0b8e3c1a-4444-4c1a-9a0e-000000000004"
)

func ptr(s string) *string { return &s }

// fullEvent carries every id a rule may need.
func fullEvent(typ event.Type, data string) event.Event {
	return event.Event{
		Envelope: event.Envelope{
			ID:        "0b8e3c1a-9999-4c1a-9a0e-000000000009",
			Type:      typ,
			WeddingID: ptr(weddingID),
			Subject: event.Subject{
				Table: "t", ID: "0b8e3c1a-8888-4c1a-9a0e-000000000008",
				ConversationID: ptr(conversationID), VendorID: ptr(vendorID), UserID: ptr(userID),
			},
			Data: json.RawMessage(data),
		},
		Key: event.Key{CommitLSN: 0x16B3748, Index: 3},
	}
}

// logBuffer is a concurrency-safe log sink for assertions on log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newRouter(t *testing.T) (*route.Router, *logBuffer) {
	t.Helper()
	var logs logBuffer
	return route.NewRouter(route.DefaultRules, route.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}), &logs
}

// TestDefaultRules has one case per rule: what each event type routes to.
func TestDefaultRules(t *testing.T) {
	t.Parallel()
	const (
		conv    = "conversation:" + conversationID
		wedding = "wedding:" + weddingID
		vendor  = "vendor:" + vendorID
		user    = "user:" + userID
		couple  = "couple:" + weddingID
	)
	for _, tc := range []struct {
		typ          event.Type
		data         string
		topics       []string
		category     string
		integrations []string
	}{
		{typ: event.MessageCreated, topics: []string{conv}, category: "new_message", integrations: []string{"webhook.outbound"}},
		{typ: event.MessageRead, topics: []string{conv}},
		{typ: event.VendorStatusChanged, topics: []string{wedding, vendor}, category: "status_change", integrations: []string{"webhook.outbound", "crm.push"}},
		{typ: event.AvailabilityChanged, topics: []string{vendor}, category: "availability"},
		{typ: event.BookingUpdated, topics: []string{vendor, couple}, category: "booking", integrations: []string{"webhook.outbound"}},
		{typ: event.ConnectionChanged, topics: []string{vendor}},
		{typ: event.WebhookReceived, integrations: []string{"inbox.process"}},
		{typ: event.NotificationCreated, topics: []string{user}},
		{typ: event.DeliveryUpdated, topics: []string{user}},
		{typ: event.IntegrationFailed, topics: []string{vendor}, category: "integration_failure"},
		{typ: event.ConflictDetected, topics: []string{vendor}, category: "conflict"},
		{typ: event.BreakerChanged, category: "integration_failure"},
		{typ: event.TaskUpdated, data: `{"critical":false}`, topics: []string{wedding}, category: "task"},
		{typ: event.TaskUpdated, data: `{"critical":true}`, topics: []string{wedding}, category: "day_of_change"},
		{typ: event.Heartbeat},
		{typ: event.MembershipRemoved},
	} {
		t.Run(string(tc.typ)+tc.data, func(t *testing.T) {
			t.Parallel()
			r, _ := newRouter(t)
			ev := fullEvent(tc.typ, tc.data)
			got := r.Route(ev)
			require.Equal(t, ev, got.Event)
			require.Equal(t, tc.topics, got.Topics)
			require.Equal(t, tc.category, got.Category)
			require.Equal(t, tc.integrations, got.Integrations)
		})
	}
}

func TestEveryTypeHasOneRule(t *testing.T) {
	t.Parallel()
	require.NoError(t, route.ValidateRules(route.DefaultRules))
	seen := map[event.Type]bool{}
	for _, r := range route.DefaultRules {
		seen[r.Type] = true
	}
	for _, typ := range event.Types {
		require.True(t, seen[typ], "no rule for %s", typ)
	}
	require.Len(t, route.DefaultRules, len(event.Types))
}

// TestRoutesDocMatchesRules keeps supabase-config/routes.md, the human description, in
// step with DefaultRules: every rule has a table row naming its topics, category and jobs.
func TestRoutesDocMatchesRules(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../supabase-config/routes.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) >= 6 {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
		}
	}
	for _, r := range route.DefaultRules {
		row, ok := rows[string(r.Type)]
		require.True(t, ok, "routes.md has no row for %s", r.Type)
		for _, want := range append(append([]string{r.Category}, r.Topics...), r.Integrations...) {
			require.Contains(t, row, want, "routes.md row for %s", r.Type)
		}
		if r.Escalate != nil {
			require.Contains(t, row, r.Escalate.Category)
			require.Contains(t, row, r.Escalate.DataFlag)
		}
	}
}

func TestValidateRulesRejects(t *testing.T) {
	t.Parallel()
	for name, rules := range map[string][]route.Rule{
		"unknown type":          {{Type: "party.started"}},
		"duplicate type":        {{Type: event.MessageRead}, {Type: event.MessageRead}},
		"unknown placeholder":   {{Type: event.MessageRead, Topics: []string{"conversation:{conv}"}}},
		"no placeholder":        {{Type: event.MessageRead, Topics: []string{"conversation:all"}}},
		"no prefix":             {{Type: event.MessageRead, Topics: []string{"{user_id}"}}},
		"two placeholders":      {{Type: event.MessageRead, Topics: []string{"x:{user_id}{vendor_id}"}}},
		"text after":            {{Type: event.MessageRead, Topics: []string{"x:{user_id}:y"}}},
		"incomplete escalation": {{Type: event.TaskUpdated, Escalate: &route.Escalation{DataFlag: "critical"}}},
	} {
		require.Error(t, route.ValidateRules(rules), name)
		require.Panics(t, func() { route.NewRouter(rules, route.Options{}) }, name)
	}
}

// Metric tests use event types no other test routes, so parallel tests cannot disturb
// their counts.

func TestUnknownTypeIsCountedLoggedAndRoutedToNothing(t *testing.T) {
	t.Parallel()
	r, logs := newRouter(t)
	before := unknown("vendor.exploded")
	beforeRouted := routedTotal("vendor.exploded")
	ev := fullEvent("vendor.exploded", `{"x":1}`)
	got := r.Route(ev)
	require.Equal(t, route.Routed{Event: ev}, got)
	require.Equal(t, before+1, unknown("vendor.exploded"))
	require.Equal(t, beforeRouted+1, routedTotal("vendor.exploded"), "unknown types count as routed events too")
	require.Contains(t, logs.String(), "vendor.exploded")
	require.Contains(t, logs.String(), "16b3748/3")

	// Junk types share one label so they cannot grow the label set.
	beforeInvalid := unknown("invalid")
	r.Route(fullEvent(`DROP TABLE "x"; --`, ""))
	r.Route(fullEvent(event.Type(strings.Repeat("a", 100)), ""))
	require.Equal(t, beforeInvalid+2, unknown("invalid"))
}

func TestMissingIDSkipsOnlyThatTopic(t *testing.T) {
	t.Parallel()
	r, logs := newRouter(t)
	ev := fullEvent(event.BookingUpdated, "")
	ev.Subject.VendorID = nil
	skippedVendor := func() float64 { return skipped(event.BookingUpdated, "vendor:{vendor_id}") }
	before := skippedVendor()

	got := r.Route(ev)
	require.Equal(t, []string{"couple:" + weddingID}, got.Topics)
	require.Equal(t, "booking", got.Category, "the rest of the route still happens")
	require.Equal(t, before+1, skippedVendor())
	require.Contains(t, logs.String(), "vendor:{vendor_id}")

	// A malformed id is skipped the same way: no odd topic is ever built.
	ev.Subject.VendorID = ptr("vendor-1:admin")
	got = r.Route(ev)
	require.Equal(t, []string{"couple:" + weddingID}, got.Topics)
	require.Equal(t, before+2, skippedVendor())
}

func TestIDFromDataWhenSubjectLacksIt(t *testing.T) {
	t.Parallel()
	r, _ := newRouter(t)
	ev := fullEvent(event.AvailabilityChanged, `{"vendor_id":"`+strings.ToUpper(vendorID)+`"}`)
	ev.Subject.VendorID = nil
	require.Equal(t, []string{"vendor:" + vendorID}, r.Route(ev).Topics, "ids come from data too, lower-cased")

	ev.Data = json.RawMessage(`{"vendor_id":42}`)
	require.Empty(t, r.Route(ev).Topics)
	ev.Data = json.RawMessage(`[1,2]`)
	require.Empty(t, r.Route(ev).Topics)
}

func TestEscalationNeedsTrueBoolean(t *testing.T) {
	t.Parallel()
	r, _ := newRouter(t)
	for data, want := range map[string]string{
		`{"critical":true}`:   "day_of_change",
		`{"critical":"true"}`: "task",
		`{"critical":1}`:      "task",
		`{}`:                  "task",
		``:                    "task",
		`not json`:            "task",
	} {
		require.Equal(t, want, r.Route(fullEvent(event.TaskUpdated, data)).Category, data)
	}
}

func TestRoutedIntegrationsAreNotShared(t *testing.T) {
	t.Parallel()
	r, _ := newRouter(t)
	a := r.Route(fullEvent(event.BookingUpdated, ""))
	a.Integrations[0] = "mutated"
	b := r.Route(fullEvent(event.BookingUpdated, ""))
	require.Equal(t, "webhook.outbound", b.Integrations[0])
}

func TestEvents(t *testing.T) {
	t.Parallel()
	ct := time.Date(2026, 6, 20, 14, 30, 0, 0, time.UTC)
	env := func(typ string) []byte {
		return []byte(`{"id":"e-` + typ + `","type":"` + typ + `","occurred_at":"2026-06-20T14:29:59Z","subject":{"table":"messages","id":"m1","participants":["u1","u2"]}}`)
	}
	tx := decode.Transaction{
		XID: 9, CommitLSN: 0x16B3748, EndLSN: 0x16B3790, CommitTime: ct,
		Messages: []decode.Message{
			{Prefix: "vendorhub", Content: env("message.created"), Transactional: true},
			{Prefix: "pgstream", Content: []byte("ddl"), Transactional: true},
			{Prefix: "vendorhub", Content: []byte(`{"type":`), Transactional: true},
			{Prefix: "vendorhub", Content: env("message.read"), Transactional: true},
		},
	}
	before := unknown("malformed")
	events, errs := route.Events(tx)
	require.Len(t, events, 2)
	require.Equal(t, event.MessageCreated, events[0].Type)
	require.Equal(t, event.Key{CommitLSN: 0x16B3748, Index: 0}, events[0].Key)
	require.Equal(t, []string{"u1", "u2"}, events[0].Subject.Participants)
	require.Equal(t, ct, events[0].CommitTime)
	require.Equal(t, uint64(0x16B3790), events[0].EndLSN)
	require.Equal(t, event.MessageRead, events[1].Type)
	require.Equal(t, event.Key{CommitLSN: 0x16B3748, Index: 2}, events[1].Key, "the malformed message keeps its index")

	require.Len(t, errs, 1)
	var ee *route.EventError
	require.ErrorAs(t, errs[0], &ee)
	require.Equal(t, event.Key{CommitLSN: 0x16B3748, Index: 1}, ee.Key)
	var me *event.MalformedError
	require.ErrorAs(t, errs[0], &me)
	require.GreaterOrEqual(t, unknown("malformed"), before+1)

	// Replaying the same transaction yields the same keys.
	again, _ := route.Events(tx)
	require.Equal(t, events, again)

	// AppendRouted is Route of each of Events, appended.
	r, _ := newRouter(t)
	prior := route.Routed{Category: "already there"}
	routed := r.AppendRouted([]route.Routed{prior}, tx)
	require.Equal(t, []route.Routed{prior, r.Route(events[0]), r.Route(events[1])}, routed)
}

func TestEventsNonTransactional(t *testing.T) {
	t.Parallel()
	tx := decode.Transaction{CommitLSN: 0x500, EndLSN: 0x500, Messages: []decode.Message{
		{Prefix: "vendorhub", Content: []byte(`{"type":"heartbeat"}`), LSN: 0x500},
	}}
	events, errs := route.Events(tx)
	require.Empty(t, errs)
	require.Len(t, events, 1)
	require.Equal(t, event.Key{CommitLSN: 0x500, Index: route.NonTransactionalIndex}, events[0].Key)
}

func TestEventsIgnoresRowChanges(t *testing.T) {
	t.Parallel()
	rel := &decode.Relation{ID: 1, Namespace: "public", Name: "notifications", Columns: []decode.Column{{Name: "id"}}}
	events, errs := route.Events(decode.Transaction{CommitLSN: 1, Changes: []decode.Change{
		{Op: decode.Insert, Relation: rel, New: decode.Tuple{{Kind: decode.Text, Raw: []byte("1")}}},
	}})
	require.Empty(t, events)
	require.Empty(t, errs)
}

// FuzzEvents routes arbitrary message content: never a panic, and every event it returns
// has a type and a key in this transaction.
func FuzzEvents(f *testing.F) {
	f.Add([]byte(`{"id":"x","type":"message.created","occurred_at":"2026-06-20T14:29:59Z","wedding_id":"`+weddingID+`","subject":{"table":"messages","id":"m","conversation_id":"`+conversationID+`"}}`), true)
	f.Add([]byte(`{"type":"task.updated","wedding_id":"`+weddingID+`","data":{"critical":true}}`), true)
	f.Add([]byte(`{"type":"booking.updated","subject":{"vendor_id":5},"data":[1]}`), false)
	f.Add([]byte(`{"type":""}`), true)
	f.Add([]byte(`null`), true)
	f.Add([]byte{0xff, 0xfe}, true)
	r := route.NewRouter(route.DefaultRules, route.Options{Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, content []byte, transactional bool) {
		tx := decode.Transaction{CommitLSN: 0x77, EndLSN: 0x99, Messages: []decode.Message{
			{Prefix: "vendorhub", Content: content, Transactional: transactional},
			{Prefix: "vendorhub", Content: content, Transactional: transactional},
		}}
		events, errs := route.Events(tx)
		if len(events)+len(errs) != 2 {
			t.Fatalf("%d events + %d errors for 2 messages", len(events), len(errs))
		}
		if len(events) == 2 && events[0].Key == events[1].Key {
			t.Fatalf("two events share key %s", events[0].Key)
		}
		for _, ev := range events {
			if ev.Type == "" || ev.Key.CommitLSN != 0x77 || ev.EndLSN != 0x99 {
				t.Fatalf("bad event %+v", ev)
			}
			routed := r.Route(ev)
			for _, topic := range routed.Topics {
				if strings.ContainsAny(topic, " \"'") {
					t.Fatalf("odd topic %q", topic)
				}
			}
		}
		var want []route.Routed
		for _, ev := range events {
			want = append(want, r.Route(ev))
		}
		if got := r.AppendRouted(nil, tx); len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("AppendRouted %+v, Route of Events %+v", got, want)
		}
	})
}

func TestBadEventFloodIsCountedInFullButLoggedSparingly(t *testing.T) {
	t.Parallel()
	r, logs := newRouter(t)
	before := unknown("vendor.flooded")
	for range 500 {
		r.Route(fullEvent("vendor.flooded", ""))
	}
	require.Equal(t, before+500, unknown("vendor.flooded"))
	lines := strings.Count(logs.String(), "vendor.flooded")
	require.GreaterOrEqual(t, lines, 10)
	require.Less(t, lines, 50, "a flood must not turn into one log line per event")
}
