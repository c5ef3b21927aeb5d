package route_test

import (
	"fmt"
	"log/slog"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/route"
)

// A committed transaction carrying one vendorhub.emit() envelope becomes one keyed event,
// and the rules say where it goes.
func ExampleRouter_Route() {
	tx := decode.Transaction{
		XID: 731, CommitLSN: 0x16B3748, EndLSN: 0x16B3790,
		Messages: []decode.Message{{
			Prefix:        "vendorhub",
			Transactional: true,
			Content: []byte(`{"id":"5f0c…","type":"message.created","occurred_at":"2026-06-20T14:30:00Z",
				"wedding_id":"0b8e3c1a-1111-4c1a-9a0e-000000000001",
				"subject":{"table":"messages","id":"m-1","conversation_id":"0b8e3c1a-2222-4c1a-9a0e-000000000002"}}`),
		}},
	}
	router := route.NewRouter(route.DefaultRules, route.Options{Logger: slog.New(slog.DiscardHandler)})
	events, errs := route.Events(tx)
	fmt.Println("malformed:", len(errs))
	for _, ev := range events {
		r := router.Route(ev)
		fmt.Println(r.Key, r.Type)
		fmt.Println("topics:", r.Topics)
		fmt.Println("category:", r.Category)
		fmt.Println("jobs:", r.Integrations)
	}
	// Output:
	// malformed: 0
	// 16b3748/0 message.created
	// topics: [conversation:0b8e3c1a-2222-4c1a-9a0e-000000000002]
	// category: new_message
	// jobs: [webhook.outbound]
}
