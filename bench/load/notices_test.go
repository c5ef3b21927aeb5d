package load_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/bench/load"
)

func msgs(lsns ...uint64) []load.ThreadMessage {
	var out []load.ThreadMessage
	for i, l := range lsns {
		out = append(out, load.ThreadMessage{ID: string(rune('a' + i)), LSN: l})
	}
	return out
}

func TestThreadReconcileAccountsEachMessageOnce(t *testing.T) {
	// a alone; b, c in the first digest; d alone after it; e, f in the second; g held.
	th := load.Thread{
		Messages: msgs(10, 20, 30, 40, 50, 60, 70),
		Alone:    map[string]int{"a": 1, "d": 1},
		Digests:  []load.Digest{{Last: 60, Messages: 2}, {Last: 30, Messages: 2}},
		Held:     1,
	}
	require.Equal(t, load.NoticeTally{Alone: 2, Digested: 4, Held: 1}, th.Reconcile())
}

func TestThreadReconcileCountsLossAndDuplicatesSeparately(t *testing.T) {
	for _, tc := range []struct {
		name string
		th   load.Thread
		want load.NoticeTally
	}{
		{"nothing at all", load.Thread{Messages: msgs(1, 2)}, load.NoticeTally{Lost: 2}},
		{"a second single", load.Thread{Messages: msgs(1), Alone: map[string]int{"a": 2}}, load.NoticeTally{Alone: 1, Duplicated: 1}},
		{"a single of a message not sent here", load.Thread{Messages: msgs(1), Alone: map[string]int{"a": 1, "z": 1}},
			load.NoticeTally{Alone: 1, Duplicated: 1}},
		{"a digest short of its range", load.Thread{Messages: msgs(1, 2, 3), Alone: map[string]int{"a": 1},
			Digests: []load.Digest{{Last: 3, Messages: 1}}}, load.NoticeTally{Alone: 1, Digested: 1, Lost: 1}},
		{"a digest counting a message also notified alone", load.Thread{Messages: msgs(1, 2), Alone: map[string]int{"a": 1},
			Digests: []load.Digest{{Last: 2, Messages: 2}}}, load.NoticeTally{Alone: 1, Digested: 1, Duplicated: 1}},
		{"held count short", load.Thread{Messages: msgs(1, 2, 3), Alone: map[string]int{"a": 1}, Held: 1},
			load.NoticeTally{Alone: 1, Held: 1, Lost: 1}},
		{"held count over", load.Thread{Messages: msgs(1), Alone: map[string]int{"a": 1}, Held: 2},
			load.NoticeTally{Alone: 1, Duplicated: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, tc.th.Reconcile()) })
	}
}

func TestNoticeTallyAdd(t *testing.T) {
	var sum load.NoticeTally
	sum.Add(load.NoticeTally{Alone: 1, Digested: 2, Held: 3, Lost: 4, Duplicated: 5})
	sum.Add(load.NoticeTally{Alone: 1, Lost: 1})
	require.Equal(t, load.NoticeTally{Alone: 2, Digested: 2, Held: 3, Lost: 5, Duplicated: 5}, sum)
}
