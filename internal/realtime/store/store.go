// Package store keeps the sidecar's broadcasts in realtime.messages, where Supabase Realtime
// delivers them (Broadcast from Database) and replays them to a client that rejoins with
// config.broadcast.replay, and where the embedded gateway replays them too.
//
// Sink is a hand-off sink: it writes inside the hand-off transaction, so a broadcast is
// stored if and only if the hand-off that routed it committed, and the replication position
// is acknowledged only after that. vendorhub.stored_broadcasts holds one row per (event key,
// topic): a replayed event, or a deposed leader handing off the same batch, stores nothing
// twice. Prune deletes both after the retention Supabase Realtime applies (72 hours).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wedsync/vendorhub/internal/realtime/broadcast"
	"github.com/wedsync/vendorhub/internal/route"
)

// RetentionDefault is how long stored broadcasts are kept: Supabase Realtime deletes
// realtime.messages rows after 72 hours.
const RetentionDefault = 72 * time.Hour

// Sink stores routed broadcasts in realtime.messages inside the hand-off transaction.
type Sink struct {
	// MaxPayloadBytes is the largest payload stored as is; a larger one is replaced by its
	// refetch message, as the publisher does. Required.
	MaxPayloadBytes int
}

// Name identifies the sink.
func (*Sink) Name() string { return "realtime-store" }

// insertSQL stores each (key, topic) once. inserted_at is UTC (realtime.messages uses a
// timestamp without time zone, in UTC on Supabase) and grows by a microsecond per message so
// that replay, which orders by inserted_at, keeps the order of one hand-off.
const insertSQL = `
with input as (
  select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) with ordinality as t(event_key, topic, event, payload, ord)
), fresh as (
  insert into vendorhub.stored_broadcasts (event_key, topic)
  select event_key, topic from input
  on conflict do nothing
  returning event_key, topic
)
insert into realtime.messages (topic, extension, event, payload, private, inserted_at, updated_at)
select i.topic, 'broadcast', i.event, i.payload, true,
       (now() at time zone 'utc') + i.ord * interval '1 microsecond', now() at time zone 'utc'
from input i join fresh f on f.event_key = i.event_key and f.topic = i.topic
order by i.ord`

// HandOff stores one realtime.messages row per topic of each event that has topics.
func (s *Sink) HandOff(ctx context.Context, tx pgx.Tx, events []route.Routed) error {
	if s.MaxPayloadBytes < 1 {
		return errors.New("realtime store: MaxPayloadBytes is not set")
	}
	msgs, errs := broadcast.Messages(events)
	if len(errs) > 0 {
		return fmt.Errorf("realtime store: %w", errors.Join(errs...))
	}
	if len(msgs) == 0 {
		return nil
	}
	keys := make([]string, len(msgs))
	topics := make([]string, len(msgs))
	names := make([]string, len(msgs))
	payloads := make([][]byte, len(msgs)) // sent as they are: no copy into a string
	for i := range msgs {
		broadcast.FitPayload(&msgs[i], s.MaxPayloadBytes)
		keys[i], topics[i], names[i], payloads[i] = msgs[i].Key, msgs[i].Topic, msgs[i].Event, msgs[i].Payload
	}
	if _, err := tx.Exec(ctx, insertSQL, keys, topics, names, payloads); err != nil {
		return fmt.Errorf("realtime store: insert %d broadcasts: %w", len(msgs), err)
	}
	return nil
}

// Execer is what Prune needs: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Prune deletes the (key, topic) records older than retention and, with messages set (no
// Supabase Realtime service prunes the table: the embedded gateway's databases), the stored
// broadcasts older than retention. It returns how many broadcasts it deleted.
func Prune(ctx context.Context, db Execer, retention time.Duration, messages bool) (int64, error) {
	if _, err := db.Exec(ctx, `delete from vendorhub.stored_broadcasts where stored_at < now() - $1::interval`, retention); err != nil {
		return 0, fmt.Errorf("realtime store: prune keys: %w", err)
	}
	if !messages {
		return 0, nil
	}
	tag, err := db.Exec(ctx, `delete from realtime.messages
where extension = 'broadcast' and inserted_at < (now() at time zone 'utc') - $1::interval`, retention)
	if err != nil {
		return 0, fmt.Errorf("realtime store: prune messages: %w", err)
	}
	return tag.RowsAffected(), nil
}
