package decode

import (
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
)

// MaxBufferedChangesDefault is the default Options.MaxBufferedChanges.
const MaxBufferedChangesDefault = 1 << 20

// Options configure a Decoder.
type Options struct {
	// MaxBufferedChanges bounds the changes and transactional messages of uncommitted
	// transactions (the open Begin … Commit one plus every streamed one) held at once; past
	// it Feed returns a *BufferLimitError. Defaults to MaxBufferedChangesDefault (1<<20).
	MaxBufferedChanges int
}

// WithDefaults returns a copy of o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.MaxBufferedChanges <= 0 {
		o.MaxBufferedChanges = MaxBufferedChangesDefault
	}
	return o
}

// TypeInfo names a non-builtin data type announced by a Type message.
type TypeInfo struct {
	// Namespace is the type's schema.
	Namespace string
	// Name is the type's name.
	Name string
}

// Decoder assembles pgoutput messages into committed transactions. It is not safe for
// concurrent use; one Decoder follows one START_REPLICATION stream (a new connection
// starts with a new Decoder: the server re-sends Relation messages per session).
type Decoder struct {
	opts      Options
	relations map[uint32]*Relation
	types     map[uint32]TypeInfo
	tx        *pending            // open Begin … Commit transaction
	streams   map[uint32]*pending // streamed transactions by top-level xid
	inStream  bool
	streamXID uint32
	buffered  int   // changes and messages held in tx and streams
	err       error // first error: the Decoder is unusable past it
	// lastChanges, lastMessages and lastContents are the sizes of the last committed
	// transaction: the initial capacities of the next one's slices and contents block.
	lastChanges, lastMessages, lastContents int
}

// NewDecoder returns a Decoder with an empty relation cache.
func NewDecoder(opts Options) *Decoder {
	return &Decoder{
		opts:      opts.WithDefaults(),
		relations: make(map[uint32]*Relation),
		types:     make(map[uint32]TypeInfo),
		streams:   make(map[uint32]*pending),
	}
}

// Relation returns the cached description of relation id.
func (d *Decoder) Relation(id uint32) (*Relation, bool) {
	r, ok := d.relations[id]
	return r, ok
}

// TypeName returns the name of a non-builtin type announced by a Type message.
func (d *Decoder) TypeName(oid uint32) (TypeInfo, bool) {
	t, ok := d.types[oid]
	return t, ok
}

// Open reports whether a transaction is in progress: a Begin without its Commit, or a
// streamed transaction not yet committed or aborted. Only when none is open may a consumer
// treat the server's WAL end as a position with nothing pending.
func (d *Decoder) Open() bool { return d.tx != nil || len(d.streams) > 0 }

// Buffered returns the number of changes and messages of uncommitted transactions held.
func (d *Decoder) Buffered() int { return d.buffered }

// Feed takes the WALData of one XLogData message and its WALStart. It returns the
// transactions that became complete with this message: usually none or one. A Commit or
// StreamCommit completes a transaction; StreamAbort discards a streamed transaction (or
// only the aborted subtransaction's changes). A non-transactional logical message is
// returned at once as a Transaction with only Messages and XID zero.
//
// Feed does not retain walData. Errors are *ProtocolError, *UnknownRelationError or
// *BufferLimitError; after one, every later Feed returns it again: discard the Decoder
// and restart replication from the last acknowledged position.
func (d *Decoder) Feed(walStart uint64, walData []byte) ([]Transaction, error) {
	if d.err != nil {
		return nil, d.err
	}
	txs, err := d.feed(walStart, walData)
	if err != nil {
		d.err = err
		return nil, err
	}
	return txs, nil
}

func (d *Decoder) feed(walStart uint64, data []byte) ([]Transaction, error) {
	if len(data) == 0 {
		return nil, &ProtocolError{WALStart: walStart, Reason: "empty message"}
	}
	protoErr := func(format string, args ...any) error {
		return &ProtocolError{WALStart: walStart, MessageType: data[0], Reason: fmt.Sprintf(format, args...)}
	}
	if reason := checkFrame(data, d.inStream); reason != "" {
		return nil, protoErr("%s", reason)
	}
	msg, err := parse(data, d.inStream)
	if err != nil {
		return nil, protoErr("%v", err)
	}

	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		if d.tx != nil || d.inStream {
			return nil, protoErr("Begin inside a transaction or stream")
		}
		d.tx = &pending{xid: m.Xid, finalLSN: uint64(m.FinalLSN), contents: newSlab(d.lastContents)}
		return nil, nil

	case *pglogrepl.CommitMessage:
		if d.tx == nil || d.inStream {
			return nil, protoErr("Commit without Begin")
		}
		if uint64(m.CommitLSN) != d.tx.finalLSN {
			return nil, protoErr("Commit LSN %s differs from Begin's final LSN %s", formatLSN(uint64(m.CommitLSN)), formatLSN(d.tx.finalLSN))
		}
		p := d.tx
		d.tx = nil
		return []Transaction{d.complete(p, uint64(m.CommitLSN), uint64(m.TransactionEndLSN), m.CommitTime, false)}, nil

	case *pglogrepl.OriginMessage:
		if d.tx == nil {
			return nil, protoErr("Origin outside a transaction")
		}
		return nil, nil

	case *pglogrepl.RelationMessageV2:
		rel := &Relation{
			ID:              m.RelationID,
			Namespace:       m.Namespace,
			Name:            m.RelationName,
			ReplicaIdentity: m.ReplicaIdentity,
			Columns:         make([]Column, len(m.Columns)),
		}
		for i, c := range m.Columns {
			rel.Columns[i] = Column{Name: c.Name, TypeOID: c.DataType, TypeModifier: c.TypeModifier, Key: c.Flags&1 != 0}
		}
		// Replace, never mutate: changes decoded earlier keep the description they had.
		d.relations[rel.ID] = rel
		return nil, nil

	case *pglogrepl.TypeMessageV2:
		d.types[m.DataType] = TypeInfo{Namespace: m.Namespace, Name: m.Name}
		return nil, nil

	case *pglogrepl.InsertMessageV2:
		rel, err := d.relation(m.RelationID, walStart)
		if err != nil {
			return nil, err
		}
		newT, err := tuple(m.Tuple, rel, false)
		if err != nil {
			return nil, protoErr("insert into %s: %v", rel.QualifiedName(), err)
		}
		return nil, d.addChange(m.Xid, Change{Op: Insert, Relation: rel, New: newT}, protoErr)

	case *pglogrepl.UpdateMessageV2:
		rel, err := d.relation(m.RelationID, walStart)
		if err != nil {
			return nil, err
		}
		c := Change{Op: Update, Relation: rel}
		if c.New, err = tuple(m.NewTuple, rel, false); err != nil {
			return nil, protoErr("update of %s: new row: %v", rel.QualifiedName(), err)
		}
		if c.OldKind, c.Old, err = oldTuple(m.OldTupleType, m.OldTuple, rel); err != nil {
			return nil, protoErr("update of %s: old row: %v", rel.QualifiedName(), err)
		}
		return nil, d.addChange(m.Xid, c, protoErr)

	case *pglogrepl.DeleteMessageV2:
		rel, err := d.relation(m.RelationID, walStart)
		if err != nil {
			return nil, err
		}
		c := Change{Op: Delete, Relation: rel}
		if c.OldKind, c.Old, err = oldTuple(m.OldTupleType, m.OldTuple, rel); err != nil {
			return nil, protoErr("delete from %s: old row: %v", rel.QualifiedName(), err)
		}
		return nil, d.addChange(m.Xid, c, protoErr)

	case *pglogrepl.TruncateMessageV2:
		c := Change{
			Op:                 Truncate,
			TruncatedRelations: make([]*Relation, len(m.RelationIDs)),
			Cascade:            m.Option&pglogrepl.TruncateOptionCascade != 0,
			RestartIdentity:    m.Option&pglogrepl.TruncateOptionRestartIdentity != 0,
		}
		for i, id := range m.RelationIDs {
			rel, err := d.relation(id, walStart)
			if err != nil {
				return nil, err
			}
			c.TruncatedRelations[i] = rel
		}
		return nil, d.addChange(m.Xid, c, protoErr)

	case *pglogrepl.LogicalDecodingMessageV2:
		lm := Message{
			Prefix:        m.Prefix,
			Content:       m.Content, // aliases walData: copied when kept
			Transactional: m.Transactional,
			LSN:           uint64(m.LSN),
		}
		if !lm.Transactional {
			lm.Content = append([]byte(nil), lm.Content...)
			return []Transaction{{CommitLSN: lm.LSN, EndLSN: lm.LSN, Messages: []Message{lm}}}, nil
		}
		return nil, d.addMessage(m.Xid, lm, protoErr)

	case *pglogrepl.StreamStartMessageV2:
		if d.inStream || d.tx != nil {
			return nil, protoErr("StreamStart inside a transaction or stream")
		}
		p := d.streams[m.Xid]
		switch {
		case p == nil && m.FirstSegment != 1:
			return nil, protoErr("stream segment for xid %d without its first segment", m.Xid)
		case p == nil:
			d.streams[m.Xid] = &pending{xid: m.Xid, contents: newSlab(slabBlockMax)} // streamed: large
		case m.FirstSegment == 1:
			return nil, protoErr("second first segment for streamed xid %d", m.Xid)
		}
		d.inStream, d.streamXID = true, m.Xid
		return nil, nil

	case *pglogrepl.StreamStopMessageV2:
		if !d.inStream {
			return nil, protoErr("StreamStop outside a stream")
		}
		d.inStream = false
		return nil, nil

	case *pglogrepl.StreamCommitMessageV2:
		if d.inStream || d.tx != nil {
			return nil, protoErr("StreamCommit inside a transaction or stream")
		}
		p := d.streams[m.Xid]
		if p == nil {
			return nil, protoErr("StreamCommit for xid %d that never streamed", m.Xid)
		}
		delete(d.streams, m.Xid)
		return []Transaction{d.complete(p, uint64(m.CommitLSN), uint64(m.TransactionEndLSN), m.CommitTime, true)}, nil

	case *pglogrepl.StreamAbortMessageV2:
		if d.inStream || d.tx != nil {
			return nil, protoErr("StreamAbort inside a transaction or stream")
		}
		p := d.streams[m.Xid]
		if p == nil {
			return nil, nil // nothing of it was streamed to this session
		}
		if m.SubXid == m.Xid {
			d.buffered -= p.len()
			delete(d.streams, m.Xid)
			return nil, nil
		}
		d.buffered -= p.dropSub(m.SubXid)
		return nil, nil
	}
	return nil, protoErr("unexpected message %T", msg)
}

// parse is pglogrepl.ParseV2 made total: checkFrame rules out the inputs known to make
// it panic, and a panic that still happens becomes an error.
func parse(data []byte, inStream bool) (msg pglogrepl.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, fmt.Errorf("pglogrepl: %v", r)
		}
	}()
	return pglogrepl.ParseV2(data, inStream)
}

func (d *Decoder) relation(id uint32, walStart uint64) (*Relation, error) {
	rel, ok := d.relations[id]
	if !ok {
		return nil, &UnknownRelationError{ID: id, WALStart: walStart}
	}
	return rel, nil
}

// target returns the transaction a change or transactional message belongs to: the open
// one or, inside a stream, the streamed one (then streamed is true and the message's xid
// names the writing subtransaction). It fails when none is open or the buffer is full.
func (d *Decoder) target(protoErr func(string, ...any) error) (p *pending, streamed bool, err error) {
	switch {
	case d.inStream:
		p, streamed = d.streams[d.streamXID], true
	case d.tx != nil:
		p = d.tx
	default:
		return nil, false, protoErr("change or transactional message outside a transaction")
	}
	if d.buffered >= d.opts.MaxBufferedChanges {
		return nil, false, &BufferLimitError{Limit: d.opts.MaxBufferedChanges, XID: p.xid}
	}
	return p, streamed, nil
}

// addChange buffers a change of the open or streamed transaction.
func (d *Decoder) addChange(xid uint32, c Change, protoErr func(string, ...any) error) error {
	p, streamed, err := d.target(protoErr)
	if err != nil {
		return err
	}
	p.addChange(c, streamed, xid, d.lastChanges)
	d.buffered++
	return nil
}

// addMessage buffers a transactional message of the open or streamed transaction.
func (d *Decoder) addMessage(xid uint32, m Message, protoErr func(string, ...any) error) error {
	p, streamed, err := d.target(protoErr)
	if err != nil {
		return err
	}
	p.addMessage(m, streamed, xid, d.lastMessages)
	d.buffered++
	return nil
}

// complete turns a pending transaction into a Transaction, handing over its slices.
func (d *Decoder) complete(p *pending, commitLSN, endLSN uint64, commitTime time.Time, streamed bool) Transaction {
	d.buffered -= p.len()
	d.lastChanges, d.lastMessages, d.lastContents = len(p.changes), len(p.messages), p.contents.used
	tx := Transaction{XID: p.xid, CommitLSN: commitLSN, EndLSN: endLSN, CommitTime: commitTime, Streamed: streamed}
	if len(p.changes) > 0 {
		tx.Changes = p.changes
	}
	if len(p.messages) > 0 {
		tx.Messages = p.messages
	}
	return tx
}

// tuple converts pglogrepl's tuple; absent marks 'n' columns as Absent (OldKey tuples).
func tuple(td *pglogrepl.TupleData, rel *Relation, absent bool) (Tuple, error) {
	if td == nil {
		return nil, fmt.Errorf("missing tuple")
	}
	if len(td.Columns) != len(rel.Columns) {
		return nil, fmt.Errorf("tuple has %d columns, relation has %d", len(td.Columns), len(rel.Columns))
	}
	t := make(Tuple, len(td.Columns))
	for i, c := range td.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			t[i].Kind = Null
			if absent {
				t[i].Kind = Absent
			}
		case pglogrepl.TupleDataTypeToast:
			t[i].Kind = Unchanged
		case pglogrepl.TupleDataTypeText:
			t[i] = Value{Kind: Text, Raw: c.Data} // pglogrepl copied c.Data
		case pglogrepl.TupleDataTypeBinary:
			t[i] = Value{Kind: Binary, Raw: c.Data}
		default:
			return nil, fmt.Errorf("column %d has unknown kind %q", i, c.DataType)
		}
	}
	return t, nil
}

func oldTuple(kind uint8, td *pglogrepl.TupleData, rel *Relation) (OldTupleKind, Tuple, error) {
	switch kind {
	case 0:
		return OldNone, nil, nil
	case pglogrepl.UpdateMessageTupleTypeKey:
		t, err := tuple(td, rel, true)
		return OldKey, t, err
	case pglogrepl.UpdateMessageTupleTypeOld:
		t, err := tuple(td, rel, false)
		return OldFull, t, err
	}
	return OldNone, nil, fmt.Errorf("unknown old tuple kind %q", kind)
}
