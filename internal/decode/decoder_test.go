package decode_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
)

const (
	oidBool = 16
	oidInt4 = 23
	oidText = 25
	relID   = 16384
)

var commitTime = time.Date(2026, 6, 20, 14, 30, 0, 123456000, time.UTC)

// messagesRel describes public.messages(id int4 key, body text, status text).
func messagesRel(xid uint32, ident byte) []byte {
	return relationMsg(xid, relID, "public", "messages", ident,
		col{"id", oidInt4, true}, col{"body", oidText, false}, col{"status", oidText, false})
}

// feedAll feeds msgs in order, failing on an error, and returns every completed
// transaction.
func feedAll(t *testing.T, d *decode.Decoder, msgs ...[]byte) []decode.Transaction {
	t.Helper()
	var out []decode.Transaction
	for i, m := range msgs {
		txs, err := d.Feed(uint64(0x1000+i), m)
		require.NoError(t, err, "message %d (%q)", i, m[0])
		out = append(out, txs...)
	}
	return out
}

func TestBeginInsertCommit(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		messagesRel(0, 'd'),
		beginMsg(0x16B3748, commitTime, 731),
		insertMsg(0, relID, text("1"), text("hello"), null),
	)
	require.Empty(t, txs, "nothing is complete before Commit")
	require.Equal(t, 1, d.Buffered())
	require.True(t, d.Open())

	txs = feedAll(t, d, commitMsg(0x16B3748, 0x16B3780, commitTime))
	require.Len(t, txs, 1)
	tx := txs[0]
	require.Equal(t, uint32(731), tx.XID)
	require.Equal(t, uint64(0x16B3748), tx.CommitLSN)
	require.Equal(t, uint64(0x16B3780), tx.EndLSN)
	require.True(t, tx.CommitTime.Equal(commitTime), "commit time %v", tx.CommitTime)
	require.False(t, tx.Streamed)
	require.Empty(t, tx.Messages)
	require.Len(t, tx.Changes, 1)
	c := tx.Changes[0]
	require.Equal(t, decode.Insert, c.Op)
	require.Equal(t, "public.messages", c.Relation.QualifiedName())
	require.Equal(t, decode.OldNone, c.OldKind)
	require.Nil(t, c.Old)
	require.Equal(t, decode.Tuple{
		{Kind: decode.Text, Raw: []byte("1")},
		{Kind: decode.Text, Raw: []byte("hello")},
		{Kind: decode.Null},
	}, c.New)
	require.Equal(t, 0, d.Buffered())
	require.False(t, d.Open())
}

func TestEmptyTransactionAndOrigin(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		beginMsg(0x200, commitTime, 9),
		originMsg(0x100, "other_node"),
		commitMsg(0x200, 0x230, commitTime),
	)
	require.Len(t, txs, 1)
	require.Empty(t, txs[0].Changes)
	require.Equal(t, uint64(0x230), txs[0].EndLSN)
}

func TestUpdateOldTupleKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		ident   byte
		oldKind byte
		old     []tv
		want    decode.OldTupleKind
		wantOld decode.Tuple
	}{
		{
			// Default replica identity, key unchanged: no old row at all. It is missing,
			// not an empty or all-null row.
			name: "default identity, key unchanged", ident: 'd',
			want: decode.OldNone, wantOld: nil,
		},
		{
			// Key changed: only key columns are sent; 'n' in the others is "not sent".
			name: "default identity, key changed", ident: 'd', oldKind: 'K',
			old:  []tv{text("1"), null, null},
			want: decode.OldKey,
			wantOld: decode.Tuple{
				{Kind: decode.Text, Raw: []byte("1")}, {Kind: decode.Absent}, {Kind: decode.Absent},
			},
		},
		{
			name: "full identity", ident: 'f', oldKind: 'O',
			old:  []tv{text("1"), text("before"), null},
			want: decode.OldFull,
			wantOld: decode.Tuple{
				{Kind: decode.Text, Raw: []byte("1")}, {Kind: decode.Text, Raw: []byte("before")}, {Kind: decode.Null},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := decode.NewDecoder(decode.Options{})
			txs := feedAll(t, d,
				messagesRel(0, tc.ident),
				beginMsg(0x300, commitTime, 10),
				updateMsg(0, relID, tc.oldKind, tc.old, []tv{text("2"), text("after"), text("sent")}),
				commitMsg(0x300, 0x330, commitTime),
			)
			require.Len(t, txs, 1)
			c := txs[0].Changes[0]
			require.Equal(t, decode.Update, c.Op)
			require.Equal(t, tc.want, c.OldKind)
			require.Equal(t, tc.wantOld, c.Old)
			v, ok := c.New.Get(c.Relation, "body")
			require.True(t, ok)
			require.Equal(t, "after", string(v.Raw))
		})
	}
}

func TestAbsentKeyColumnIsNotNull(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		messagesRel(0, 'd'),
		beginMsg(0x300, commitTime, 10),
		deleteMsg(0, relID, 'K', text("7"), null, null),
		commitMsg(0x300, 0x330, commitTime),
	)
	v := txs[0].Changes[0].Old[1]
	require.False(t, v.IsNull(), "a column outside the key was not sent: it is not NULL")
	_, err := v.Decode(nil, oidText)
	require.ErrorIs(t, err, decode.ErrAbsent)
}

func TestDelete(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		messagesRel(0, 'f'),
		beginMsg(0x400, commitTime, 11),
		deleteMsg(0, relID, 'O', text("5"), text("gone"), text("read")),
		commitMsg(0x400, 0x430, commitTime),
	)
	c := txs[0].Changes[0]
	require.Equal(t, decode.Delete, c.Op)
	require.Equal(t, decode.OldFull, c.OldKind)
	require.Nil(t, c.New)
	require.Equal(t, "gone", string(c.Old[1].Raw))
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		messagesRel(0, 'd'),
		relationMsg(0, 16390, "public", "deliveries", 'd', col{"id", oidInt4, true}),
		beginMsg(0x500, commitTime, 12),
		truncateMsg(0, 1|2, relID, 16390),
		commitMsg(0x500, 0x530, commitTime),
	)
	c := txs[0].Changes[0]
	require.Equal(t, decode.Truncate, c.Op)
	require.True(t, c.Cascade)
	require.True(t, c.RestartIdentity)
	require.Len(t, c.TruncatedRelations, 2)
	require.Equal(t, "messages", c.TruncatedRelations[0].Name)
	require.Equal(t, "deliveries", c.TruncatedRelations[1].Name)

	txs = feedAll(t, d,
		beginMsg(0x600, commitTime, 13),
		truncateMsg(0, 0, 16390),
		commitMsg(0x600, 0x630, commitTime),
	)
	require.False(t, txs[0].Changes[0].Cascade)
	require.False(t, txs[0].Changes[0].RestartIdentity)
}

func TestRelationRefreshReplacesCache(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		relationMsg(0, relID, "public", "messages", 'd', col{"id", oidInt4, true}, col{"body", oidText, false}),
		beginMsg(0x700, commitTime, 14),
		insertMsg(0, relID, text("1"), text("a")),
		// ALTER TABLE … ADD COLUMN status: the server re-sends the Relation.
		messagesRel(0, 'd'),
		insertMsg(0, relID, text("2"), text("b"), text("sent")),
		commitMsg(0x700, 0x730, commitTime),
	)
	changes := txs[0].Changes
	require.Len(t, changes[0].Relation.Columns, 2, "a change keeps the description it was decoded with")
	require.Len(t, changes[1].Relation.Columns, 3)
	rel, ok := d.Relation(relID)
	require.True(t, ok)
	require.Equal(t, 2, rel.ColumnIndex("status"))

	// A tuple shaped like the old description no longer fits: a clear error.
	feedAll(t, d, beginMsg(0x800, commitTime, 15))
	_, err := d.Feed(0x801, insertMsg(0, relID, text("3"), text("c")))
	var pe *decode.ProtocolError
	require.ErrorAs(t, err, &pe)
	require.Contains(t, pe.Reason, "tuple has 2 columns, relation has 3")
}

func TestTypeMessageIsRemembered(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	feedAll(t, d, typeMsg(0, 90001, "public", "vendor_status"))
	ti, ok := d.TypeName(90001)
	require.True(t, ok)
	require.Equal(t, decode.TypeInfo{Namespace: "public", Name: "vendor_status"}, ti)
	_, ok = d.TypeName(90002)
	require.False(t, ok)
}

func TestUnchangedToastIsNeverNull(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		messagesRel(0, 'd'),
		beginMsg(0x900, commitTime, 16),
		// body is a large TOASTed value the update did not touch; status was set to NULL.
		updateMsg(0, relID, 0, nil, []tv{text("1"), toast, null}),
		commitMsg(0x900, 0x930, commitTime),
	)
	c := txs[0].Changes[0]
	body, status := c.New[1], c.New[2]
	require.Equal(t, decode.Unchanged, body.Kind)
	require.False(t, body.IsNull())
	require.Nil(t, body.Raw)
	_, err := body.Decode(nil, oidText)
	require.ErrorIs(t, err, decode.ErrUnchanged)

	require.Equal(t, decode.Null, status.Kind)
	require.True(t, status.IsNull())
	v, err := status.Decode(nil, oidText)
	require.NoError(t, err)
	require.Nil(t, v)
}

func TestLogicalMessages(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	nonTx := logicalMsg(0, false, 0xA10, "vendorhub", `{"type":"heartbeat"}`)
	txs := feedAll(t, d, nonTx)
	require.Len(t, txs, 1, "a non-transactional message is complete at once")
	require.Equal(t, decode.Transaction{
		CommitLSN: 0xA10, EndLSN: 0xA10,
		Messages: []decode.Message{{Prefix: "vendorhub", Content: []byte(`{"type":"heartbeat"}`), LSN: 0xA10}},
	}, txs[0])
	// The decoder copied the content: the caller may reuse its buffer.
	copy(nonTx[len(nonTx)-5:], "XXXXX")
	require.Equal(t, `{"type":"heartbeat"}`, string(txs[0].Messages[0].Content))

	txs = feedAll(t, d,
		messagesRel(0, 'd'),
		beginMsg(0xB00, commitTime, 17),
		logicalMsg(0, true, 0xA20, "vendorhub", "first"),
		insertMsg(0, relID, text("1"), text("x"), null),
		logicalMsg(0, true, 0xA40, "other", "second"),
		commitMsg(0xB00, 0xB30, commitTime),
	)
	require.Len(t, txs, 1)
	msgs := txs[0].Messages
	require.Len(t, msgs, 2)
	require.Equal(t, decode.Message{Prefix: "vendorhub", Content: []byte("first"), Transactional: true, LSN: 0xA20, ChangeIndex: 0}, msgs[0])
	require.Equal(t, decode.Message{Prefix: "other", Content: []byte("second"), Transactional: true, LSN: 0xA40, ChangeIndex: 1}, msgs[1])
}

func TestStreamedTransactionCommit(t *testing.T) {
	t.Parallel()
	const xid, sub = 1000, 1001
	d := decode.NewDecoder(decode.Options{})
	txs := feedAll(t, d,
		streamStartMsg(xid, true),
		messagesRel(xid, 'd'),
		insertMsg(xid, relID, text("1"), text("a"), null),
		logicalMsg(xid, true, 0xC10, "vendorhub", "m1"),
		streamStopMsg(),
		// Another transaction commits in full between two chunks.
		beginMsg(0xD00, commitTime, 999),
		insertMsg(0, relID, text("9"), text("other"), null),
		commitMsg(0xD00, 0xD30, commitTime),
	)
	require.Len(t, txs, 1)
	require.Equal(t, uint32(999), txs[0].XID)
	require.Equal(t, 2, d.Buffered(), "the streamed transaction is still buffered")
	require.True(t, d.Open(), "between chunks the streamed transaction is still open")

	txs = feedAll(t, d,
		streamStartMsg(xid, false),
		insertMsg(sub, relID, text("2"), text("b"), null),
		updateMsg(xid, relID, 0, nil, []tv{text("1"), toast, text("edited")}),
		streamStopMsg(),
		streamCommitMsg(xid, 0xE00, 0xE30, commitTime),
	)
	require.Len(t, txs, 1)
	tx := txs[0]
	require.True(t, tx.Streamed)
	require.Equal(t, uint32(xid), tx.XID)
	require.Equal(t, uint64(0xE00), tx.CommitLSN)
	require.Equal(t, uint64(0xE30), tx.EndLSN)
	require.Len(t, tx.Changes, 3)
	require.Equal(t, "a", string(tx.Changes[0].New[1].Raw))
	require.Equal(t, "b", string(tx.Changes[1].New[1].Raw))
	require.Equal(t, decode.Unchanged, tx.Changes[2].New[1].Kind)
	require.Equal(t, []decode.Message{{Prefix: "vendorhub", Content: []byte("m1"), Transactional: true, LSN: 0xC10, ChangeIndex: 1}}, tx.Messages)
	require.Equal(t, 0, d.Buffered())
	require.False(t, d.Open())
}

func TestStreamedAbort(t *testing.T) {
	t.Parallel()
	const xid, sub1, sub2 = 2000, 2001, 2002
	start := func(d *decode.Decoder) {
		feedAll(t, d,
			streamStartMsg(xid, true),
			messagesRel(xid, 'd'),
			insertMsg(xid, relID, text("1"), text("top"), null),
			insertMsg(sub1, relID, text("2"), text("sub1"), null),
			logicalMsg(sub1, true, 0xF10, "vendorhub", "from sub1"),
			insertMsg(sub2, relID, text("3"), text("sub2"), null),
			streamStopMsg(),
		)
	}

	t.Run("subtransaction", func(t *testing.T) {
		t.Parallel()
		d := decode.NewDecoder(decode.Options{})
		start(d)
		require.Empty(t, feedAll(t, d, streamAbortMsg(xid, sub1)))
		require.Equal(t, 2, d.Buffered())
		txs := feedAll(t, d, streamCommitMsg(xid, 0xF00, 0xF30, commitTime))
		require.Len(t, txs, 1)
		var bodies []string
		for _, c := range txs[0].Changes {
			bodies = append(bodies, string(c.New[1].Raw))
		}
		require.Equal(t, []string{"top", "sub2"}, bodies, "only the aborted subtransaction's rows are dropped")
		require.Empty(t, txs[0].Messages)
	})

	t.Run("whole transaction", func(t *testing.T) {
		t.Parallel()
		d := decode.NewDecoder(decode.Options{})
		start(d)
		require.Empty(t, feedAll(t, d, streamAbortMsg(xid, xid)))
		require.Equal(t, 0, d.Buffered())
		require.False(t, d.Open())
		_, err := d.Feed(0x1, streamCommitMsg(xid, 0xF00, 0xF30, commitTime))
		var pe *decode.ProtocolError
		require.ErrorAs(t, err, &pe, "the aborted transaction is gone")
	})

	t.Run("abort of a transaction never streamed here", func(t *testing.T) {
		t.Parallel()
		d := decode.NewDecoder(decode.Options{})
		require.Empty(t, feedAll(t, d, streamAbortMsg(4242, 4243)))
	})
}

func TestUnknownRelation(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	feedAll(t, d, beginMsg(0x100, commitTime, 1))
	_, err := d.Feed(0xABC, insertMsg(0, 99, text("1")))
	var ue *decode.UnknownRelationError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, uint32(99), ue.ID)
	require.Equal(t, uint64(0xABC), ue.WALStart)

	// The decoder is unusable past an error: it says so instead of guessing.
	_, again := d.Feed(0xABD, commitMsg(0x100, 0x130, commitTime))
	require.ErrorAs(t, again, &ue)

	d = decode.NewDecoder(decode.Options{})
	_, err = d.Feed(0x1, truncateMsg(0, 0, 77))
	require.Error(t, err)
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	ins := insertMsg(0, relID, text("1"), text("hello"), null)
	hugeLen := append(wire{'I'}.u32(relID).u8('N').u16(1).u8('t'), 0xFF, 0xFF, 0xFF, 0xFF, 'x')
	for _, tc := range []struct {
		name   string
		before [][]byte
		msg    []byte
		reason string
	}{
		{name: "empty", msg: nil, reason: "empty message"},
		{name: "unknown type", msg: []byte{'Z', 1, 2}, reason: "unsupported message type"},
		{name: "two-phase begin prepare", msg: []byte{'b', 0, 0}, reason: "unsupported message type"},
		{name: "truncated begin", msg: beginMsg(1, commitTime, 1)[:10], reason: "truncated"},
		{name: "truncated insert", before: [][]byte{beginMsg(1, commitTime, 1)}, msg: ins[:len(ins)-3], reason: "column length exceeds"},
		{name: "insert cut in tuple header", before: [][]byte{beginMsg(1, commitTime, 1)}, msg: ins[:10], reason: "truncated"},
		{name: "column length beyond message", before: [][]byte{beginMsg(1, commitTime, 1)}, msg: hugeLen, reason: "column length exceeds"},
		{name: "unknown column kind", before: [][]byte{beginMsg(1, commitTime, 1)}, msg: insertMsg(0, relID, tv{kind: 'q'}), reason: "unknown tuple column kind"},
		{name: "trailing bytes", msg: append(beginMsg(1, commitTime, 1), 0), reason: "trailing bytes"},
		{name: "string without NUL", msg: wire{'O'}.u64(1).u8('x'), reason: "NUL"},
		{name: "truncate count beyond message", msg: wire{'T'}.u32(0xFFFFFFFF).u8(0).u32(1), reason: "relation count exceeds"},
		{name: "message content beyond message", msg: wire{'M'}.u8(1).u64(1).str("p").u32(1 << 30), reason: "content length exceeds"},
		{name: "insert tag not N", msg: wire{'I'}.u32(relID).u8('X').tuple(), reason: "expected tuple tag N"},
		{name: "update tag", msg: wire{'U'}.u32(relID).u8('X').tuple(), reason: "not K, O or N"},
		{name: "delete tag", msg: wire{'D'}.u32(relID).u8('N').tuple(), reason: "not K or O"},
		{name: "commit without begin", msg: commitMsg(1, 2, commitTime), reason: "Commit without Begin"},
		{name: "begin inside transaction", before: [][]byte{beginMsg(1, commitTime, 1)}, msg: beginMsg(2, commitTime, 2), reason: "Begin inside"},
		{name: "commit LSN differs from begin", before: [][]byte{beginMsg(1, commitTime, 1)}, msg: commitMsg(2, 3, commitTime), reason: "differs from Begin"},
		{name: "change outside transaction", msg: ins, reason: "outside a transaction"},
		{name: "transactional message outside transaction", msg: logicalMsg(0, true, 1, "vendorhub", "{}"), reason: "outside a transaction"},
		{name: "origin outside transaction", msg: originMsg(1, "x"), reason: "Origin outside"},
		{name: "segment without first", msg: streamStartMsg(5, false), reason: "without its first segment"},
		{name: "second first segment", before: [][]byte{streamStartMsg(5, true), streamStopMsg()}, msg: streamStartMsg(5, true), reason: "second first segment"},
		{name: "nested stream start", before: [][]byte{streamStartMsg(5, true)}, msg: streamStartMsg(6, true), reason: "StreamStart inside"},
		{name: "stream stop outside stream", msg: streamStopMsg(), reason: "StreamStop outside"},
		{name: "stream commit of unknown xid", msg: streamCommitMsg(5, 1, 2, commitTime), reason: "never streamed"},
		{name: "stream commit inside stream", before: [][]byte{streamStartMsg(5, true)}, msg: streamCommitMsg(5, 1, 2, commitTime), reason: "StreamCommit inside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := decode.NewDecoder(decode.Options{})
			feedAll(t, d, append([][]byte{messagesRel(0, 'd')}, tc.before...)...)
			txs, err := d.Feed(0x42, tc.msg)
			require.Empty(t, txs)
			var pe *decode.ProtocolError
			require.ErrorAs(t, err, &pe)
			require.Contains(t, pe.Reason, tc.reason)
			require.Equal(t, uint64(0x42), pe.WALStart)
			require.Contains(t, err.Error(), "0/42")
		})
	}
}

func TestBufferLimit(t *testing.T) {
	t.Parallel()
	t.Run("transaction", func(t *testing.T) {
		t.Parallel()
		d := decode.NewDecoder(decode.Options{MaxBufferedChanges: 2})
		feedAll(t, d, messagesRel(0, 'd'), beginMsg(0x10, commitTime, 77),
			insertMsg(0, relID, text("1"), null, null),
			logicalMsg(0, true, 0x11, "vendorhub", "{}"))
		_, err := d.Feed(0x12, insertMsg(0, relID, text("2"), null, null))
		var be *decode.BufferLimitError
		require.ErrorAs(t, err, &be)
		require.Equal(t, 2, be.Limit)
		require.Equal(t, uint32(77), be.XID)
	})
	t.Run("streams count together", func(t *testing.T) {
		t.Parallel()
		d := decode.NewDecoder(decode.Options{MaxBufferedChanges: 2})
		feedAll(t, d,
			streamStartMsg(1, true), messagesRel(1, 'd'), insertMsg(1, relID, text("1"), null, null), streamStopMsg(),
			streamStartMsg(2, true), insertMsg(2, relID, text("2"), null, null), streamStopMsg(),
			streamStartMsg(1, false))
		_, err := d.Feed(0x12, insertMsg(1, relID, text("3"), null, null))
		var be *decode.BufferLimitError
		require.ErrorAs(t, err, &be)
		require.Equal(t, uint32(1), be.XID)
	})
	t.Run("committed transactions free their share", func(t *testing.T) {
		t.Parallel()
		d := decode.NewDecoder(decode.Options{MaxBufferedChanges: 1})
		feedAll(t, d, messagesRel(0, 'd'))
		for i := range 3 {
			lsn := uint64(0x100 * (i + 1))
			txs := feedAll(t, d, beginMsg(lsn, commitTime, uint32(i+1)),
				insertMsg(0, relID, text("1"), null, null), commitMsg(lsn, lsn+0x30, commitTime))
			require.Len(t, txs, 1)
		}
	})
	require.Equal(t, 1<<20, decode.Options{}.WithDefaults().MaxBufferedChanges)
}

func TestValueDecode(t *testing.T) {
	t.Parallel()
	m := pgtype.NewMap()
	for _, tc := range []struct {
		name string
		v    decode.Value
		oid  uint32
		want any
	}{
		{"int4 text", decode.Value{Kind: decode.Text, Raw: []byte("42")}, oidInt4, int32(42)},
		{"bool text", decode.Value{Kind: decode.Text, Raw: []byte("t")}, oidBool, true},
		{"text", decode.Value{Kind: decode.Text, Raw: []byte("héllo")}, oidText, "héllo"},
		{"int4 binary", decode.Value{Kind: decode.Binary, Raw: binary.BigEndian.AppendUint32(nil, 7)}, oidInt4, int32(7)},
		{"unknown type as text", decode.Value{Kind: decode.Text, Raw: []byte("confirmed")}, 90001, "confirmed"},
		{"unknown type as bytes", decode.Value{Kind: decode.Binary, Raw: []byte{1, 2}}, 90001, []byte{1, 2}},
		{"null", decode.Value{Kind: decode.Null}, oidInt4, nil},
	} {
		got, err := tc.v.Decode(m, tc.oid)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
	_, err := decode.Value{Kind: decode.Text, Raw: []byte("forty-two")}.Decode(m, oidInt4)
	require.Error(t, err)
	require.False(t, errors.Is(err, decode.ErrUnchanged))
}

// Transactional messages' contents are copied too (several share one block), and appending
// to one cannot overwrite another.
func TestTransactionalMessageContentsAreOwnedAndSeparate(t *testing.T) {
	t.Parallel()
	d := decode.NewDecoder(decode.Options{})
	first := logicalMsg(0, true, 0xA20, "vendorhub", "first")
	second := logicalMsg(0, true, 0xA40, "vendorhub", strings.Repeat("s", 2000))
	third := logicalMsg(0, true, 0xA60, "vendorhub", "third")
	txs := feedAll(t, d, beginMsg(0xB00, commitTime, 17), first, second, third, logicalMsg(0, true, 0xA70, "vendorhub", ""), commitMsg(0xB00, 0xB30, commitTime))
	require.Len(t, txs, 1)
	msgs := txs[0].Messages
	require.Len(t, msgs, 4)
	for _, m := range [][]byte{first, second, third} {
		copy(m[len(m)-5:], "XXXXX") // the caller reuses its buffers
	}
	_ = append(msgs[0].Content, "YYYYY"...)
	require.Equal(t, "first", string(msgs[0].Content))
	require.Equal(t, strings.Repeat("s", 2000), string(msgs[1].Content))
	require.Equal(t, "third", string(msgs[2].Content))
	require.Nil(t, msgs[3].Content, "an empty content stays nil")
}

// Dropping an aborted subtransaction renumbers the kept messages' ChangeIndex to count only
// the kept changes before them.
func TestStreamedAbortRenumbersMessages(t *testing.T) {
	t.Parallel()
	const xid, sub = 3000, 3001
	d := decode.NewDecoder(decode.Options{})
	feedAll(t, d,
		streamStartMsg(xid, true),
		messagesRel(xid, 'd'),
		insertMsg(sub, relID, text("1"), text("sub a"), null),
		insertMsg(xid, relID, text("2"), text("top"), null),
		logicalMsg(xid, true, 0x110, "vendorhub", "after top"),
		insertMsg(sub, relID, text("3"), text("sub b"), null),
		logicalMsg(sub, true, 0x120, "vendorhub", "from sub"),
		logicalMsg(xid, true, 0x130, "vendorhub", "last"),
		streamStopMsg(),
	)
	require.Equal(t, 6, d.Buffered())
	require.Empty(t, feedAll(t, d, streamAbortMsg(xid, sub)))
	require.Equal(t, 3, d.Buffered())
	txs := feedAll(t, d, streamCommitMsg(xid, 0x200, 0x230, commitTime))
	require.Len(t, txs, 1)
	require.Len(t, txs[0].Changes, 1)
	require.Equal(t, "top", string(txs[0].Changes[0].New[1].Raw))
	require.Equal(t, []decode.Message{
		{Prefix: "vendorhub", Content: []byte("after top"), Transactional: true, LSN: 0x110, ChangeIndex: 1},
		{Prefix: "vendorhub", Content: []byte("last"), Transactional: true, LSN: 0x130, ChangeIndex: 1},
	}, txs[0].Messages)
	require.Equal(t, 0, d.Buffered())
}
