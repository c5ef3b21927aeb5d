package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Replay limits, as Supabase Realtime applies them (lib/realtime/messages.ex): at most 25
// messages per join, 25 when the join names no limit.
const (
	ReplayMaxLimit     = 25
	ReplayDefaultLimit = 25
)

// Join error reasons of replay, Supabase Realtime's texts (realtime_channel.ex).
const (
	reasonReplayPublic  = "UnableToReplayMessages: Replay is not allowed for public channels"
	reasonReplayInvalid = "UnableToReplayMessages: Replay params are not valid"
	reasonReplayFailed  = "UnableToReplayMessages: Realtime was unable to replay messages"
)

// StoredMessage is one stored broadcast of a topic.
type StoredMessage struct {
	ID      string
	Event   string
	Payload json.RawMessage
}

// Store holds stored broadcasts (realtime.messages): what a join with broadcast.replay
// receives first, and where client broadcasts sent with persist go.
type Store interface {
	// Replay returns the newest limit private broadcasts of topic inserted at or after
	// since, oldest first.
	Replay(ctx context.Context, topic string, since time.Time, limit int) ([]StoredMessage, error)
	// Persist stores a private broadcast of topic and returns its id.
	Persist(ctx context.Context, topic, event string, payload json.RawMessage) (string, error)
}

// replayParams is config.broadcast.replay of a join: since (unix ms) is required, limit
// defaults to ReplayDefaultLimit and is clamped to 1..ReplayMaxLimit.
type replayParams struct {
	Since json.RawMessage `json:"since"`
	Limit json.RawMessage `json:"limit"`
}

// parse validates p as Realtime does: both must be JSON integers.
func (p replayParams) parse() (since time.Time, limit int, err error) {
	var ms int64
	if err := json.Unmarshal(p.Since, &ms); err != nil || len(p.Since) == 0 {
		return time.Time{}, 0, errors.New("since must be an integer (unix milliseconds)")
	}
	limit = ReplayDefaultLimit
	if len(p.Limit) > 0 && string(p.Limit) != "null" {
		if err := json.Unmarshal(p.Limit, &limit); err != nil {
			return time.Time{}, 0, errors.New("limit must be an integer")
		}
	}
	return time.UnixMilli(ms).UTC(), min(max(limit, 1), ReplayMaxLimit), nil
}

// PGStore is the Store of realtime.messages. Its pool's role must read and insert
// realtime.messages past RLS (the join and write probes decide who may).
type PGStore struct {
	Pool *pgxpool.Pool
}

// Replay runs Realtime's replay query (lib/realtime/messages.ex): the topic's private
// broadcasts with since <= inserted_at < now + 1 minute, newest limit, returned oldest first.
func (s *PGStore) Replay(ctx context.Context, topic string, since time.Time, limit int) ([]StoredMessage, error) {
	rows, err := s.Pool.Query(ctx, `
select id::text, coalesce(event, ''), coalesce(payload, 'null'::jsonb) from realtime.messages
where topic = $1 and private is true and extension = 'broadcast'
  and inserted_at >= $2::timestamptz at time zone 'utc'
  and inserted_at < (now() at time zone 'utc') + interval '1 minute'
order by inserted_at desc
limit $3`, topic, since, limit)
	if err != nil {
		return nil, fmt.Errorf("gateway: replay %s: %w", topic, err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredMessage, error) {
		var m StoredMessage
		var payload []byte
		err := r.Scan(&m.ID, &m.Event, &payload)
		m.Payload = payload
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: replay %s: %w", topic, err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, nil
}

// Persist inserts one private broadcast row.
func (s *PGStore) Persist(ctx context.Context, topic, event string, payload json.RawMessage) (string, error) {
	var id string
	err := s.Pool.QueryRow(ctx, `
insert into realtime.messages (topic, extension, event, payload, private, inserted_at, updated_at)
values ($1, 'broadcast', $2, $3::jsonb, true, clock_timestamp() at time zone 'utc', clock_timestamp() at time zone 'utc')
returning id::text`, topic, event, string(payload)).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("gateway: persist broadcast on %s: %w", topic, err)
	}
	return id, nil
}

// payloadKey returns the "key" field of a sidecar broadcast payload, "" when there is none.
func payloadKey(payload []byte) string {
	var p struct {
		Key string `json:"key"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	return p.Key
}

// replayFrame is a replayed broadcast: {"type":"broadcast","event":E,"payload":P,
// "meta":{"replayed":true,"id":<row id>}}.
func replayBroadcast(m StoredMessage) *userBroadcast {
	meta, _ := json.Marshal(map[string]any{"replayed": true, "id": m.ID})
	return &userBroadcast{event: m.Event, payload: m.Payload, json: true, meta: meta}
}

// metaIDOf returns meta.id of a broadcast, "" when there is none.
func metaIDOf(meta json.RawMessage) string {
	if len(meta) == 0 {
		return ""
	}
	var m struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(meta, &m) != nil {
		return ""
	}
	return m.ID
}

// persistRequested reports whether a client broadcast's metadata asks to store it:
// {"persist": true} or {"persist": {"ttl": …}} (realtime-js 2.119).
func persistRequested(meta json.RawMessage) bool {
	if len(meta) == 0 {
		return false
	}
	var m struct {
		Persist json.RawMessage `json:"persist"`
	}
	if json.Unmarshal(meta, &m) != nil {
		return false
	}
	switch string(m.Persist) {
	case "", "null", "false":
		return false
	}
	return true
}
