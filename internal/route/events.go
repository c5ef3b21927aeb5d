package route

import (
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/event"
)

// NonTransactionalIndex is set in the Key.Index of an event carried by a non-transactional
// message (the decoder returns each alone, so its index is exactly this). Such a message's
// LSN is the end of its WAL record, which can equal the commit LSN of the transaction right
// after it; this bit keeps the two keys apart.
const NonTransactionalIndex uint32 = 1 << 31

// malformedLog limits the warning lines of malformed envelopes; the metric counts all.
var malformedLog = rate.Sometimes{First: 10, Interval: time.Second}

// EventError reports a 'vendorhub' message that is not a valid envelope. The message is
// skipped; its key is reserved so the keys of the others never shift.
type EventError struct {
	// Key is the key the event would have had.
	Key event.Key
	// Err is the cause (an *event.MalformedError).
	Err error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("route: event %s: %v", e.Key, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

// Events turns a committed transaction into events, in WAL order. Each 'vendorhub'-prefixed
// logical message is parsed with event.Parse and keyed Key{tx.CommitLSN, i}, where i is the
// message's position among the transaction's vendorhub messages (malformed ones included,
// so a key never shifts), with NonTransactionalIndex set for a non-transactional message.
// Messages with another prefix and row changes are ignored (see the package comment).
// A malformed envelope is returned in errs (as *EventError), counted in
// vendorhub_route_unknown_events_total{type="malformed"}, not logged (the caller has errs);
// it never stops the others.
func Events(tx decode.Transaction) (events []event.Event, errs []error) {
	eachMessage(tx, func(key event.Key, content []byte) {
		env, err := parse(key, content, nil)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if events == nil {
			events = make([]event.Event, 0, len(tx.Messages))
		}
		events = append(events, event.Event{Envelope: env, Key: key, CommitTime: tx.CommitTime, EndLSN: tx.EndLSN, XID: tx.XID})
	})
	return events, errs
}

// AppendRouted appends the routed events of tx to dst, in WAL order: Route of each of
// Events(tx), built in place. Malformed envelopes are counted as by Events, logged with the
// router's logger (key and reason, never the content; the first 10, then at most one a
// second), and skipped.
func (r *Router) AppendRouted(dst []Routed, tx decode.Transaction) []Routed {
	eachMessage(tx, func(key event.Key, content []byte) {
		dst = append(dst, Routed{Event: event.Event{Key: key, CommitTime: tx.CommitTime, EndLSN: tx.EndLSN, XID: tx.XID}})
		out := &dst[len(dst)-1]
		var err error
		if out.Envelope, err = parse(key, content, r.log); err != nil {
			*out = Routed{}
			dst = dst[:len(dst)-1]
			return
		}
		r.route(out)
	})
	return dst
}

// eachMessage calls f with the key and content of each 'vendorhub' message of tx (see
// Events).
func eachMessage(tx decode.Transaction, f func(key event.Key, content []byte)) {
	var index uint32
	for i := range tx.Messages {
		m := &tx.Messages[i]
		if m.Prefix != event.MessagePrefix {
			continue
		}
		key := event.Key{CommitLSN: tx.CommitLSN, Index: index}
		if !m.Transactional {
			key.Index |= NonTransactionalIndex
		}
		index++
		f(key, m.Content)
	}
}

// parse parses the envelope of the event keyed key; a malformed one is counted, logged on log
// (when not nil) and returned as an *EventError.
func parse(key event.Key, content []byte, log *slog.Logger) (event.Envelope, error) {
	env, err := event.Parse(content)
	if err != nil {
		unknownEvents.WithLabelValues(malformedLabel).Inc()
		if log == nil {
			return event.Envelope{}, &EventError{Key: key, Err: err}
		}
		malformedLog.Do(func() {
			log.Warn("route: malformed event envelope skipped", "key", key.String(), "err", err)
		})
		return event.Envelope{}, &EventError{Key: key, Err: err}
	}
	return env, nil
}
