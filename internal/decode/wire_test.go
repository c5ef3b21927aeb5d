package decode_test

import (
	"encoding/binary"
	"time"
)

// Builders of raw pgoutput messages, laid out as in the protocol documentation
// (protocol-logicalrep-message-formats). xid is the in-stream transaction id: 0 builds
// the message as sent outside a stream (no xid field).

type wire []byte

func (w wire) u8(v byte) wire    { return append(w, v) }
func (w wire) u16(v uint16) wire { return binary.BigEndian.AppendUint16(w, v) }
func (w wire) u32(v uint32) wire { return binary.BigEndian.AppendUint32(w, v) }
func (w wire) u64(v uint64) wire { return binary.BigEndian.AppendUint64(w, v) }
func (w wire) str(s string) wire { return append(append(w, s...), 0) }
func (w wire) xid(xid uint32) wire {
	if xid == 0 {
		return w
	}
	return w.u32(xid)
}

var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (w wire) ts(t time.Time) wire { return w.u64(uint64(t.Sub(pgEpoch).Microseconds())) }

func beginMsg(finalLSN uint64, t time.Time, xid uint32) []byte {
	return wire{'B'}.u64(finalLSN).ts(t).u32(xid)
}

func commitMsg(commitLSN, endLSN uint64, t time.Time) []byte {
	return wire{'C'}.u8(0).u64(commitLSN).u64(endLSN).ts(t)
}

type col struct {
	name string
	oid  uint32
	key  bool
}

func relationMsg(xid, id uint32, ns, name string, ident byte, cols ...col) []byte {
	w := wire{'R'}.xid(xid).u32(id).str(ns).str(name).u8(ident).u16(uint16(len(cols)))
	for _, c := range cols {
		flags := byte(0)
		if c.key {
			flags = 1
		}
		w = w.u8(flags).str(c.name).u32(c.oid).u32(0xFFFFFFFF)
	}
	return w
}

func typeMsg(xid, oid uint32, ns, name string) []byte {
	return wire{'Y'}.xid(xid).u32(oid).str(ns).str(name)
}

// tv is one tuple column: kind 't', 'b', 'n' or 'u'.
type tv struct {
	kind byte
	data string
}

func text(s string) tv { return tv{'t', s} }

var (
	null  = tv{kind: 'n'}
	toast = tv{kind: 'u'}
)

func (w wire) tuple(vals ...tv) wire {
	w = w.u16(uint16(len(vals)))
	for _, v := range vals {
		w = w.u8(v.kind)
		if v.kind == 't' || v.kind == 'b' {
			w = append(w.u32(uint32(len(v.data))), v.data...)
		}
	}
	return w
}

func insertMsg(xid, rel uint32, vals ...tv) []byte {
	return wire{'I'}.xid(xid).u32(rel).u8('N').tuple(vals...)
}

// updateMsg builds an update; oldKind 0 sends no old tuple, 'K' or 'O' sends old.
func updateMsg(xid, rel uint32, oldKind byte, old, new []tv) []byte {
	w := wire{'U'}.xid(xid).u32(rel)
	if oldKind != 0 {
		w = w.u8(oldKind).tuple(old...)
	}
	return w.u8('N').tuple(new...)
}

func deleteMsg(xid, rel uint32, oldKind byte, old ...tv) []byte {
	return wire{'D'}.xid(xid).u32(rel).u8(oldKind).tuple(old...)
}

func truncateMsg(xid uint32, options byte, rels ...uint32) []byte {
	w := wire{'T'}.xid(xid).u32(uint32(len(rels))).u8(options)
	for _, r := range rels {
		w = w.u32(r)
	}
	return w
}

func logicalMsg(xid uint32, transactional bool, lsn uint64, prefix, content string) []byte {
	flags := byte(0)
	if transactional {
		flags = 1
	}
	return append(wire{'M'}.xid(xid).u8(flags).u64(lsn).str(prefix).u32(uint32(len(content))), content...)
}

func streamStartMsg(xid uint32, first bool) []byte {
	f := byte(0)
	if first {
		f = 1
	}
	return wire{'S'}.u32(xid).u8(f)
}

func streamStopMsg() []byte { return []byte{'E'} }

func streamCommitMsg(xid uint32, commitLSN, endLSN uint64, t time.Time) []byte {
	return wire{'c'}.u32(xid).u8(0).u64(commitLSN).u64(endLSN).ts(t)
}

func streamAbortMsg(xid, subxid uint32) []byte { return wire{'A'}.u32(xid).u32(subxid) }

func originMsg(lsn uint64, name string) []byte { return wire{'O'}.u64(lsn).str(name) }
