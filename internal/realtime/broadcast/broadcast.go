// Package broadcast holds the Realtime broadcast message and the rules that make one from a
// routed event: the part of package realtime the stored-broadcast sink shares with the
// publisher. It runs on the WAL path (inside the hand-off transaction), so it imports no
// HTTP client; package realtime, which sends, aliases these names.
package broadcast

import (
	"encoding/json"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/route"
)

var metricOversized = promauto.NewCounter(prometheus.CounterOpts{
	Name: "vendorhub_realtime_oversized_total",
	Help: "Broadcast payloads replaced by a small refetch message because they exceeded the size limit.",
})

// CountOversized counts one payload replaced by its refetch message
// (vendorhub_realtime_oversized_total).
func CountOversized() { metricOversized.Inc() }

// TopicPrefix starts every topic on the Realtime socket; REST bodies and realtime.topic()
// use the sub-topic without it.
const TopicPrefix = "realtime:"

// Message is one broadcast in the shape of the REST batch body:
// {"topic":"wedding:<uuid>","event":"vendor.status_changed","payload":{…},"private":true}.
type Message struct {
	// Topic is the sub-topic, without "realtime:".
	Topic string `json:"topic"`
	// Event is the broadcast event name clients listen to.
	Event string `json:"event"`
	// Payload must be a JSON object.
	Payload json.RawMessage `json:"payload"`
	// Private selects the private namespace (RLS-authorized channels).
	Private bool `json:"private"`
	// ID, optional, becomes meta.id on the receiving side.
	ID string `json:"id,omitempty"`
	// Actor is the user whose action caused the message (the envelope's actor). It is not
	// sent over REST; the embedded gateway uses it to apply `self: false` to a user's own
	// actions (see docs/realtime.md).
	Actor string `json:"-"`
	// Key is the key of the event the message carries ("" for client broadcasts). It is
	// not sent; the stored-broadcast sink stores a (key, topic) once.
	Key string `json:"-"`
}

// Payload is what subscribers receive as the broadcast payload: the event envelope and the
// event's stable key (documented for frontend developers in docs/realtime.md and
// types/vendorhub-realtime.d.ts).
type Payload struct {
	event.Envelope
	// Key is the event's stable key "<commit LSN hex>/<index>", identical across replays.
	Key string `json:"key"`
	// Refetch is set on the small message that replaces an oversized one: the data was left
	// out, reload the subject through PostgREST.
	Refetch bool `json:"refetch,omitempty"`
}

// Messages turns routed events into one private Message per topic. Events without topics
// produce nothing; an envelope that cannot be encoded is skipped and reported in errs.
func Messages(events []route.Routed) (msgs []Message, errs []error) {
	n := 0
	for i := range events {
		n += len(events[i].Topics)
	}
	if n > 0 {
		msgs = make([]Message, 0, n) // one allocation for a backlog's batch, not a growing copy
	}
	for i := range events {
		ev := &events[i]
		if len(ev.Topics) == 0 {
			continue
		}
		key := ev.Key.String()
		p, err := json.Marshal(Payload{Envelope: ev.Envelope, Key: key})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var actor string
		if ev.Actor != nil {
			actor = *ev.Actor
		}
		for _, t := range ev.Topics {
			msgs = append(msgs, Message{Topic: strings.TrimPrefix(t, TopicPrefix), Event: string(ev.Type), Payload: p, Private: true, Actor: actor, Key: key})
		}
	}
	return msgs, errs
}

// FitPayload replaces m's payload by its refetch message when it is larger than maxBytes,
// counting it in vendorhub_realtime_oversized_total, and reports whether it did. The
// publisher and the stored-broadcast sink both apply it, so a client sees the same message
// live and replayed.
func FitPayload(m *Message, maxBytes int) bool {
	if len(m.Payload) <= maxBytes {
		return false
	}
	small, err := RefetchPayload(*m)
	if err != nil || len(small) > maxBytes {
		// Keep the message flowing with the smallest possible body.
		small = []byte(`{"refetch":true}`)
	}
	m.Payload = small
	metricOversized.Inc()
	return true
}

// RefetchPayload is the small replacement of an oversized payload: the envelope without
// data, flagged refetch. It keeps ids a client needs to reload the subject.
func RefetchPayload(m Message) (json.RawMessage, error) {
	var p Payload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		// Not an envelope: say only what changed.
		return json.Marshal(map[string]any{"type": m.Event, "refetch": true})
	}
	p.Data = nil
	p.Subject.Participants = nil
	p.Refetch = true
	return json.Marshal(p)
}
