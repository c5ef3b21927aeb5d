package replication_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/decode"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
)

// fixtures creates two users, a wedding and a conversation between them; it returns the
// conversation id and the user ids.
func fixtures(ctx context.Context, t *testing.T, db *pgtest.DB) (conv string, users []string) {
	t.Helper()
	err := db.Pool.QueryRow(ctx, `
with u as (
  insert into auth.users (id, email) values (gen_random_uuid(), 'a@example.com'), (gen_random_uuid(), 'b@example.com')
  returning id
), w as (
  insert into public.weddings (title, wedding_date) values ('Test wedding', current_date + 100) returning id
), c as (
  insert into public.conversations (wedding_id, subject) select id, 'Timeline' from w returning id
), p as (
  insert into public.conversation_participants (conversation_id, user_id) select c.id, u.id from c, u returning user_id
)
select (select id::text from c), array(select user_id::text from p order by 1)`).Scan(&conv, &users)
	require.NoError(t, err)
	return conv, users
}

func TestMessageInsertBecomesOneMessageCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	conv, users := fixtures(ctx, t, db)
	p := startPipeline(t, db, pipelineOpts{})
	p.waitLeader(t)

	// A rolled-back insert emits nothing; the committed one after it emits exactly one event.
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `insert into public.messages (conversation_id, sender_id, body) values ($1, $2, 'never sent')`, conv, users[0])
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	var msgID string
	require.NoError(t, db.Pool.QueryRow(ctx,
		`insert into public.messages (conversation_id, sender_id, body) values ($1, $2, 'See you at 3pm') returning id::text`,
		conv, users[0]).Scan(&msgID))

	var created []event.Event
	require.Eventually(t, func() bool {
		created = created[:0]
		for _, r := range p.counting.Events() {
			if r.Type == event.MessageCreated {
				created = append(created, r.Event)
			}
		}
		return len(created) >= 1
	}, 30*time.Second, 20*time.Millisecond)
	// Let any (wrong) second event arrive: wait for a later heartbeat to be handed off.
	waitHeartbeatAfter(t, p, len(p.counting.Events()))
	created = created[:0]
	for _, r := range p.counting.Events() {
		if r.Type == event.MessageCreated {
			created = append(created, r.Event)
		}
	}
	require.Len(t, created, 1)
	ev := created[0]
	require.Equal(t, msgID, ev.Subject.ID)
	require.NotNil(t, ev.Subject.ConversationID)
	require.Equal(t, conv, *ev.Subject.ConversationID)
	require.ElementsMatch(t, users, ev.Subject.Participants)
	var data map[string]any
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	require.Equal(t, "See you at 3pm", data["body_preview"])
	require.NotContains(t, string(ev.Data), "never sent")
	require.NotZero(t, ev.EndLSN)
	require.Equal(t, uint32(0), ev.Key.Index)
}

// waitHeartbeatAfter waits until a heartbeat is handed off after the first n events: the
// stream delivers in commit order, so everything committed before it was handed off too.
func waitHeartbeatAfter(t *testing.T, p *pipeline, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		evs := p.counting.Events()
		for _, r := range evs[min(n, len(evs)):] {
			if r.Type == event.Heartbeat {
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "no heartbeat handed off")
}

func TestUnchangedTOASTColumnIsNeitherNullNorLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	conv, users := fixtures(ctx, t, db)
	p := startPipeline(t, db, pipelineOpts{})
	p.waitLeader(t)

	// An incompressible ~9 KB body is stored out of line (TOAST).
	raw := make([]byte, 4500)
	_, _ = rand.Read(raw)
	body := hex.EncodeToString(raw)
	var id string
	require.NoError(t, db.Pool.QueryRow(ctx,
		`insert into public.messages (conversation_id, sender_id, body) values ($1, $2, $3) returning id::text`,
		conv, users[0], body).Scan(&id))
	var external bool
	require.NoError(t, db.Pool.QueryRow(ctx,
		`select pg_column_size(body) < octet_length(body) or pg_column_size(body) > 2000 from public.messages where id = $1`, id).Scan(&external))
	require.True(t, external, "the body must be stored out of line")
	// Update another column only: pgoutput sends the body as unchanged ('u').
	_, err := db.Pool.Exec(ctx, `update public.messages set created_at = created_at - interval '1 minute' where id = $1`, id)
	require.NoError(t, err)

	var insert, update *decode.Change
	require.Eventually(t, func() bool {
		insert, update = nil, nil
		for _, tx := range p.rec.transactions() {
			for i := range tx.Changes {
				ch := &tx.Changes[i]
				if ch.Relation == nil || ch.Relation.Name != "messages" {
					continue
				}
				switch ch.Op {
				case decode.Insert:
					insert = ch
				case decode.Update:
					update = ch
				}
			}
		}
		return insert != nil && update != nil
	}, 30*time.Second, 20*time.Millisecond)

	v, ok := insert.New.Get(insert.Relation, "body")
	require.True(t, ok)
	require.Equal(t, decode.Text, v.Kind)
	require.Equal(t, body, string(v.Raw))
	v, ok = update.New.Get(update.Relation, "body")
	require.True(t, ok)
	require.Equal(t, decode.Unchanged, v.Kind, "an untouched TOASTed column must arrive as unchanged")
	require.NotEqual(t, decode.Null, v.Kind)
	_, err = v.Decode(nil, update.Relation.Columns[update.Relation.ColumnIndex("body")].TypeOID)
	require.ErrorIs(t, err, decode.ErrUnchanged)
	require.Equal(t, decode.OldNone, update.OldKind, "default replica identity, key unchanged: the old row is missing, not empty")

	var stored string
	require.NoError(t, db.Pool.QueryRow(ctx, `select body from public.messages where id = $1`, id).Scan(&stored))
	require.Equal(t, body, stored)
}

func TestAcknowledgesOnlyDurablePositions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	p := startPipeline(t, db, pipelineOpts{})
	p.waitLeader(t)

	stop := make(chan struct{})
	violations := make(chan string, 1)
	go func() {
		// confirmed_flush_lsn read first, the cursor after: the cursor only grows, so the
		// invariant confirmed <= cursor must hold for every pair.
		for {
			select {
			case <-stop:
				close(violations)
				return
			default:
			}
			confirmed, _ := slotState(ctx, t, db.Pool, p.slot)
			_, cursor := slotState(ctx, t, db.Pool, p.slot)
			if confirmed > cursor {
				violations <- "confirmed_flush_lsn " + lsn(confirmed) + " ahead of cursor " + lsn(cursor)
				close(violations)
				return
			}
		}
	}()
	ids := emitEvents(ctx, t, db.Pool, 3000, 10)
	requireExactlyOnce(ctx, t, db.Pool, ids)
	close(stop)
	for v := range violations {
		t.Fatal(v)
	}

	// Idle: the slot catches up with the WAL end as it was once the writes stopped.
	end := currentWALLSN(ctx, t, db.Pool)
	require.Eventually(t, func() bool {
		confirmed, cursor := slotState(ctx, t, db.Pool, p.slot)
		return confirmed >= end && cursor >= confirmed
	}, 30*time.Second, 50*time.Millisecond, "confirmed_flush_lsn never reached the WAL end")
	require.Equal(t, replication.RoleLeader, p.stream.Status().Role)
}

func lsn(v uint64) string { return pgLSN(v) }
