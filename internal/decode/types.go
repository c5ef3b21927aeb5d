package decode

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Transaction is one committed transaction, or one non-transactional logical message.
type Transaction struct {
	// XID is the top-level transaction id; zero for a non-transactional message.
	XID uint32
	// CommitLSN is the LSN of the commit record. For a non-transactional message it is the
	// message's LSN (the end of its WAL record).
	CommitLSN uint64
	// EndLSN is pgoutput's TransactionEndLSN: the ONLY position that may be acknowledged,
	// once the transaction's durable effects have committed. For a non-transactional
	// message it equals CommitLSN.
	EndLSN uint64
	// CommitTime is the commit timestamp (zero for a non-transactional message).
	CommitTime time.Time
	// Changes are the row changes, in WAL order.
	Changes []Change
	// Messages are the logical decoding messages, in WAL order.
	Messages []Message
	// Streamed reports that the transaction arrived in streamed chunks (StreamStart …
	// StreamCommit) rather than as Begin … Commit.
	Streamed bool
}

// Op is the kind of a row change.
type Op uint8

// Row change kinds.
const (
	Insert Op = iota + 1
	Update
	Delete
	Truncate
)

func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	case Truncate:
		return "truncate"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// OldTupleKind says what Change.Old holds.
type OldTupleKind uint8

// Old tuple kinds.
const (
	// OldNone: no old row was sent (inserts; updates under the default replica identity
	// that did not change the key). The old row is missing, not empty.
	OldNone OldTupleKind = iota
	// OldKey: only the replica identity key columns (Column.Key) were sent; the other
	// columns are Values of Kind Absent.
	OldKey
	// OldFull: the whole old row (REPLICA IDENTITY FULL).
	OldFull
)

func (k OldTupleKind) String() string {
	switch k {
	case OldNone:
		return "none"
	case OldKey:
		return "key"
	case OldFull:
		return "full"
	}
	return fmt.Sprintf("old(%d)", uint8(k))
}

// Change is one row change (or one TRUNCATE) of a committed transaction.
type Change struct {
	// Op is the kind of change.
	Op Op
	// Relation is the table changed (nil for Truncate: see TruncatedRelations). It is the
	// relation as described when the change was decoded; a later schema change replaces the
	// cache entry, not this pointer's contents.
	Relation *Relation
	// New is the new row (Insert, Update); nil otherwise.
	New Tuple
	// Old is the old row or key (Update, Delete) as described by OldKind; nil when OldKind
	// is OldNone.
	Old Tuple
	// OldKind says what Old holds.
	OldKind OldTupleKind
	// TruncatedRelations are the tables a Truncate emptied.
	TruncatedRelations []*Relation
	// Cascade and RestartIdentity are the TRUNCATE options.
	Cascade, RestartIdentity bool
}

// Tuple is a row, aligned with Relation.Columns.
type Tuple []Value

// Get returns the value of the named column, if the relation has it.
func (t Tuple) Get(rel *Relation, column string) (Value, bool) {
	if rel == nil {
		return Value{}, false
	}
	i := rel.ColumnIndex(column)
	if i < 0 || i >= len(t) {
		return Value{}, false
	}
	return t[i], true
}

// ValueKind is how a column value was sent.
type ValueKind uint8

// Value kinds.
const (
	// Null is SQL NULL.
	Null ValueKind = iota + 1
	// Unchanged is a TOASTed value the update did not touch: pgoutput does not resend it.
	// It is NOT null; the consumer must keep whatever value it already has.
	Unchanged
	// Text is a value in text format (pgoutput's default).
	Text
	// Binary is a value in binary format (pgoutput's binary 'true').
	Binary
	// Absent is a column of an OldKey tuple outside the replica identity key: pgoutput sends
	// it as 'n' meaning "not part of the identity", which is NOT a null.
	Absent
)

func (k ValueKind) String() string {
	switch k {
	case Null:
		return "null"
	case Unchanged:
		return "unchanged"
	case Text:
		return "text"
	case Binary:
		return "binary"
	case Absent:
		return "absent"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Value is one column value as sent.
type Value struct {
	// Kind says how the value was sent.
	Kind ValueKind
	// Raw is the value in its wire format (Text or Binary); nil for the other kinds.
	Raw []byte
}

// IsNull reports SQL NULL (only Kind Null: Unchanged and Absent are not null).
func (v Value) IsNull() bool { return v.Kind == Null }

// ErrUnchanged is returned by Value.Decode for an unchanged TOASTed value: there is no
// value to decode, and it must not be mistaken for null.
var ErrUnchanged = errors.New("decode: unchanged TOAST value was not sent")

// ErrAbsent is returned by Value.Decode for a column an OldKey tuple does not carry.
var ErrAbsent = errors.New("decode: column is not part of the replica identity key and was not sent")

// Decode returns the value as a Go value through pgtype, using the codec registered in m
// for oid (the column's Column.TypeOID). Null decodes to nil; Unchanged returns
// ErrUnchanged; a type m does not know decodes to its text (string) or raw bytes. A nil m
// means a fresh pgtype.NewMap() (slow: pass a map when decoding many values; a
// pgtype.Map is not safe for concurrent use).
func (v Value) Decode(m *pgtype.Map, oid uint32) (any, error) {
	switch v.Kind {
	case Null:
		return nil, nil
	case Unchanged:
		return nil, ErrUnchanged
	case Absent:
		return nil, ErrAbsent
	case Text, Binary:
	default:
		return nil, fmt.Errorf("decode: value of unknown kind %d", v.Kind)
	}
	if m == nil {
		m = pgtype.NewMap()
	}
	format := int16(pgtype.TextFormatCode)
	if v.Kind == Binary {
		format = pgtype.BinaryFormatCode
	}
	dt, ok := m.TypeForOID(oid)
	if !ok {
		if v.Kind == Text {
			return string(v.Raw), nil
		}
		return append([]byte(nil), v.Raw...), nil
	}
	val, err := dt.Codec.DecodeValue(m, oid, format, v.Raw)
	if err != nil {
		return nil, fmt.Errorf("decode: value of type %s (oid %d): %w", dt.Name, oid, err)
	}
	return val, nil
}

// Relation describes a published table, as sent by a Relation message.
type Relation struct {
	// ID is the table's OID.
	ID uint32
	// Namespace is the schema name.
	Namespace string
	// Name is the table name.
	Name string
	// ReplicaIdentity is relreplident: 'd' default, 'n' nothing, 'f' full, 'i' index.
	ReplicaIdentity byte
	// Columns are the published columns, in order.
	Columns []Column
}

// ColumnIndex returns the position of the named column, or -1.
func (r *Relation) ColumnIndex(name string) int {
	for i, c := range r.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// QualifiedName is "namespace.name".
func (r *Relation) QualifiedName() string { return r.Namespace + "." + r.Name }

// Column is one published column.
type Column struct {
	// Name is the column name.
	Name string
	// TypeOID is the column's data type; see Decoder.TypeName for non-builtin types.
	TypeOID uint32
	// TypeModifier is atttypmod.
	TypeModifier int32
	// Key reports that the column is part of the replica identity key.
	Key bool
}

// Message is a logical decoding message (pg_logical_emit_message).
type Message struct {
	// Prefix is the message prefix, e.g. "vendorhub".
	Prefix string
	// Content is the message payload, owned by the Message: Feed copies it, into blocks
	// shared with the other messages of its transaction (holding one message's Content
	// holds its block). Its capacity is clipped: appending to it copies.
	Content []byte
	// Transactional reports whether the message was emitted transactionally (then it exists
	// only if its transaction committed).
	Transactional bool
	// LSN is the message's LSN (the end of its WAL record).
	LSN uint64
	// ChangeIndex is the number of the transaction's Changes that precede the message.
	ChangeIndex int
}
