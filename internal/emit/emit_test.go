// Package emit_test checks the transactional event triggers of the foundation migrations
// against a logical slot (test_decoding): what committed transactions emit, that rolled-back
// ones emit nothing, that every type of the closed set is emitted with the routing ids a router
// needs, and that the SQL and internal/event agree on the set of types.
package emit_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testBundle is a migrated database holding the pgTAP test world (supabase/tests/fixtures/
// world.psql, committed), and a slot created after it, so the slot sees only what a test does.
type testBundle struct {
	db   *pgtest.DB
	slot string
	ids  map[string]string // fixture name (W1, C1, PARTICIPANT, …) → id
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := pgtest.NewDB(t)
	world, err := os.ReadFile(filepath.Join("..", "..", "supabase", "tests", "fixtures", "world.psql"))
	require.NoError(t, err)
	_, err = db.Pool.Exec(t.Context(), string(world))
	require.NoError(t, err, "load the test world")

	rows, err := db.Pool.Query(t.Context(), `select name, id::text from tests.ids`)
	require.NoError(t, err)
	ids := map[string]string{}
	var name, id string
	_, err = pgx.ForEachRow(rows, []any{&name, &id}, func() error { ids[name] = id; return nil })
	require.NoError(t, err)

	return &testBundle{db: db, slot: integrationtest.Slot(t, db.Pool), ids: ids}
}

// emitCase is one way of causing an event and what its envelope must carry.
type emitCase struct {
	name      string
	user      string // fixture user acting through RLS; "" = the superuser (a backend)
	asService bool   // run as service_role (the sidecar) instead
	sql       string
	args      []any
	typ       event.Type
	wedding   *string
	subject   event.Subject // ID and Participants are checked when set
	data      map[string]string
}

// execAs runs sql in one committed transaction as the database role (e.g. service_role).
func (b *testBundle) execAs(t *testing.T, role, sql string, args ...any) {
	t.Helper()
	ctx := t.Context()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	require.NoError(t, pgtest.AsRole(ctx, tx, role, nil))
	_, err = tx.Exec(ctx, sql, args...)
	require.NoError(t, err, sql)
	require.NoError(t, tx.Commit(ctx))
}

// exec runs sql in one transaction as the given user ("" = the superuser), then commits or,
// with rollback, rolls back.
func (b *testBundle) exec(t *testing.T, user string, rollback bool, sql string, args ...any) {
	t.Helper()
	ctx := t.Context()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	if user != "" {
		require.NoError(t, pgtest.AsUser(ctx, tx, b.ids[user]))
	}
	_, err = tx.Exec(ctx, sql, args...)
	require.NoError(t, err, sql)
	if rollback {
		require.NoError(t, tx.Rollback(ctx))
		return
	}
	require.NoError(t, tx.Commit(ctx))
}

// events returns what the slot received since the last call, of the given types.
func (b *testBundle) events(t *testing.T, types ...event.Type) []event.Envelope {
	t.Helper()
	return integrationtest.Events(t, b.db.Pool, b.slot, types...)
}

// one returns the single event of type ty the slot received since the last call.
func (b *testBundle) one(t *testing.T, ty event.Type) event.Envelope {
	t.Helper()
	got := b.events(t, ty)
	require.Len(t, got, 1, "want exactly one %s", ty)
	return got[0]
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestMessageCreatedCarriesParticipants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var msgID string
	tx, err := b.db.Pool.Begin(t.Context())
	require.NoError(t, err)
	require.NoError(t, pgtest.AsUser(t.Context(), tx, b.ids["PARTICIPANT"]))
	require.NoError(t, tx.QueryRow(t.Context(),
		`select id::text from public.send_message($1, $2, $3)`,
		b.ids["C1"], "  Running 10 minutes late,\n\nsorry! ", b.ids["M1"]).Scan(&msgID))
	require.NoError(t, tx.Commit(t.Context()))

	e := b.one(t, event.MessageCreated)
	require.Equal(t, b.ids["W1"], deref(e.WeddingID))
	require.Equal(t, b.ids["PARTICIPANT"], deref(e.Actor))
	require.Equal(t, "messages", e.Subject.Table)
	require.Equal(t, msgID, e.Subject.ID)
	require.Equal(t, b.ids["C1"], deref(e.Subject.ConversationID))
	want := []string{b.ids["COUPLE"], b.ids["PARTICIPANT"]}
	sort.Strings(want)
	require.Equal(t, want, e.Subject.Participants, "every participant, sorted")
	require.NotEmpty(t, e.ID)
	require.False(t, e.OccurredAt.IsZero())
	require.JSONEq(t, `{
		"message_id": "`+msgID+`", "conversation_id": "`+b.ids["C1"]+`",
		"conversation_subject": "Fixture conversation one", "sender_id": "`+b.ids["PARTICIPANT"]+`",
		"body_preview": "Running 10 minutes late, sorry!", "reply_to": "`+b.ids["M1"]+`",
		"created_at": `+jsonField(t, e.Data, "created_at")+`}`, string(e.Data))
}

func TestMessageCreatedPreviewIsShort(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := ""
	for len([]rune(long)) < 500 {
		long += "Florals arrive at nine. "
	}
	b.exec(t, "PARTICIPANT", false, `insert into public.messages (conversation_id, body) values ($1, $2)`, b.ids["C1"], long)
	e := b.one(t, event.MessageCreated)
	preview := jsonField(t, e.Data, "body_preview")
	require.LessOrEqual(t, len([]rune(preview))-2, 140, "body_preview is at most 140 characters (plus JSON quotes)")
	require.Contains(t, preview, "…")
	require.NotContains(t, string(e.Data), long, "the body itself is not in the event")
}

func TestRolledBackInsertEmitsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "PARTICIPANT", true, `insert into public.messages (conversation_id, body) values ($1, 'never sent')`, b.ids["C1"])
	require.Empty(t, b.events(t), "a rolled-back transaction emits nothing")

	// The same statement committed does emit: the slot was listening all along.
	b.exec(t, "PARTICIPANT", false, `insert into public.messages (conversation_id, body) values ($1, 'sent')`, b.ids["C1"])
	require.Len(t, b.events(t, event.MessageCreated), 1)
}

func TestRolledBackSavepointEmitsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "PARTICIPANT", false, `
		do $$
		begin
		  begin
		    insert into public.messages (conversation_id, body) values ('`+b.ids["C1"]+`', 'undone');
		    raise exception 'undo';
		  exception when raise_exception then null;
		  end;
		  insert into public.messages (conversation_id, body) values ('`+b.ids["C1"]+`', 'kept');
		end
		$$`)
	got := b.events(t, event.MessageCreated)
	require.Len(t, got, 1, "only the message outside the rolled-back subtransaction")
	require.Contains(t, string(got[0].Data), `"kept"`)
}

func TestRefusedInsertEmitsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, pgtest.AsUser(ctx, tx, b.ids["OUTSIDER"]))
	_, err = tx.Exec(ctx, `insert into public.messages (conversation_id, body) values ($1, 'let me in')`, b.ids["C1"])
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want a Postgres error, got %v", err)
	require.Equal(t, "42501", pgErr.Code, "RLS refuses a non-participant")
	require.NoError(t, tx.Rollback(ctx))
	require.Empty(t, b.events(t))
}

// TestEveryEventType drives each event type of the closed set through the path that emits it
// and checks the routing ids in its envelope.
func TestEveryEventType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := func(n string) string { return b.ids[n] }
	ptr := func(s string) *string { return &s }
	seen := map[event.Type]bool{}

	cases := []emitCase{
		{
			name: "message", user: "COUPLE",
			sql: `insert into public.messages (conversation_id, body) values ($1, 'See you Saturday')`, args: []any{id("C1")},
			typ: event.MessageCreated, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "messages", ConversationID: ptr(id("C1")), Participants: sorted(id("COUPLE"), id("PARTICIPANT"))},
			data:    map[string]string{"body_preview": `"See you Saturday"`, "sender_id": `"` + id("COUPLE") + `"`, "reply_to": "null"},
		},
		{
			name: "read marker", user: "PARTICIPANT",
			sql: `select public.mark_conversation_read($1)`, args: []any{id("C1")},
			typ: event.MessageRead, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "conversation_participants", ConversationID: ptr(id("C1")), UserID: ptr(id("PARTICIPANT")),
				Participants: sorted(id("COUPLE"), id("PARTICIPANT"))},
		},
		{
			name: "connection status", user: "VENDOR", // only the vendor side confirms
			sql: `update public.wedding_vendors set status = 'confirmed' where wedding_id = $1 and vendor_id = $2`, args: []any{id("W1"), id("V1")},
			typ: event.VendorStatusChanged, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "wedding_vendors", VendorID: ptr(id("V1"))},
			data:    map[string]string{"scope": `"connection"`, "old_status": `"booked"`, "new_status": `"confirmed"`, "vendor_kind": `"photographer"`},
		},
		{
			name: "day-of status update", user: "VENDOR",
			sql:  `insert into public.vendor_status_updates (wedding_id, vendor_id, status, note) values ($1, $2, 'en_route', 'Leaving the studio now')`,
			args: []any{id("W1"), id("V1")},
			typ:  event.VendorStatusChanged, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "vendor_status_updates", VendorID: ptr(id("V1"))},
			data:    map[string]string{"scope": `"day_of"`, "new_status": `"en_route"`, "note": `"Leaving the studio now"`},
		},
		{
			name: "busy block", user: "VENDOR",
			sql:     `insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ($1, '2027-07-01 10:00Z', '2027-07-01 12:00Z')`,
			args:    []any{id("V1")},
			typ:     event.AvailabilityChanged,
			subject: event.Subject{Table: "availability_blocks", VendorID: ptr(id("V1"))},
			data:    map[string]string{"op": `"insert"`, "source": `"manual"`},
		},
		{
			name: "busy block moved", user: "VENDOR",
			sql: `update public.availability_blocks set ends_at = '2027-06-12 21:00Z' where id = $1`, args: []any{id("A1")},
			typ:     event.AvailabilityChanged,
			subject: event.Subject{Table: "availability_blocks", ID: id("A1"), VendorID: ptr(id("V1"))},
			data:    map[string]string{"op": `"update"`},
		},
		{
			name: "booking", user: "VENDOR",
			sql: `update public.bookings set status = 'cancelled' where id = $1`, args: []any{id("B1")},
			typ: event.BookingUpdated, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "bookings", ID: id("B1"), VendorID: ptr(id("V1"))},
			data:    map[string]string{"op": `"update"`, "status": `"cancelled"`, "old_status": `"booked"`},
		},
		{
			name: "connection needs reauth", user: "",
			sql: `update public.integration_connections set status = 'needs_reauth', last_error = 'token revoked' where id = $1`, args: []any{id("IC1")},
			typ:     event.ConnectionChanged,
			subject: event.Subject{Table: "integration_connections", ID: id("IC1"), VendorID: ptr(id("V1"))},
			data:    map[string]string{"op": `"update"`, "old_status": `"active"`, "new_status": `"needs_reauth"`, "kind": `"honeybook"`},
		},
		{
			name: "webhook", user: "",
			sql:     `insert into vendorhub.webhook_inbox (source, connection_id, provider_event_id, payload) values ('honeybook', $1, 'evt-42', '{"secret_payload": "never routed"}')`,
			args:    []any{id("IC1")},
			typ:     event.WebhookReceived,
			subject: event.Subject{Table: "webhook_inbox", VendorID: ptr(id("V1"))},
			data:    map[string]string{"source": `"honeybook"`, "provider_event_id": `"evt-42"`, "connection_id": `"` + id("IC1") + `"`},
		},
		{
			name: "in-app notification", user: "",
			sql:  `insert into public.notifications (user_id, wedding_id, category, title, event_key) values ($1, $2, 'task', 'New task', '1a/2')`,
			args: []any{id("COUPLE"), id("W1")},
			typ:  event.NotificationCreated, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "notifications", UserID: ptr(id("COUPLE"))},
			data:    map[string]string{"category": `"task"`, "event_key": `"1a/2"`},
		},
		{
			name: "delivery status", user: "",
			sql: `update public.deliveries set status = 'delivered', provider_id = 'fcm-1' where id = $1`, args: []any{id("D1")},
			typ: event.DeliveryUpdated, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "deliveries", ID: id("D1"), UserID: ptr(id("PARTICIPANT"))},
			data:    map[string]string{"status": `"delivered"`, "old_status": `"queued"`, "channel": `"push"`},
		},
		{
			name: "task", user: "COUPLE",
			sql: `update public.tasks set status = 'in_progress' where id = $1`, args: []any{id("T1")},
			typ: event.TaskUpdated, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "tasks", ID: id("T1"), VendorID: ptr(id("V1"))},
			data:    map[string]string{"op": `"update"`, "status": `"in_progress"`, "old_status": `"todo"`, "critical": "false"},
		},
		{
			name: "participant leaves", user: "PARTICIPANT",
			sql: `delete from public.conversation_participants where conversation_id = $1 and user_id = auth.uid()`, args: []any{id("C1")},
			typ: event.MembershipRemoved, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "conversation_participants", ConversationID: ptr(id("C1")), UserID: ptr(id("PARTICIPANT"))},
			data:    map[string]string{"kind": `"conversation_participant"`, "conversation_id": `"` + id("C1") + `"`},
		},
	}
	// The sidecar emits the rest itself, through vendorhub.emit as service_role.
	for _, ty := range []event.Type{event.IntegrationFailed, event.ConflictDetected, event.BreakerChanged, event.Heartbeat} {
		cases = append(cases, emitCase{
			name: "sidecar " + string(ty), asService: true,
			sql:  `select vendorhub.emit($1, $2, jsonb_build_object('table', 'sidecar', 'id', $1::text, 'vendor_id', $3::text), '{"probe": true}')`,
			args: []any{string(ty), id("W1"), id("V1")},
			typ:  ty, wedding: ptr(id("W1")),
			subject: event.Subject{Table: "sidecar", ID: string(ty), VendorID: ptr(id("V1"))},
			data:    map[string]string{"probe": "true"},
		})
	}

	for _, c := range cases {
		if c.asService {
			b.execAs(t, "service_role", c.sql, c.args...)
		} else {
			b.exec(t, c.user, false, c.sql, c.args...)
		}
		e := b.one(t, c.typ)
		seen[c.typ] = true
		require.Equal(t, deref(c.wedding), deref(e.WeddingID), "%s: wedding_id", c.name)
		require.Equal(t, c.subject.Table, e.Subject.Table, "%s: subject.table", c.name)
		require.NotEmpty(t, e.Subject.ID, "%s: subject.id", c.name)
		if c.subject.ID != "" {
			require.Equal(t, c.subject.ID, e.Subject.ID, "%s: subject.id", c.name)
		}
		require.Equal(t, deref(c.subject.ConversationID), deref(e.Subject.ConversationID), "%s: subject.conversation_id", c.name)
		require.Equal(t, deref(c.subject.VendorID), deref(e.Subject.VendorID), "%s: subject.vendor_id", c.name)
		require.Equal(t, deref(c.subject.UserID), deref(e.Subject.UserID), "%s: subject.user_id", c.name)
		if c.subject.Participants != nil {
			require.Equal(t, c.subject.Participants, e.Subject.Participants, "%s: subject.participants", c.name)
		}
		if c.user != "" {
			require.Equal(t, id(c.user), deref(e.Actor), "%s: actor", c.name)
		} else if c.asService {
			require.Nil(t, e.Actor, "%s: service_role has no actor", c.name)
		} else {
			require.Nil(t, e.Actor, "%s: no actor for the system", c.name)
		}
		for k, v := range c.data {
			require.JSONEq(t, v, jsonField(t, e.Data, k), "%s: data.%s", c.name, k)
		}
	}

	for _, ty := range event.Types {
		require.True(t, seen[ty], "event type %s is not covered", ty)
	}
}

// TestNoEventWithoutChange checks the update triggers fire only when what they report changes.
func TestNoEventWithoutChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "", false, `update public.integration_connections set last_sync_at = now() where id = $1`, b.ids["IC1"])
	b.exec(t, "", false, `update public.wedding_vendors set status = status where wedding_id = $1`, b.ids["W1"])
	b.exec(t, "", false, `update public.availability_blocks set title = 'renamed' where id = $1`, b.ids["A1"])
	b.exec(t, "", false, `update public.deliveries set error = 'noise' where id = $1`, b.ids["D1"])
	require.Empty(t, b.events(t, event.ConnectionChanged, event.VendorStatusChanged, event.AvailabilityChanged, event.DeliveryUpdated))
}

func TestConnectionEventsCarryNoConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(t, "VENDOR", false, `insert into public.integration_connections (vendor_id, kind, display_name, config)
		values ($1, 'google_calendar', 'Studio calendar', '{"calendar_id": "studio@group.calendar.google.com"}')`, b.ids["V1"])
	e := b.one(t, event.ConnectionChanged)
	require.NotContains(t, string(e.Data), "studio@group.calendar.google.com")
	require.JSONEq(t, `"insert"`, jsonField(t, e.Data, "op"))
}

func TestEmitRejectsUnknownType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.db.Pool.Exec(t.Context(), `select vendorhub.emit('message.exploded', null, '{}', '{}')`)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want a Postgres error, got %v", err)
	require.Equal(t, "22023", pgErr.Code)
	require.Empty(t, b.events(t))
}

// TestSQLTypesAreKnown checks every event type the SQL names is in internal/event, and that
// vendorhub.event_types() is exactly event.Types.
func TestSQLTypesAreKnown(t *testing.T) {
	t.Parallel()
	migrations, err := vendorhub.SQL.ReadDir(vendorhub.MigrationsDir)
	require.NoError(t, err)
	emitCall := regexp.MustCompile(`vendorhub\.emit\(\s*'([^']+)'`)
	var found []string
	for _, m := range migrations {
		b, err := vendorhub.SQL.ReadFile(vendorhub.MigrationsDir + "/" + m.Name())
		require.NoError(t, err)
		for _, sub := range emitCall.FindAllStringSubmatch(string(b), -1) {
			found = append(found, sub[1])
			require.True(t, event.Type(sub[1]).Known(), "%s emits unknown event type %q", m.Name(), sub[1])
		}
	}
	require.NotEmpty(t, found, "no vendorhub.emit calls found in the migrations")

	db := pgtest.NewDB(t)
	var sqlTypes []string
	require.NoError(t, db.Pool.QueryRow(t.Context(), `select vendorhub.event_types()`).Scan(&sqlTypes))
	goTypes := make([]string, len(event.Types))
	for i, ty := range event.Types {
		goTypes[i] = string(ty)
	}
	require.Equal(t, goTypes, sqlTypes, "vendorhub.event_types() and event.Types must list the same types in the same order")
}

// jsonField returns the raw JSON of field k of the object data.
func jsonField(t *testing.T, data json.RawMessage, k string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	v, ok := m[k]
	require.True(t, ok, "data has no %q: %s", k, data)
	return string(v)
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestMembershipRemovedKinds checks every row that grants read access emits membership.removed
// when it goes away, with the ids the gateway's re-check needs.
func TestMembershipRemovedKinds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := func(n string) string { return b.ids[n] }

	b.exec(t, "COUPLE", false, `delete from public.wedding_vendors where wedding_id = $1 and vendor_id = $2`, id("W1"), id("V3"))
	e := b.one(t, event.MembershipRemoved)
	require.Equal(t, "wedding_vendors", e.Subject.Table)
	require.Equal(t, id("W1"), deref(e.WeddingID))
	require.Equal(t, id("V3"), deref(e.Subject.VendorID))
	require.JSONEq(t, `"wedding_vendor"`, jsonField(t, e.Data, "kind"))

	b.exec(t, "", false, `delete from public.vendor_members where vendor_id = $1 and user_id = $2`, id("V1"), id("VENDOR"))
	e = b.one(t, event.MembershipRemoved)
	require.Equal(t, "vendor_members", e.Subject.Table)
	require.Equal(t, id("V1")+":"+id("VENDOR"), e.Subject.ID)
	require.Equal(t, id("VENDOR"), deref(e.Subject.UserID))
	require.Nil(t, e.WeddingID)

	b.exec(t, "", false, `delete from public.wedding_couples where wedding_id = $1 and user_id = $2`, id("W1"), id("COUPLE"))
	e = b.one(t, event.MembershipRemoved)
	require.Equal(t, "wedding_couples", e.Subject.Table)
	require.Equal(t, id("COUPLE"), deref(e.Subject.UserID))
	require.Equal(t, id("W1"), deref(e.WeddingID))

	// A change that moves no membership emits nothing.
	b.exec(t, "", false, `update public.conversation_participants set last_read_at = now() where conversation_id = $1`, id("C1"))
	require.Empty(t, b.events(t, event.MembershipRemoved))
}
