package decode_test

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wedsync/vendorhub/internal/decode"
)

// The replication loop feeds every XLogData payload, in order, and acknowledges a
// transaction's EndLSN only once its effects are durable. Here the payloads are built by
// hand: a Relation, then a transaction updating a row whose large body was not touched.
func ExampleDecoder_Feed() {
	stream := [][]byte{
		relationMsg(0, 16384, "public", "messages", 'd',
			col{"id", 23, true}, col{"body", 25, false}, col{"status", 25, false}),
		beginMsg(0x16B3748, commitTime, 731),
		updateMsg(0, 16384, 0, nil, []tv{text("42"), toast, text("read")}),
		logicalMsg(0, true, 0x16B3760, "vendorhub", `{"type":"message.read"}`),
		commitMsg(0x16B3748, 0x16B3790, commitTime),
	}
	d := decode.NewDecoder(decode.Options{})
	types := pgtype.NewMap()
	for i, payload := range stream {
		txs, err := d.Feed(uint64(i), payload)
		if err != nil {
			fmt.Println("restart from the last acknowledged LSN:", err)
			return
		}
		for _, tx := range txs {
			fmt.Printf("xid %d committed at %X, acknowledge %X once durable\n", tx.XID, tx.CommitLSN, tx.EndLSN)
			for _, c := range tx.Changes {
				fmt.Printf("%s %s (old row: %s)\n", c.Op, c.Relation.QualifiedName(), c.OldKind)
				for j, col := range c.Relation.Columns {
					v, err := c.New[j].Decode(types, col.TypeOID)
					fmt.Printf("  %s = %v (%s, err=%v)\n", col.Name, v, c.New[j].Kind, err)
				}
			}
			for _, m := range tx.Messages {
				fmt.Printf("message %q after %d change(s): %s\n", m.Prefix, m.ChangeIndex, m.Content)
			}
		}
	}
	// Output:
	// xid 731 committed at 16B3748, acknowledge 16B3790 once durable
	// update public.messages (old row: none)
	//   id = 42 (text, err=<nil>)
	//   body = <nil> (unchanged, err=decode: unchanged TOAST value was not sent)
	//   status = read (text, err=<nil>)
	// message "vendorhub" after 1 change(s): {"type":"message.read"}
}
