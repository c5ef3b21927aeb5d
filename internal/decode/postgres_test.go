package decode_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// probe is a database with a published table and a pgoutput slot created before any change.
type probe struct {
	t    *testing.T
	conn *pgx.Conn
	slot string
	// seen counts the pgoutput message types of the last changes call.
	seen map[byte]int
}

func newProbe(t *testing.T) *probe {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewEmptyDB(t)
	conn, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	p := &probe{t: t, conn: conn, slot: "decode_" + strings.ReplaceAll(db.Name, "-", "_")}
	p.exec(`create table probe (id int primary key, body text, status text)`,
		// EXTERNAL: stored out of line uncompressed, so the body is TOASTed whatever its bytes.
		`alter table probe alter column body set storage external`,
		`create table other (id int primary key)`,
		`create publication probe_pub for table probe, other`,
		fmt.Sprintf(`select pg_create_logical_replication_slot('%s', 'pgoutput')`, p.slot))
	return p
}

func (p *probe) exec(sqls ...string) {
	p.t.Helper()
	for _, sql := range sqls {
		_, err := p.conn.Exec(context.Background(), sql)
		require.NoError(p.t, err, sql)
	}
}

// changes reads the slot's pending pgoutput messages, with options (name, value pairs)
// over the defaults, (peek: the slot does not advance, so
// several option sets read the same WAL) and feeds them, in order, to a new Decoder.
func (p *probe) changes(options ...string) []decode.Transaction {
	p.t.Helper()
	opts := map[string]string{"proto_version": "2", "publication_names": "probe_pub", "messages": "true"}
	for i := 0; i+1 < len(options); i += 2 {
		opts[options[i]] = options[i+1]
	}
	var args []string
	for k, v := range opts {
		args = append(args, "'"+k+"'", "'"+v+"'")
	}
	rows, err := p.conn.Query(context.Background(), fmt.Sprintf(
		`select lsn::text, data from pg_logical_slot_peek_binary_changes('%s', NULL, NULL, %s)`, p.slot, strings.Join(args, ", ")))
	require.NoError(p.t, err)
	d := decode.NewDecoder(decode.Options{})
	var out []decode.Transaction
	p.seen = map[byte]int{}
	for rows.Next() {
		var lsnText string
		var data []byte
		require.NoError(p.t, rows.Scan(&lsnText, &data))
		var hi, lo uint32
		_, err := fmt.Sscanf(lsnText, "%X/%X", &hi, &lo)
		require.NoError(p.t, err)
		p.seen[data[0]]++
		txs, err := d.Feed(uint64(hi)<<32|uint64(lo), data)
		require.NoError(p.t, err, "message %q at %s", data[0], lsnText)
		out = append(out, txs...)
	}
	require.NoError(p.t, rows.Err())
	require.Equal(p.t, 0, d.Buffered(), "every transaction read was completed or discarded")
	return out
}

func (p *probe) decodeText(v decode.Value, oid uint32) any {
	p.t.Helper()
	got, err := v.Decode(nil, oid)
	require.NoError(p.t, err)
	return got
}

// TestRealPgoutput proves the decoder on bytes written by a real Postgres: every message
// kind, TOAST, replica identities, logical messages, a rollback and a schema change.
func TestRealPgoutput(t *testing.T) {
	t.Parallel()
	p := newProbe(t)
	big := randomText(t, 10_000)
	p.exec(
		// 1: insert with a 10 KB body, and an event in the same transaction.
		`begin`,
		`insert into probe values (1, '`+big+`', 'new')`,
		`select pg_logical_emit_message(true, 'vendorhub', '{"type":"message.created"}')`,
		`commit`,
		// 2: update another column: the body is unchanged TOAST.
		`update probe set status = 'read' where id = 1`,
		// 3: a NULL next to an unchanged TOAST value.
		`update probe set status = null where id = 1`,
		// 4: key change under the default identity: old key only.
		`update probe set id = 2 where id = 1`,
		// 5: a non-transactional message.
		`select pg_logical_emit_message(false, 'vendorhub', 'non-tx')`,
		// a rolled-back transaction produces nothing.
		`begin`,
		`insert into probe values (99, 'x', 'rolled back')`,
		`select pg_logical_emit_message(true, 'vendorhub', 'rolled back')`,
		`rollback`,
		// 6: schema change, then an insert in the new shape.
		`alter table probe add column rank int`,
		`insert into probe values (3, 'small', 'new', 7)`,
		// 7: full identity: the whole old row.
		`alter table probe replica identity full`,
		`update probe set status = 'archived' where id = 3`,
		// 8: delete under full identity.
		`delete from probe where id = 3`,
		// 9: truncate of two tables.
		`truncate probe, other restart identity`,
	)

	txs := p.changes()
	require.Len(t, txs, 9)
	for i, tx := range txs {
		require.LessOrEqual(t, tx.CommitLSN, tx.EndLSN, "tx %d", i)
		if i > 0 {
			require.Greater(t, tx.EndLSN, txs[i-1].EndLSN, "tx %d: end LSNs increase", i)
		}
	}

	// 1
	ins := txs[0]
	require.NotZero(t, ins.XID)
	require.False(t, ins.CommitTime.IsZero())
	require.Len(t, ins.Changes, 1)
	require.Equal(t, decode.Insert, ins.Changes[0].Op)
	rel := ins.Changes[0].Relation
	require.Equal(t, "public.probe", rel.QualifiedName())
	require.Equal(t, byte('d'), rel.ReplicaIdentity)
	require.Equal(t, []decode.Column{
		{Name: "id", TypeOID: pgtype.Int4OID, TypeModifier: -1, Key: true},
		{Name: "body", TypeOID: pgtype.TextOID, TypeModifier: -1},
		{Name: "status", TypeOID: pgtype.TextOID, TypeModifier: -1},
	}, rel.Columns)
	require.Equal(t, big, p.decodeText(ins.Changes[0].New[1], pgtype.TextOID), "the inserted TOASTed body is sent whole")
	require.Equal(t, []decode.Message{{Prefix: "vendorhub", Content: []byte(`{"type":"message.created"}`), Transactional: true, LSN: ins.Messages[0].LSN, ChangeIndex: 1}}, ins.Messages)
	require.Greater(t, ins.Messages[0].LSN, uint64(0))

	// 2: body unchanged and NOT null; no old row.
	upd := txs[1].Changes[0]
	require.Equal(t, decode.Update, upd.Op)
	require.Equal(t, decode.OldNone, upd.OldKind)
	require.Nil(t, upd.Old)
	require.Equal(t, int32(1), p.decodeText(upd.New[0], pgtype.Int4OID))
	require.Equal(t, decode.Unchanged, upd.New[1].Kind)
	require.Equal(t, "read", p.decodeText(upd.New[2], pgtype.TextOID))

	// 3: null vs unchanged, side by side.
	nul := txs[2].Changes[0]
	require.Equal(t, decode.Unchanged, nul.New[1].Kind)
	require.Equal(t, decode.Null, nul.New[2].Kind)

	// 4: old key only; the body is still unchanged in the new row.
	key := txs[3].Changes[0]
	require.Equal(t, decode.OldKey, key.OldKind)
	require.Equal(t, int32(1), p.decodeText(key.Old[0], pgtype.Int4OID))
	require.Equal(t, decode.Absent, key.Old[1].Kind)
	require.Equal(t, decode.Absent, key.Old[2].Kind)
	require.Equal(t, int32(2), p.decodeText(key.New[0], pgtype.Int4OID))
	require.Equal(t, decode.Unchanged, key.New[1].Kind)

	// 5
	nt := txs[4]
	require.Zero(t, nt.XID)
	require.Equal(t, nt.CommitLSN, nt.EndLSN)
	require.Equal(t, []decode.Message{{Prefix: "vendorhub", Content: []byte("non-tx"), LSN: nt.EndLSN}}, nt.Messages)

	// 6: the new relation description arrived with the change.
	add := txs[5].Changes[0]
	require.Len(t, add.Relation.Columns, 4)
	require.Equal(t, int32(7), p.decodeText(add.New[3], pgtype.Int4OID))
	require.Len(t, rel.Columns, 3, "changes decoded before the ALTER keep their description")

	// 7
	full := txs[6].Changes[0]
	require.Equal(t, byte('f'), full.Relation.ReplicaIdentity)
	require.Equal(t, decode.OldFull, full.OldKind)
	require.Equal(t, "new", p.decodeText(full.Old[2], pgtype.TextOID))
	require.Equal(t, "archived", p.decodeText(full.New[2], pgtype.TextOID))

	// 8
	del := txs[7].Changes[0]
	require.Equal(t, decode.Delete, del.Op)
	require.Equal(t, decode.OldFull, del.OldKind)
	require.Equal(t, "small", p.decodeText(del.Old[1], pgtype.TextOID))

	// 9
	tr := txs[8].Changes[0]
	require.Equal(t, decode.Truncate, tr.Op)
	require.True(t, tr.RestartIdentity)
	require.False(t, tr.Cascade)
	var names []string
	for _, r := range tr.TruncatedRelations {
		names = append(names, r.Name)
	}
	require.ElementsMatch(t, []string{"probe", "other"}, names)

	// The same WAL in binary format and in protocol version 1 decodes to the same shape.
	bin := p.changes("binary", "true")
	require.Len(t, bin, 9)
	require.Equal(t, decode.Binary, bin[0].Changes[0].New[0].Kind)
	got, err := bin[0].Changes[0].New[0].Decode(pgtype.NewMap(), pgtype.Int4OID)
	require.NoError(t, err)
	require.Equal(t, int32(1), got)
	require.Equal(t, decode.Unchanged, bin[1].Changes[0].New[1].Kind)
	v1 := p.changes("proto_version", "1")
	require.Len(t, v1, 9)
	require.Equal(t, txs[3].Changes[0].Old, v1[3].Changes[0].Old)
}

// TestRealStreamedTransactions makes Postgres stream large in-progress transactions
// (logical_decoding_work_mem at its 64 kB minimum) and checks they are reassembled: a
// committed one with a rolled-back savepoint, and an aborted one that yields nothing.
func TestRealStreamedTransactions(t *testing.T) {
	t.Parallel()
	p := newProbe(t)
	p.exec(
		`begin`,
		`insert into probe select g, repeat('a', 200), 'kept' from generate_series(1, 2000) g`,
		`savepoint s`,
		`insert into probe select g, repeat('b', 200), 'dropped' from generate_series(2001, 3000) g`,
		`select pg_logical_emit_message(true, 'vendorhub', 'in aborted subxact')`,
		`rollback to savepoint s`,
		`insert into probe select g, repeat('c', 200), 'kept' from generate_series(3001, 4000) g`,
		`select pg_logical_emit_message(true, 'vendorhub', 'kept')`,
		`commit`,
		`begin`,
		`insert into probe select g, repeat('d', 200), 'aborted' from generate_series(5001, 7000) g`,
		`rollback`,
		`insert into probe values (8000, 'after', 'kept')`,
	)
	p.exec(`set logical_decoding_work_mem = '64kB'`)
	txs := p.changes("streaming", "on")
	require.Len(t, txs, 2)

	big := txs[0]
	require.True(t, big.Streamed, "Postgres streamed the large transaction")
	require.Greater(t, p.seen['S'], 2, "in several chunks")
	require.Equal(t, 2, p.seen['A'], "the streamed savepoint and the streamed aborted transaction were aborted by StreamAbort")
	require.Len(t, big.Changes, 3000)
	ids := make(map[int32]bool, 3000)
	for _, c := range big.Changes {
		require.Equal(t, "kept", p.decodeText(c.New[2], pgtype.TextOID))
		ids[p.decodeText(c.New[0], pgtype.Int4OID).(int32)] = true
	}
	require.Len(t, ids, 3000)
	require.True(t, ids[1] && ids[2000] && ids[3001] && ids[4000])
	require.False(t, ids[2001], "rows of the rolled-back savepoint are gone")
	require.Len(t, big.Messages, 1)
	require.Equal(t, "kept", string(big.Messages[0].Content))
	require.Equal(t, 3000, big.Messages[0].ChangeIndex)

	small := txs[1]
	require.False(t, small.Streamed)
	require.Len(t, small.Changes, 1)
	require.Greater(t, small.EndLSN, big.EndLSN)

	// Without streaming the same WAL arrives as plain transactions with the same rows.
	plain := p.changes()
	require.Len(t, plain, 2)
	require.False(t, plain[0].Streamed)
	require.Len(t, plain[0].Changes, 3000)
	require.Equal(t, big.CommitLSN, plain[0].CommitLSN)
	require.Equal(t, big.EndLSN, plain[0].EndLSN)
}

func randomText(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n/2)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// TestRealStreamedSchemaChangeRolledBack: a Relation sent inside a streamed transaction
// describes the table as that transaction sees it. When the transaction aborts, later
// transactions must still decode with the committed description (Postgres does not
// re-send it).
func TestRealStreamedSchemaChangeRolledBack(t *testing.T) {
	t.Parallel()
	p := newProbe(t)
	p.exec(
		`insert into probe values (1, 'before', 'kept')`,
		`begin`,
		`alter table probe add column rank int`,
		`insert into probe select g, repeat('d', 200), 'aborted', g from generate_series(1001, 3000) g`,
		`rollback`,
		`insert into probe values (2, 'after', 'kept')`,
		`begin`,
		`alter table probe add column score int`,
		`insert into probe select g, repeat('e', 200), 'kept', g from generate_series(4001, 6000) g`,
		`commit`,
		`insert into probe values (3, 'last', 'kept', 9)`,
	)
	p.exec(`set logical_decoding_work_mem = '64kB'`)
	txs := p.changes("streaming", "on")
	require.Greater(t, p.seen['A'], 0, "the aborted transaction was streamed")
	require.Len(t, txs, 4)
	require.Len(t, txs[1].Changes, 1)
	after := txs[1].Changes[0]
	require.Len(t, after.Relation.Columns, 3, "the rolled-back column is not part of the table")
	require.Equal(t, "after", p.decodeText(after.New[1], pgtype.TextOID))
	require.True(t, txs[2].Streamed)
	require.Len(t, txs[2].Changes, 2000)
	require.Len(t, txs[2].Changes[0].Relation.Columns, 4)
	last := txs[3].Changes[0]
	require.Len(t, last.Relation.Columns, 4, "the committed streamed schema is the table's schema")
	require.Equal(t, int32(9), p.decodeText(last.New[3], pgtype.Int4OID))
}
