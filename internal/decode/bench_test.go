package decode_test

import (
	"strings"
	"testing"

	"github.com/wedsync/vendorhub/internal/decode"
)

// BenchmarkFeed decodes a typical vendorhub transaction: Begin, one ~400-byte event
// envelope, one row insert, Commit. Reported per transaction.
func BenchmarkFeed(b *testing.B) {
	envelope := `{"id":"5f0c3e2a-8f5e-4a57-9d0b-1c2d3e4f5a6b","type":"message.created","occurred_at":"2026-06-20T14:30:00.123456+00:00",` +
		`"wedding_id":"0b8e3c1a-1111-4c1a-9a0e-000000000001","subject":{"table":"messages","id":"0b8e3c1a-8888-4c1a-9a0e-000000000008",` +
		`"conversation_id":"0b8e3c1a-2222-4c1a-9a0e-000000000002","participants":["0b8e3c1a-4444-4c1a-9a0e-000000000004"]},` +
		`"data":{"body_preview":"` + strings.Repeat("x", 100) + `"}}`
	msgs := [][]byte{
		beginMsg(0x100, commitTime, 1),
		logicalMsg(0, true, 0x110, "vendorhub", envelope),
		insertMsg(0, relID, text("1"), text(strings.Repeat("y", 120)), text("sent")),
		commitMsg(0x100, 0x130, commitTime),
	}
	d := decode.NewDecoder(decode.Options{})
	if _, err := d.Feed(0, messagesRel(0, 'd')); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := d.Feed(0, m); err != nil {
				b.Fatal(err)
			}
		}
	}
}
