package decode

// pending is an uncommitted transaction: its changes and transactional messages in WAL
// order, kept in the slices the committed Transaction will hand out, so completing it
// copies nothing.
type pending struct {
	xid      uint32
	finalLSN uint64
	changes  []Change
	messages []Message // ChangeIndex is the number of changes before each
	// changeSubs and messageSubs are, for a streamed transaction, the (sub)transaction
	// that wrote each change and message, so StreamAbort can drop a subtransaction.
	changeSubs, messageSubs []uint32
	contents                slab // the messages' contents
}

// sizeHintMax bounds the capacity a pending transaction starts with.
const sizeHintMax = 1024

// addChange appends c; sub is the writing (sub)transaction when streamed.
func (p *pending) addChange(c Change, streamed bool, sub uint32, hint int) {
	if p.changes == nil {
		p.changes = make([]Change, 0, min(max(hint, 1), sizeHintMax))
	}
	p.changes = append(p.changes, c)
	if streamed {
		p.changeSubs = append(p.changeSubs, sub)
	}
}

// addMessage appends m, copying its content (which aliases the XLogData payload).
func (p *pending) addMessage(m Message, streamed bool, sub uint32, hint int) {
	if p.messages == nil {
		p.messages = make([]Message, 0, min(max(hint, 1), sizeHintMax))
	}
	m.Content = p.contents.copy(m.Content)
	m.ChangeIndex = len(p.changes)
	p.messages = append(p.messages, m)
	if streamed {
		p.messageSubs = append(p.messageSubs, sub)
	}
}

// len is the number of changes and messages held.
func (p *pending) len() int { return len(p.changes) + len(p.messages) }

// dropSub removes what subtransaction sub of a streamed transaction wrote, renumbering the
// kept messages' ChangeIndex, and returns how many changes and messages it removed.
func (p *pending) dropSub(sub uint32) int {
	before := p.len()
	// keptBefore[i] is the number of kept changes among the first i.
	keptBefore := make([]int, len(p.changes)+1)
	kept := 0
	for i := range p.changes {
		keptBefore[i] = kept
		if p.changeSubs[i] != sub {
			p.changes[kept], p.changeSubs[kept] = p.changes[i], p.changeSubs[i]
			kept++
		}
	}
	keptBefore[len(p.changes)] = kept
	clear(p.changes[kept:]) // release the dropped rows
	p.changes, p.changeSubs = p.changes[:kept], p.changeSubs[:kept]

	kept = 0
	for i := range p.messages {
		if p.messageSubs[i] != sub {
			m := p.messages[i]
			m.ChangeIndex = keptBefore[m.ChangeIndex]
			p.messages[kept], p.messageSubs[kept] = m, p.messageSubs[i]
			kept++
		}
	}
	clear(p.messages[kept:])
	p.messages, p.messageSubs = p.messages[:kept], p.messageSubs[:kept]
	return before - p.len()
}

// Block sizes of a slab: the first block holds as much as the previous transaction's
// contents did (at least slabBlockMin), each next one twice the last, up to slabBlockMax.
const (
	slabBlockMin = 512
	slabBlockMax = 64 << 10
)

// slab copies byte slices into larger blocks: one allocation per block rather than one per
// message. A copy keeps its whole block alive, so a slab serves one transaction, whose
// messages live and die together.
type slab struct {
	block []byte
	next  int // size of the next block
	used  int // bytes copied so far
}

// newSlab returns a slab whose first block holds hint bytes.
func newSlab(hint int) slab {
	return slab{next: min(max(hint, slabBlockMin), slabBlockMax)}
}

// copy returns a copy of b (nil for an empty b) with its capacity clipped, so appending
// to it cannot overwrite the next copy.
func (s *slab) copy(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > cap(s.block)-len(s.block) {
		s.block = make([]byte, 0, max(s.next, len(b)))
		s.next = min(max(2*s.next, slabBlockMin), slabBlockMax)
	}
	s.used += len(b)
	n := len(s.block)
	s.block = append(s.block, b...)
	return s.block[n:len(s.block):len(s.block)]
}
