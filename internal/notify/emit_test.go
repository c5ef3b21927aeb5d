package notify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/integration/integrationtest"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// The statement triggers of migration 20261125000410 build the notification.created and
// delivery.updated envelopes as text, set-wise. The reference is vendorhub.emit() called with
// the arguments the row triggers of 20261125000130 passed: for rows of every shape (with and
// without wedding, body, event key, provider id; quotes, backslashes, control characters,
// non-ASCII, whitespace runs, a body over the preview limit), as the system and with an actor,
// every inserted row must be one message with the reference envelope (id and occurred_at
// aside), in jsonb's canonical text form, in insertion order; a replay absorbed by ON CONFLICT
// emits nothing.

// refNotification is the row trigger's vendorhub.emit() call for notification $1.
const refNotification = `
select vendorhub.emit('notification.created', n.wedding_id,
  jsonb_build_object('table', 'notifications', 'id', n.id, 'user_id', n.user_id),
  jsonb_build_object(
    'notification_id', n.id, 'user_id', n.user_id, 'category', n.category,
    'title', n.title, 'body_preview', vendorhub.preview(n.body, 280),
    'event_key', n.event_key, 'created_at', n.created_at))
from public.notifications n where n.id = $1`

// refDelivery is the row trigger's vendorhub.emit() call for inserted delivery $1.
const refDelivery = `
select vendorhub.emit('delivery.updated', (select n.wedding_id from public.notifications n where n.id = d.notification_id),
  jsonb_build_object('table', 'deliveries', 'id', d.id, 'user_id', d.user_id),
  jsonb_build_object(
    'delivery_id', d.id, 'notification_id', d.notification_id, 'user_id', d.user_id,
    'channel', d.channel, 'provider', d.provider, 'status', d.status,
    'old_status', null::text, 'attempt', d.attempt, 'error_code', d.error_code,
    'provider_id', d.provider_id, 'event_key', d.event_key))
from public.deliveries d where d.id = $1`

func TestBulkEmitTriggersMatchEmit(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	slot := integrationtest.Slot(t, db.Pool)
	a := nt.NewUser(t, db.Pool, nt.User{})
	b := nt.NewUser(t, db.Pool, nt.User{})
	wed := nt.Wedding(t, db.Pool)

	long := strings.Repeat("word \t\n  ", 80) // 399 characters once whitespace runs collapse: cut at 280
	users := []string{a.ID, b.ID, a.ID, b.ID, a.ID}
	weddings := []*string{&wed, nil, &wed, nil, &wed}
	titles := []string{`New "message"`, `back\slash`, "tab\tand\u0001control", "Émilie’s 🎉 update", "plain"}
	bodies := []*string{ptr("  Can we   move\nthe ceremony?  "), nil, ptr(long), ptr(`"quoted" \ é`), ptr("")}
	keys := []*string{ptr("16b3748/3"), nil, ptr("16b3748/4"), ptr("0/1"), ptr("ffffffff/4294967295")}

	for _, actor := range []string{"", a.ID} {
		// Notifications, then their deliveries, in one transaction as the planner writes them.
		var ids, deliveryIDs []string
		inTx(t, db.Pool, actor, func(tx pgx.Tx) {
			evKeys := make([]*string, len(keys))
			for i, k := range keys {
				if k != nil {
					evKeys[i] = ptr(*k + "/" + actor) // distinct per pass
				}
			}
			rows, err := tx.Query(ctx, `
insert into public.notifications (user_id, wedding_id, category, title, body, event_key)
select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
returning id::text`, users, weddings, []string{"new_message", "task", "day_of_change", "booking", "conflict"}, titles, bodies, evKeys)
			require.NoError(t, err)
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			rows, err = tx.Query(ctx, `
insert into public.deliveries (notification_id, user_id, channel, provider, status, error_code, error, provider_id, event_key)
select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
returning id::text`, []*string{&ids[0], &ids[1], nil, &ids[3]}, users[:4], []string{"push", "email", "sms", "push"},
				[]string{"fcm", "resend", "twilio", "fcm"}, []string{"deferred", "queued", "failed", "sent"},
				[]*string{ptr("quiet_hours"), nil, ptr(`21610 "STOP"`), nil}, []*string{nil, nil, ptr("opted out"), nil},
				[]*string{nil, ptr("re_1"), nil, ptr(`projects/x/messages/1\2`)}, []*string{keys[0], nil, keys[2], ptr("ü/1")})
			require.NoError(t, err)
			deliveryIDs, err = pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
		})
		got := slotMessages(t, db.Pool, slot)
		require.Len(t, got, len(ids)+len(deliveryIDs), "one message per inserted row")

		// The reference: vendorhub.emit() with the row triggers' arguments, same actor (as the
		// superuser: the API roles may not call vendorhub.preview).
		inTx(t, db.Pool, "", func(tx pgx.Tx) {
			var err error
			if actor != "" {
				_, err = tx.Exec(ctx, `select set_config('request.jwt.claims', json_build_object('sub', $1::text)::text, true),
  set_config('request.jwt.claim.sub', $1::text, true)`, actor)
				require.NoError(t, err)
			}
			for _, id := range ids {
				_, err = tx.Exec(ctx, refNotification, id)
				require.NoError(t, err)
			}
			for _, id := range deliveryIDs {
				_, err = tx.Exec(ctx, refDelivery, id)
				require.NoError(t, err)
			}
		})
		want := slotMessages(t, db.Pool, slot)
		require.Len(t, want, len(got))

		for i, text := range got {
			var canonical string
			require.NoError(t, db.Pool.QueryRow(ctx, `select $1::jsonb::text`, text).Scan(&canonical))
			require.Equal(t, canonical, text, "message %d is not in jsonb's text form", i)
			g, w := decodeEnvelope(t, text), decodeEnvelope(t, want[i])
			require.NotEqual(t, g["id"], w["id"])
			require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, g["id"])
			if g["type"] == "notification.created" {
				require.Equal(t, g["data"].(map[string]any)["created_at"], g["occurred_at"], "occurred_at is the inserting transaction's now()")
			}
			for _, k := range []string{"id", "occurred_at"} {
				delete(g, k)
				delete(w, k)
			}
			require.Equal(t, w, g, "message %d", i)
		}
		for i, id := range ids {
			require.Equal(t, id, decodeEnvelope(t, got[i])["subject"].(map[string]any)["id"], "insertion order")
		}
		for i, id := range deliveryIDs {
			require.Equal(t, id, decodeEnvelope(t, got[len(ids)+i])["subject"].(map[string]any)["id"], "insertion order")
		}
		if actor != "" {
			require.Equal(t, actor, decodeEnvelope(t, got[0])["actor"])
		}

		// A replay: the same rows absorbed by ON CONFLICT emit nothing.
		inTx(t, db.Pool, actor, func(tx pgx.Tx) {
			tag, err := tx.Exec(ctx, `
insert into public.notifications (user_id, category, title, event_key)
select user_id, category, title, event_key from public.notifications where id = any($1::uuid[]) and event_key is not null
on conflict (user_id, event_key) do nothing`, ids)
			require.NoError(t, err)
			require.Zero(t, tag.RowsAffected())
		})
		require.Empty(t, slotMessages(t, db.Pool, slot))
	}
}

func ptr(s string) *string { return &s }

// inTx runs f in one committed transaction: as the superuser, or as service_role acting for
// actor (auth.uid() = actor) when actor is set.
func inTx(t *testing.T, pool *pgxpool.Pool, actor string, f func(pgx.Tx)) {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	if actor != "" {
		require.NoError(t, pgtest.AsRole(ctx, tx, "service_role", map[string]any{"sub": actor}))
	}
	f(tx)
	require.NoError(t, tx.Commit(ctx))
}

// slotMessages consumes the slot's changes and returns the texts of its vendorhub messages.
func slotMessages(t *testing.T, pool *pgxpool.Pool, slot string) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `select data from pg_logical_slot_get_changes($1, null, null)`, slot)
	require.NoError(t, err)
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	var out []string
	for _, d := range all {
		// test_decoding: "message: transactional: 1 prefix: vendorhub, sz: N content:{...}"
		if _, content, ok := strings.Cut(d, " content:"); ok && strings.Contains(d, "prefix: vendorhub,") {
			out = append(out, content)
		}
	}
	return out
}

func decodeEnvelope(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &m), text)
	return m
}
