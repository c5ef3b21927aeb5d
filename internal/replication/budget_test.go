package replication

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/route"
)

func TestBudgetAdmitsUpToItsBoundAndOneLargerItemAlone(t *testing.T) {
	b := newBudget(100)
	require.True(t, b.take(60))
	require.True(t, b.take(40), "exactly the bound")
	require.False(t, b.take(1), "beyond the bound")
	b.give(60)
	select {
	case <-b.freed:
	default:
		t.Fatal("give did not signal")
	}
	require.True(t, b.take(50))
	require.False(t, b.take(20))
	b.give(90)
	require.True(t, b.take(1000), "an empty budget admits a larger item")
	require.False(t, b.take(1), "and nothing beside it")
	b.give(1000)
	require.Zero(t, b.used)
}

func TestSizeOfCountsBytesAndObjects(t *testing.T) {
	empty := sizeOf(&decode.Transaction{}, nil)
	require.Equal(t, int64(itemOverhead), empty)
	msg := make([]byte, 1000)
	tx := &decode.Transaction{
		Changes:  []decode.Change{{New: decode.Tuple{{Kind: decode.Text, Raw: make([]byte, 10)}}}},
		Messages: []decode.Message{{Content: msg}},
	}
	routed := []route.Routed{{Topics: []string{"conversation:x"}}}
	routed[0].Data = msg[:500]
	got := sizeOf(tx, routed)
	want := int64(itemOverhead + changeOverhead + valueOverhead + 10 + 2*1000 + eventOverhead + 500 + eventOverhead + len("conversation:x") + 16)
	require.Equal(t, want, got)
}
