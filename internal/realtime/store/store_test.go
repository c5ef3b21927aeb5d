package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/handoff"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/realtime/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const wedding = "30000000-0000-4000-8000-0000000000aa"

// tx is a committed transaction with one vendor.status_changed event per vendor (two topics
// each: wedding:<id> and vendor:<id>); note, when set, is the data of every event.
func tx(commitLSN, endLSN uint64, data string, vendors ...string) decode.Transaction {
	t := decode.Transaction{XID: 7, CommitLSN: commitLSN, EndLSN: endLSN, CommitTime: time.Now()}
	for i, v := range vendors {
		t.Messages = append(t.Messages, decode.Message{Prefix: "vendorhub", Transactional: true, LSN: commitLSN - 1,
			Content: []byte(fmt.Sprintf(`{"id":"00000000-0000-4000-8000-%012d","type":"vendor.status_changed","occurred_at":"2026-11-25T10:00:00Z","wedding_id":%q,"subject":{"table":"wedding_vendors","id":"00000000-0000-4000-8000-%012d","vendor_id":%q},"data":%s}`,
				commitLSN+uint64(i), wedding, commitLSN+uint64(i), v, data))})
	}
	return t
}

type row struct {
	Topic, Event, Key string
	Refetch           bool
}

func stored(t *testing.T, db *pgtest.DB) []row {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
select topic, event, payload->>'key', coalesce((payload->>'refetch')::boolean, false)
from realtime.messages where extension = 'broadcast' and private order by inserted_at`)
	require.NoError(t, err)
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.Topic, &r.Event, &r.Key, &r.Refetch))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestSinkStoresEachKeyAndTopicOnceInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	v1, v2 := "20000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000002"
	sink := &store.Sink{MaxPayloadBytes: 1024}
	h, err := handoff.New(db.Pool, handoff.Config{Slot: "store_test", Sinks: []handoff.Sink{sink}})
	require.NoError(t, err)
	big := `{"note":"` + strings.Repeat("x", 2000) + `"}`
	batch := []decode.Transaction{tx(0x100, 0x180, `{}`, v1, v2), tx(0x200, 0x280, big, v1)}
	_, err = h.Commit(ctx, batch, 0x280)
	require.NoError(t, err)
	want := []row{
		{"wedding:" + wedding, "vendor.status_changed", "100/0", false}, {"vendor:" + v1, "vendor.status_changed", "100/0", false},
		{"wedding:" + wedding, "vendor.status_changed", "100/1", false}, {"vendor:" + v2, "vendor.status_changed", "100/1", false},
		{"wedding:" + wedding, "vendor.status_changed", "200/0", true}, {"vendor:" + v1, "vendor.status_changed", "200/0", true},
	}
	require.Equal(t, want, stored(t, db), "one row per topic, in hand-off order; the oversized payload is its refetch message")

	// A replay of the same batch (a crash before the acknowledgement, or a deposed leader's
	// late hand-off) stores nothing twice; a new event in it still is.
	_, err = h.Commit(ctx, append(batch, tx(0x300, 0x380, `{}`, v2)), 0x380)
	require.NoError(t, err)
	got := stored(t, db)
	require.Len(t, got, len(want)+2)
	require.Equal(t, want, got[:len(want)])
	require.Equal(t, "300/0", got[len(want)].Key)

	// A sink failure rolls the whole hand-off back: nothing stored, nothing recorded.
	_, err = db.Pool.Exec(ctx, `alter table realtime.messages add constraint no_more check (event <> 'vendor.status_changed' or inserted_at < '2000-01-01') not valid`)
	require.NoError(t, err)
	_, err = h.Commit(ctx, []decode.Transaction{tx(0x400, 0x480, `{}`, v1)}, 0x480)
	require.Error(t, err)
	var keys int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.stored_broadcasts where event_key = '400/0'`).Scan(&keys))
	require.Zero(t, keys)
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	_, err := db.Pool.Exec(ctx, `
insert into realtime.messages (topic, extension, event, payload, private, inserted_at) values
  ('user:a', 'broadcast', 'old', '{}', true, (now() at time zone 'utc') - interval '73 hours'),
  ('user:a', 'broadcast', 'new', '{}', true, (now() at time zone 'utc') - interval '71 hours');
insert into vendorhub.stored_broadcasts (event_key, topic, stored_at) values
  ('1/0', 'user:a', now() - interval '73 hours'), ('2/0', 'user:a', now() - interval '1 hour')`)
	require.NoError(t, err)
	n, err := store.Prune(ctx, db.Pool, store.RetentionDefault, false)
	require.NoError(t, err)
	require.Zero(t, n, "hosted Supabase prunes realtime.messages itself")
	var msgs, keys int
	require.NoError(t, db.Pool.QueryRow(ctx, `select (select count(*) from realtime.messages), (select count(*) from vendorhub.stored_broadcasts)`).Scan(&msgs, &keys))
	require.Equal(t, 2, msgs)
	require.Equal(t, 1, keys)
	n, err = store.Prune(ctx, db.Pool, store.RetentionDefault, true)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var left string
	require.NoError(t, db.Pool.QueryRow(ctx, `select string_agg(event, ',') from realtime.messages`).Scan(&left))
	require.Equal(t, "new", left)
}
