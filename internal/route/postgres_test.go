package route_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/route"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRealEmitters runs the real triggers of the migrations, reads their WAL through a
// pgoutput slot on publication vendorhub, and checks decode → Events → Route end to end:
// the ids the emitters put in the envelope are the ones the rules need.
func TestRealEmitters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	conn, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := conn.Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}
	var wedding, conversation, vendor, couple, photographer string
	require.NoError(t, conn.QueryRow(ctx, `select gen_random_uuid()::text, gen_random_uuid()::text, gen_random_uuid()::text, gen_random_uuid()::text, gen_random_uuid()::text`).
		Scan(&wedding, &conversation, &vendor, &couple, &photographer))
	exec(`insert into auth.users (id) values ($1), ($2)`, couple, photographer)
	exec(`insert into public.weddings (id, title, wedding_date) values ($1, 'A & B', '2027-06-12')`, wedding)
	exec(`insert into public.vendors (id, name, kind) values ($1, 'Lens & Light', 'photographer')`, vendor)
	exec(`insert into public.wedding_vendors (wedding_id, vendor_id, status) values ($1, $2, 'inquiry')`, wedding, vendor)
	exec(`insert into public.conversations (id, wedding_id) values ($1, $2)`, conversation, wedding)
	exec(`insert into public.conversation_participants (conversation_id, user_id) values ($1, $2), ($1, $3)`, conversation, couple, photographer)

	slot := "route_" + strings.ReplaceAll(db.Name, "-", "_")
	exec(fmt.Sprintf(`select pg_create_logical_replication_slot('%s', 'pgoutput')`, slot))

	exec(`insert into public.messages (conversation_id, body) values ($1, 'Can you shoot at 3pm?')`, conversation)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `insert into public.messages (conversation_id, body) values ($1, 'never sent')`, conversation)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	exec(`update public.wedding_vendors set status = 'booked' where wedding_id = $1 and vendor_id = $2`, wedding, vendor)
	exec(`insert into public.tasks (wedding_id, vendor_id, title) values ($1, $2, 'Shot list')`, wedding, vendor)

	rows, err := conn.Query(ctx, fmt.Sprintf(`select data from pg_logical_slot_peek_binary_changes('%s', NULL, NULL,
		'proto_version', '2', 'publication_names', 'vendorhub', 'messages', 'true')`, slot))
	require.NoError(t, err)
	d := decode.NewDecoder(decode.Options{})
	router := route.NewRouter(route.DefaultRules, route.Options{Logger: slog.New(slog.DiscardHandler)})
	var routed []route.Routed
	var lsn uint64
	for rows.Next() {
		var data []byte
		require.NoError(t, rows.Scan(&data))
		lsn++
		txs, err := d.Feed(lsn, data)
		require.NoError(t, err)
		for _, tx := range txs {
			events, errs := route.Events(tx)
			require.Empty(t, errs)
			for _, ev := range events {
				routed = append(routed, router.Route(ev))
			}
		}
	}
	require.NoError(t, rows.Err())

	types := make([]event.Type, len(routed))
	for i, r := range routed {
		types[i] = r.Type
	}
	require.Equal(t, []event.Type{event.MessageCreated, event.VendorStatusChanged, event.TaskUpdated}, types,
		"one event per committed change; the rolled-back message produced nothing")

	msg := routed[0]
	want := []string{couple, photographer}
	sort.Strings(want)
	require.Equal(t, want, msg.Subject.Participants)
	require.Equal(t, []string{"conversation:" + conversation}, msg.Topics)
	require.Equal(t, route.CategoryNewMessage, msg.Category)
	require.Equal(t, []string{route.IntegrationWebhookOutbound}, msg.Integrations)
	require.Equal(t, uint32(0), msg.Key.Index)
	require.NotZero(t, msg.Key.CommitLSN)

	status := routed[1]
	require.Equal(t, []string{"wedding:" + wedding, "vendor:" + vendor}, status.Topics)
	require.Equal(t, route.CategoryStatusChange, status.Category)

	task := routed[2]
	require.Equal(t, []string{"wedding:" + wedding}, task.Topics)
	require.Equal(t, route.CategoryTask, task.Category)

	for i := 1; i < len(routed); i++ {
		require.Greater(t, routed[i].Key.CommitLSN, routed[i-1].Key.CommitLSN)
	}
}
