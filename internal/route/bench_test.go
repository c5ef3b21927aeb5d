package route_test

import (
	"log/slog"
	"testing"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/route"
)

// BenchmarkEventsRoute parses and routes one message.created envelope.
func BenchmarkEventsRoute(b *testing.B) {
	tx := decode.Transaction{CommitLSN: 0x100, EndLSN: 0x130, Messages: []decode.Message{{
		Prefix: "vendorhub", Transactional: true,
		Content: []byte(`{"id":"5f0c3e2a-8f5e-4a57-9d0b-1c2d3e4f5a6b","type":"message.created","occurred_at":"2026-06-20T14:30:00.123456+00:00",` +
			`"wedding_id":"` + weddingID + `","subject":{"table":"messages","id":"0b8e3c1a-8888-4c1a-9a0e-000000000008",` +
			`"conversation_id":"` + conversationID + `","participants":["` + userID + `"]},"data":{"body_preview":"hello"}}`),
	}}}
	r := route.NewRouter(route.DefaultRules, route.Options{Logger: slog.New(slog.DiscardHandler)})
	b.ReportAllocs()
	for b.Loop() {
		events, errs := route.Events(tx)
		if len(events) != 1 || len(errs) != 0 {
			b.Fatal(errs)
		}
		_ = r.Route(events[0])
	}
}
