package replication

import (
	"sync"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/route"
)

// itemOverhead is the memory counted for a queued transaction beyond its bytes: the
// transaction, its change and value headers and its routed events.
const (
	itemOverhead   = 256
	changeOverhead = 96
	valueOverhead  = 32
	eventOverhead  = 512
)

// sizeOf estimates the memory a queued transaction holds: its decoded changes and messages,
// and its routed events (whose data is decoded from the messages, so counted again).
func sizeOf(tx *decode.Transaction, routed []route.Routed) int64 {
	n := int64(itemOverhead)
	for i := range tx.Changes {
		c := &tx.Changes[i]
		n += changeOverhead
		for _, t := range [2]decode.Tuple{c.New, c.Old} {
			for _, v := range t {
				n += valueOverhead + int64(len(v.Raw))
			}
		}
	}
	for i := range tx.Messages {
		n += 2*int64(len(tx.Messages[i].Content)) + eventOverhead
	}
	for i := range routed {
		n += int64(len(routed[i].Data)) + eventOverhead
		for _, t := range routed[i].Topics {
			n += int64(len(t)) + 16
		}
	}
	return n
}

// budget bounds the estimated bytes of the transactions queued for the hand-off. take
// always admits an item into an empty budget, so one transaction larger than the bound
// still passes.
type budget struct {
	mu        sync.Mutex
	used, max int64
	freed     chan struct{} // signaled (without blocking) when bytes are given back
}

func newBudget(max int64) *budget {
	return &budget{max: max, freed: make(chan struct{}, 1)}
}

// take reserves n bytes if they fit, or if nothing is reserved.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && b.used+n > b.max {
		return false
	}
	b.used += n
	queueBytes.Set(float64(b.used))
	return true
}

// give returns n bytes and wakes a waiting take.
func (b *budget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	queueBytes.Set(float64(b.used))
	b.mu.Unlock()
	select {
	case b.freed <- struct{}{}:
	default:
	}
}
