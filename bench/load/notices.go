package load

import "slices"

// Thread is what one recipient was told about one conversation, to reconcile per message:
// every message sent to them there must be notified exactly once, alone (a notification of its
// own) or counted in exactly one digest, or still held for the next digest.
//
// Messages are ordered by their commit LSN (WAL order, the order the planner sees them). A
// digest covers the held messages after the previous digest up to and including its Last
// message's LSN; a message notified alone is never held, so a digest's messages are the
// messages of its range that have no notification of their own.
type Thread struct {
	// Messages are the ids of the messages the recipient should hear about, with their commit
	// LSN.
	Messages []ThreadMessage
	// Alone counts the single-message notifications per message id.
	Alone map[string]int
	// Digests are the digest notifications: the LSN of the last message each covers and how
	// many messages it says it covers.
	Digests []Digest
	// Held is the thread's count of messages waiting for the next digest.
	Held int
}

// ThreadMessage is one message of a Thread.
type ThreadMessage struct {
	ID  string
	LSN uint64
}

// Digest is one digest notification of a Thread.
type Digest struct {
	Last     uint64
	Messages int
}

// NoticeTally is the outcome of reconciling one or more threads.
type NoticeTally struct {
	// Alone, Digested and Held count the messages notified alone, counted in a digest, and
	// still held.
	Alone, Digested, Held int
	// Lost counts messages neither notified alone nor counted in a digest nor held;
	// Duplicated counts notifications beyond one per message (a second single notification,
	// a single notification of a message nobody sent here, a digest counting more messages
	// than its range holds).
	Lost, Duplicated int
}

// Add accumulates o into t.
func (t *NoticeTally) Add(o NoticeTally) {
	t.Alone += o.Alone
	t.Digested += o.Digested
	t.Held += o.Held
	t.Lost += o.Lost
	t.Duplicated += o.Duplicated
}

// Reconcile assigns every message of th to its single notification, the digest whose range
// holds it, or the held count, and counts what is missing or counted twice.
func (th Thread) Reconcile() NoticeTally {
	var t NoticeTally
	msgs := slices.Clone(th.Messages)
	slices.SortStableFunc(msgs, func(a, b ThreadMessage) int {
		switch {
		case a.LSN < b.LSN:
			return -1
		case a.LSN > b.LSN:
			return 1
		}
		return 0
	})
	digests := slices.Clone(th.Digests)
	slices.SortStableFunc(digests, func(a, b Digest) int {
		switch {
		case a.Last < b.Last:
			return -1
		case a.Last > b.Last:
			return 1
		}
		return 0
	})
	known := make(map[string]bool, len(msgs))
	inRange := make([]int, len(digests)+1) // the last bucket: after every digest (held)
	d := 0
	for _, m := range msgs {
		if known[m.ID] {
			continue // the same message listed twice: one notice is still expected
		}
		known[m.ID] = true
		if n := th.Alone[m.ID]; n > 0 {
			t.Alone++
			t.Duplicated += n - 1
			continue
		}
		for d < len(digests) && digests[d].Last < m.LSN {
			d++
		}
		inRange[d]++
	}
	for id, n := range th.Alone {
		if !known[id] {
			t.Duplicated += n // a notification of a message not sent to this recipient here
		}
	}
	for i, dg := range digests {
		t.Digested += min(inRange[i], dg.Messages)
		t.Lost += max(0, inRange[i]-dg.Messages)
		t.Duplicated += max(0, dg.Messages-inRange[i])
	}
	held := inRange[len(digests)]
	t.Held += min(held, th.Held)
	t.Lost += max(0, held-th.Held)
	t.Duplicated += max(0, th.Held-held)
	return t
}
