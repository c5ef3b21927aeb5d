package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Parse's fast path: a small reader for the JSON that vendorhub.emit() writes, in front of
// encoding/json rather than instead of it. It accepts only input it is sure encoding/json
// decodes to the same Envelope and gives up on everything else (escapes in the envelope's
// own strings, field names that differ only in case, duplicate fields, values of another
// JSON type, invalid JSON, deep nesting, …); Parse then decodes with encoding/json, so
// results and errors stay exactly encoding/json's. FuzzParse checks that the two agree.

// maxDepth bounds the nesting the fast path skips through; deeper input goes to
// encoding/json (whose own limit is 10000).
const maxDepth = 100

// reader walks JSON text. Its methods report false when the input is not what the fast
// path accepts; the reader is then abandoned.
type reader struct {
	b   []byte
	off int
}

func (r *reader) space() {
	for r.off < len(r.b) {
		switch r.b[r.off] {
		case ' ', '\t', '\n', '\r':
			r.off++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next.
func (r *reader) next(c byte) bool {
	if r.off < len(r.b) && r.b[r.off] == c {
		r.off++
		return true
	}
	r.space()
	if r.off < len(r.b) && r.b[r.off] == c {
		r.off++
		return true
	}
	return false
}

// peek skips whitespace and returns the next byte (0 at the end).
func (r *reader) peek() byte {
	if r.off < len(r.b) && r.b[r.off] > ' ' {
		return r.b[r.off]
	}
	r.space()
	if r.off < len(r.b) {
		return r.b[r.off]
	}
	return 0
}

// plainString reads a string that encoding/json would return unchanged (no escapes, no
// control characters, valid UTF-8) and returns the range of its contents.
func (r *reader) plainString() (start, end int, ok bool) {
	if r.peek() != '"' {
		return 0, 0, false
	}
	start = r.off + 1
	n := bytes.IndexByte(r.b[start:], '"')
	if n < 0 {
		return 0, 0, false
	}
	end = start + n
	var high byte
	for _, c := range r.b[start:end] {
		if c < 0x20 || c == '\\' {
			return 0, 0, false
		}
		high |= c
	}
	if high >= utf8.RuneSelf && !utf8.Valid(r.b[start:end]) {
		return 0, 0, false
	}
	r.off = end + 1
	return start, end, true
}

// value skips one valid JSON value (leading whitespace included, trailing not).
func (r *reader) value(depth int) bool {
	switch c := r.peek(); {
	case c == '{':
		if depth >= maxDepth {
			return false
		}
		r.off++
		if r.next('}') {
			return true
		}
		for {
			if !r.string() || !r.next(':') || !r.value(depth+1) {
				return false
			}
			if !r.next(',') {
				return r.next('}')
			}
		}
	case c == '[':
		if depth >= maxDepth {
			return false
		}
		r.off++
		if r.next(']') {
			return true
		}
		for {
			if !r.value(depth + 1) {
				return false
			}
			if !r.next(',') {
				return r.next(']')
			}
		}
	case c == '"':
		return r.string()
	case c == '-' || '0' <= c && c <= '9':
		return r.number()
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	}
	return false
}

// string skips a valid JSON string, escapes included. Like encoding/json's scanner it
// accepts invalid UTF-8 and rejects control characters.
func (r *reader) string() bool {
	if r.peek() != '"' {
		return false
	}
	b := r.b
	for i := r.off + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			r.off = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(b) {
				return false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i <= 4 {
					return false
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

// number skips a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *reader) number() bool {
	b, i := r.b, r.off
	digits := func() bool {
		n := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	r.off = i
	return true
}

func (r *reader) literal(lit string) bool {
	if !bytes.HasPrefix(r.b[r.off:], []byte(lit)) {
		return false
	}
	r.off += len(lit)
	return true
}

// span is the range of a field's value in the input (of a string's contents, for the
// string fields). set is false when the field was absent, or null where null leaves the
// field at its zero value (strings, pointers, subject, participants); seen records that
// the field occurred.
type span struct {
	start, end int
	set, seen  bool
}

// take records the range of the value read by read (a call on r); a second occurrence of
// the field gives up (encoding/json merges or overwrites: leave that to it).
func (r *reader) take(sp *span, nullable bool, read func() bool) bool {
	if sp.seen {
		return false
	}
	sp.seen = true
	if nullable && r.peek() == 'n' {
		return r.literal("null")
	}
	r.space()
	sp.start = r.off
	if !read() {
		return false
	}
	sp.end, sp.set = r.off, true
	return true
}

// str reads a plain string (or null) into sp, recording the range of its contents.
func (r *reader) str(sp *span) bool {
	if sp.seen {
		return false
	}
	sp.seen = true
	if r.peek() == 'n' {
		return r.literal("null")
	}
	start, end, ok := r.plainString()
	*sp = span{start: start, end: end, set: true, seen: true}
	return ok
}

// Field names of Envelope and Subject: a name that equals one of them only when case is
// ignored still selects the field in encoding/json, so the fast path gives up on it.
var (
	envelopeNames = []string{"id", "type", "occurred_at", "wedding_id", "actor", "subject", "data"}
	subjectNames  = []string{"table", "id", "conversation_id", "vendor_id", "user_id", "participants"}
)

// unknownField reports whether key selects no field of names in encoding/json (which
// matches names exactly, then case-insensitively with Unicode folding).
func unknownField(key []byte, names []string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return false
		}
	}
	return true
}

// envelopeSpans are the ranges of an envelope's fields.
type envelopeSpans struct {
	id, typ, occurredAt, weddingID, actor, subject, data span
	table, subjectID, conversationID, vendorID, userID   span
	participants                                         span // the whole array
}

// parseFast decodes b as encoding/json would, or reports ok false.
func parseFast(b []byte) (e Envelope, ok bool) {
	r := reader{b: b}
	var s envelopeSpans
	if !r.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return r.str(&s.id)
		case "type":
			return r.str(&s.typ)
		case "occurred_at":
			return r.take(&s.occurredAt, false, func() bool { return r.value(1) })
		case "wedding_id":
			return r.str(&s.weddingID)
		case "actor":
			return r.str(&s.actor)
		case "subject":
			return r.take(&s.subject, true, func() bool { return r.subjectObject(&s) })
		case "data":
			return r.take(&s.data, false, func() bool { return r.value(1) })
		}
		return unknownField(key, envelopeNames) && r.value(1)
	}) {
		return Envelope{}, false
	}
	if r.space(); r.off != len(b) {
		return Envelope{}, false
	}
	if s.occurredAt.set {
		// Exactly what encoding/json calls for a time.Time; an error is left to it.
		if err := e.OccurredAt.UnmarshalJSON(b[s.occurredAt.start:s.occurredAt.end]); err != nil {
			return Envelope{}, false
		}
	}

	s.fill(b, &e)
	return e, true
}

// fill sets e's fields from the spans parseFast read. One allocation holds the text of
// every string of the envelope (the fields are substrings of it), one the values of its
// *string fields, one the participants, one the data.
func (s *envelopeSpans) fill(b []byte, e *Envelope) {
	if t, known := knownType(b, s.typ); known {
		e.Type = t
		s.typ.set = false
	}
	strs := [...]*span{&s.id, &s.typ, &s.table, &s.subjectID, &s.weddingID, &s.actor, &s.conversationID, &s.vendorID, &s.userID}
	const firstPtr = 4 // strs[firstPtr:] are *string fields
	n, nPtrs, nMembers := 0, 0, 0
	for i, sp := range strs {
		if sp.set {
			n += sp.end - sp.start
			if i >= firstPtr {
				nPtrs++
			}
		}
	}
	p := s.participants
	for start, end, ok := p.member(b, p.start); ok; start, end, ok = p.member(b, end+1) {
		n += end - start
		nMembers++
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, sp := range strs {
		if sp.set {
			sb.Write(b[sp.start:sp.end])
		}
	}
	for start, end, ok := p.member(b, p.start); ok; start, end, ok = p.member(b, end+1) {
		sb.Write(b[start:end])
	}
	c := cutter{text: sb.String()}
	if nPtrs > 0 {
		c.ptrs = make([]string, nPtrs)
	}
	e.ID = c.str(s.id)
	if s.typ.set {
		e.Type = Type(c.str(s.typ))
	}
	e.Subject.Table = c.str(s.table)
	e.Subject.ID = c.str(s.subjectID)
	e.WeddingID = c.ptr(s.weddingID)
	e.Actor = c.ptr(s.actor)
	e.Subject.ConversationID = c.ptr(s.conversationID)
	e.Subject.VendorID = c.ptr(s.vendorID)
	e.Subject.UserID = c.ptr(s.userID)
	if p.set {
		e.Subject.Participants = make([]string, nMembers)
		i := 0
		for start, end, ok := p.member(b, p.start); ok; start, end, ok = p.member(b, end+1) {
			e.Subject.Participants[i] = c.str(span{start: start, end: end, set: true})
			i++
		}
	}
	if s.data.set {
		e.Data = append(json.RawMessage(nil), b[s.data.start:s.data.end]...)
	}
}

// cutter hands out consecutive substrings of text, and pointers to them.
type cutter struct {
	text string
	off  int
	ptrs []string // the values the pointers point to
}

// str returns the next len(sp) bytes of text, "" for a span not set.
func (c *cutter) str(sp span) string {
	if !sp.set {
		return ""
	}
	v := c.text[c.off : c.off+sp.end-sp.start]
	c.off += sp.end - sp.start
	return v
}

// ptr is str as a pointer, nil for a span not set.
func (c *cutter) ptr(sp span) *string {
	if !sp.set {
		return nil
	}
	c.ptrs[0] = c.str(sp)
	p := &c.ptrs[0]
	c.ptrs = c.ptrs[1:]
	return p
}

// object reads a JSON object, calling member for each key (a plain string) with the reader
// positioned before the member's value.
func (r *reader) object(member func(key []byte) bool) bool {
	if !r.next('{') {
		return false
	}
	if r.next('}') {
		return true
	}
	for {
		start, end, ok := r.plainString()
		if !ok || !r.next(':') || !member(r.b[start:end]) {
			return false
		}
		if !r.next(',') {
			return r.next('}')
		}
	}
}

// subjectObject reads the subject object into s.
func (r *reader) subjectObject(s *envelopeSpans) bool {
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "table":
			return r.str(&s.table)
		case "id":
			return r.str(&s.subjectID)
		case "conversation_id":
			return r.str(&s.conversationID)
		case "vendor_id":
			return r.str(&s.vendorID)
		case "user_id":
			return r.str(&s.userID)
		case "participants":
			return r.take(&s.participants, true, r.stringArray)
		}
		return unknownField(key, subjectNames) && r.value(2)
	})
}

// stringArray reads an array of plain strings.
func (r *reader) stringArray() bool {
	if !r.next('[') {
		return false
	}
	if r.next(']') {
		return true
	}
	for {
		if _, _, ok := r.plainString(); !ok {
			return false
		}
		if !r.next(',') {
			return r.next(']')
		}
	}
}

// member returns the contents' range of the first string at or after b[i] in the array
// sp, which stringArray has read before: its strings hold no escaped quote, so every
// quote in it delimits one. ok is false when there is none.
func (sp span) member(b []byte, i int) (start, end int, ok bool) {
	if !sp.set || i >= sp.end {
		return 0, 0, false
	}
	open := bytes.IndexByte(b[i:sp.end], '"')
	if open < 0 {
		return 0, 0, false
	}
	start = i + open + 1
	return start, start + bytes.IndexByte(b[start:sp.end], '"'), true
}

// knownType returns the constant of the type sp names, so parsing allocates no string for it.
func knownType(b []byte, sp span) (Type, bool) {
	if !sp.set {
		return "", false
	}
	for _, t := range Types {
		if string(b[sp.start:sp.end]) == string(t) {
			return t, true
		}
	}
	return "", false
}

// DataField returns the raw JSON value of the top-level field name of data, as
// json.Unmarshal of data into a map[string]json.RawMessage would find it (the last of
// duplicate fields wins); nil when data is not a valid JSON object or lacks the field. The
// result aliases data.
func DataField(data []byte, name string) json.RawMessage {
	if len(data) == 0 {
		return nil
	}
	r := reader{b: data}
	var found json.RawMessage
	ok := r.object(func(key []byte) bool {
		match := string(key) == name
		r.space()
		start := r.off
		if !r.value(1) {
			return false
		}
		if match {
			found = data[start:r.off:r.off]
		}
		return true
	})
	if ok {
		if r.space(); r.off == len(data) {
			return found
		}
	}
	// Escaped keys, deep nesting, not an object, invalid JSON: encoding/json decides.
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	return m[name]
}
