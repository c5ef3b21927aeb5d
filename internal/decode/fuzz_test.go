package decode_test

import (
	"encoding/binary"
	"testing"

	"github.com/wedsync/vendorhub/internal/decode"
)

// frames encodes a message sequence as the fuzz input: each message prefixed by its
// 2-byte length.
func frames(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzDecoderFeed feeds arbitrary message sequences: Feed must never panic, must stay
// failed once it failed, and every change it returns must fit its relation.
func FuzzDecoderFeed(f *testing.F) {
	rel := messagesRel(0, 'd')
	f.Add(frames(rel, beginMsg(0x10, commitTime, 1), insertMsg(0, relID, text("1"), text("a"), null), commitMsg(0x10, 0x30, commitTime)))
	f.Add(frames(rel, beginMsg(0x10, commitTime, 1), updateMsg(0, relID, 'K', []tv{text("1"), null, null}, []tv{text("2"), toast, null}), commitMsg(0x10, 0x30, commitTime)))
	f.Add(frames(rel, beginMsg(0x10, commitTime, 1), updateMsg(0, relID, 'O', []tv{text("1"), text("x"), null}, []tv{text("2"), toast, null}), deleteMsg(0, relID, 'O', text("1"), text("x"), null), commitMsg(0x10, 0x30, commitTime)))
	f.Add(frames(rel, beginMsg(0x10, commitTime, 1), truncateMsg(0, 3, relID), commitMsg(0x10, 0x30, commitTime)))
	f.Add(frames(logicalMsg(0, false, 0x10, "vendorhub", `{"type":"heartbeat"}`), typeMsg(0, 90001, "public", "t"), originMsg(1, "o")))
	f.Add(frames(rel, beginMsg(0x10, commitTime, 1), logicalMsg(0, true, 0x10, "vendorhub", `{}`), commitMsg(0x10, 0x30, commitTime)))
	f.Add(frames(streamStartMsg(7, true), messagesRel(7, 'd'), insertMsg(8, relID, text("1"), text("a"), null), logicalMsg(7, true, 1, "vendorhub", "{}"), streamStopMsg(),
		streamAbortMsg(7, 8), streamStartMsg(7, false), truncateMsg(7, 0, relID), streamStopMsg(), streamCommitMsg(7, 0x10, 0x30, commitTime)))
	f.Add(frames(streamStartMsg(7, true), messagesRel(7, 'd'), insertMsg(7, relID, text("1"), text("a"), null), streamStopMsg(), streamAbortMsg(7, 7)))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := decode.NewDecoder(decode.Options{MaxBufferedChanges: 64})
		failed := false
		for lsn := uint64(0); len(in) >= 2; lsn++ {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			n = min(n, len(in))
			msg := in[:n]
			in = in[n:]
			txs, err := d.Feed(lsn, msg)
			if failed && err == nil {
				t.Fatal("Feed succeeded after an earlier error")
			}
			if err != nil {
				failed = true
				continue
			}
			if d.Buffered() < 0 {
				t.Fatalf("negative buffered count %d", d.Buffered())
			}
			for _, tx := range txs {
				for _, c := range tx.Changes {
					checkChange(t, c)
				}
				prev := 0
				for _, m := range tx.Messages {
					if m.ChangeIndex < prev || m.ChangeIndex > len(tx.Changes) {
						t.Fatalf("message change index %d after %d, with %d changes", m.ChangeIndex, prev, len(tx.Changes))
					}
					prev = m.ChangeIndex
				}
			}
		}
	})
}

func checkChange(t *testing.T, c decode.Change) {
	t.Helper()
	if c.Op == decode.Truncate {
		for _, r := range c.TruncatedRelations {
			if r == nil {
				t.Fatal("truncate of a nil relation")
			}
		}
		return
	}
	if c.Relation == nil {
		t.Fatalf("%v without relation", c.Op)
	}
	for _, tup := range []decode.Tuple{c.New, c.Old} {
		if tup != nil && len(tup) != len(c.Relation.Columns) {
			t.Fatalf("tuple of %d values for %d columns", len(tup), len(c.Relation.Columns))
		}
	}
	if (c.OldKind == decode.OldNone) != (c.Old == nil) {
		t.Fatalf("old kind %v with old tuple %v", c.OldKind, c.Old)
	}
}
