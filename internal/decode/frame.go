package decode

import "encoding/binary"

// checkFrame validates the layout of one pgoutput message before pglogrepl parses it.
// pglogrepl trusts the lengths it reads: it allocates a column's declared length before
// checking that the bytes exist (4 GiB for a corrupt length), indexes past the end of a
// short message, and reads at offset -1 when a string lacks its NUL. Walking the layout
// first makes Feed total: any input yields a value or an error. It returns "" when the
// frame is well formed, else the reason.
func checkFrame(b []byte, inStream bool) string {
	f := frame{b: b, off: 1}
	xid := func() {
		if inStream {
			f.skip(4)
		}
	}
	switch b[0] {
	case 'B': // final LSN, commit time, xid
		f.skip(8 + 8 + 4)
	case 'C': // flags, commit LSN, end LSN, commit time
		f.skip(1 + 8 + 8 + 8)
	case 'O': // commit LSN, origin name
		f.skip(8)
		f.cstring()
	case 'R': // [xid] relid, namespace, name, replica identity, columns
		xid()
		f.skip(4)
		f.cstring()
		f.cstring()
		f.skip(1)
		n := f.u16()
		for i := 0; i < int(n) && f.err == ""; i++ {
			f.skip(1)
			f.cstring()
			f.skip(4 + 4)
		}
	case 'Y': // [xid] type oid, namespace, name
		xid()
		f.skip(4)
		f.cstring()
		f.cstring()
	case 'I': // [xid] relid, 'N', tuple
		xid()
		f.skip(4)
		f.want('N')
		f.tuple()
	case 'U': // [xid] relid, ['K'|'O' tuple], 'N' tuple
		xid()
		f.skip(4)
		switch k := f.u8(); k {
		case 'K', 'O':
			f.tuple()
			f.want('N')
			f.tuple()
		case 'N':
			f.tuple()
		default:
			f.fail("update: tuple tag is not K, O or N")
		}
	case 'D': // [xid] relid, 'K'|'O' tuple
		xid()
		f.skip(4)
		switch k := f.u8(); k {
		case 'K', 'O':
			f.tuple()
		default:
			f.fail("delete: tuple tag is not K or O")
		}
	case 'T': // [xid] relation count, options, relids
		xid()
		n := f.u32()
		f.skip(1)
		if f.err == "" && uint64(n)*4 > uint64(len(f.b)-f.off) {
			f.fail("truncate: relation count exceeds the message")
		}
		f.skip(int(n) * 4)
	case 'M': // [xid] flags, LSN, prefix, content length, content
		xid()
		f.skip(1 + 8)
		f.cstring()
		n := f.u32()
		if f.err == "" && uint64(n) > uint64(len(f.b)-f.off) {
			f.fail("message: content length exceeds the message")
		}
		f.skip(int(n))
	case 'S': // xid, first segment
		f.skip(4 + 1)
	case 'E': // stream stop: no data
	case 'c': // xid, flags, commit LSN, end LSN, commit time
		f.skip(4 + 1 + 8 + 8 + 8)
	case 'A': // xid, subxid
		f.skip(4 + 4)
	default:
		return "unsupported message type (two-phase and protocol version 3+ messages are not decoded)"
	}
	if f.err == "" && f.off != len(f.b) {
		f.fail("trailing bytes")
	}
	return f.err
}

// frame walks a message, recording the first layout error.
type frame struct {
	b   []byte
	off int
	err string
}

func (f *frame) fail(reason string) {
	if f.err == "" {
		f.err = reason
	}
}

func (f *frame) skip(n int) {
	if f.err != "" {
		return
	}
	if n < 0 || n > len(f.b)-f.off {
		f.fail("message is truncated")
		return
	}
	f.off += n
}

func (f *frame) u8() byte {
	if f.skip(1); f.err != "" {
		return 0
	}
	return f.b[f.off-1]
}

func (f *frame) u16() uint16 {
	if f.skip(2); f.err != "" {
		return 0
	}
	return binary.BigEndian.Uint16(f.b[f.off-2:])
}

func (f *frame) u32() uint32 {
	if f.skip(4); f.err != "" {
		return 0
	}
	return binary.BigEndian.Uint32(f.b[f.off-4:])
}

func (f *frame) want(tag byte) {
	if got := f.u8(); f.err == "" && got != tag {
		f.fail("expected tuple tag " + string(rune(tag)))
	}
}

func (f *frame) cstring() {
	if f.err != "" {
		return
	}
	for i := f.off; i < len(f.b); i++ {
		if f.b[i] == 0 {
			f.off = i + 1
			return
		}
	}
	f.fail("string without terminating NUL")
}

func (f *frame) tuple() {
	n := f.u16()
	for i := 0; i < int(n) && f.err == ""; i++ {
		switch f.u8() {
		case 't', 'b':
			l := f.u32()
			if f.err == "" && uint64(l) > uint64(len(f.b)-f.off) {
				f.fail("column length exceeds the message")
			}
			f.skip(int(l))
		case 'n', 'u':
		default:
			f.fail("unknown tuple column kind")
		}
	}
}
