package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
)

// storeN stores n broadcasts {"key":"k<i>","n":i} on topic, one after the other.
func storeN(t *testing.T, s gateway.Store, topic string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := s.Persist(tctx(t), topic, "message.created", json.RawMessage(fmt.Sprintf(`{"key":"k%d","n":%d}`, i, i)))
		require.NoError(t, err)
	}
}

// requireReplayed reads the next len(want) broadcasts on ch and checks they are the stored
// messages with these n, in order, each marked replayed with its row id.
func requireReplayed(t *testing.T, ch *rtclient.Channel, want ...int) {
	t.Helper()
	ids := map[string]bool{}
	for _, n := range want {
		m := nextBroadcast(t, ch)
		var p struct{ N int }
		require.NoError(t, json.Unmarshal(m.UserPayload, &p), "%s", m.UserPayload)
		require.Equal(t, n, p.N, "replay order")
		var meta struct {
			Replayed bool
			ID       string
		}
		require.NoError(t, json.Unmarshal(m.Meta, &meta), "%s", m.Meta)
		require.True(t, meta.Replayed)
		require.NotEmpty(t, meta.ID)
		require.False(t, ids[meta.ID], "duplicate id")
		ids[meta.ID] = true
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestReplay(t *testing.T) {
	t.Parallel()
	var store gateway.Store
	b := setup(t, func(c *gateway.Config) {
		store = &gateway.PGStore{Pool: c.Authorizer.(*gateway.PGAuthorizer).Pool}
		c.Store = store
	})
	ctx := tctx(t)
	topic := "conversation:" + b.fx.conversation
	since := time.Now().Add(-time.Second).UnixMilli()
	storeN(t, store, topic, 0, 30)
	// A stored broadcast of another topic and a public one are never replayed here.
	_, err := b.db.Pool.Exec(ctx, `insert into realtime.messages (topic, extension, event, payload, private) values
  ('conversation:00000000-0000-4000-8000-000000000000', 'broadcast', 'message.created', '{"n":-1}', true),
  ($1, 'broadcast', 'message.created', '{"n":-2}', false)`, topic)
	require.NoError(t, err)

	// limit 10: the newest 10, oldest first, then live broadcasts.
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{Replay: map[string]any{"since": since, "limit": 10}})
	requireReplayed(t, alice, seq(20, 29)...)
	b.marker(t, topic, "live")
	requireMarker(t, alice, "live")

	// No limit and a limit over 25: Realtime's cap of 25. The 1.0.0 socket gets text frames.
	for _, replay := range []map[string]any{{"since": since}, {"since": since, "limit": 100}} {
		ch := b.joinConv(t, b.dial(t, "1.0.0"), b.fx.bobTok, rtclient.JoinConfig{Replay: replay})
		requireReplayed(t, ch, seq(5, 29)...)
		b.marker(t, topic, "cap")
		requireMarker(t, ch, "cap")
	}
	// since after the last message: nothing replayed.
	ch := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.bobTok, rtclient.JoinConfig{Replay: map[string]any{"since": time.Now().Add(time.Minute).UnixMilli()}})
	b.marker(t, topic, "none")
	requireMarker(t, ch, "none")

	// Refusals, with Supabase Realtime's reasons.
	var re *rtclient.ReplyError
	_, err = b.dial(t, "2.0.0").Join(ctx, topic, rtclient.JoinConfig{AccessToken: b.fx.aliceTok, Replay: map[string]any{"since": since}})
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, "UnableToReplayMessages: Replay is not allowed for public channels", re.Reason())
	for _, bad := range []map[string]any{{"since": "yesterday"}, {"limit": 5}, {"since": 1.5}, {"since": since, "limit": "all"}} {
		_, err = b.dial(t, "2.0.0").Join(ctx, topic, rtclient.JoinConfig{Private: true, AccessToken: b.fx.aliceTok, Replay: bad})
		require.True(t, errors.As(err, &re), "%v: %v", bad, err)
		require.Equal(t, "UnableToReplayMessages: Replay params are not valid", re.Reason(), "%v", bad)
	}
	// The outsider's replay request is refused by the same RLS as a live join.
	_, err = b.dial(t, "2.0.0").Join(ctx, topic, rtclient.JoinConfig{Private: true, AccessToken: b.fx.eveTok, Replay: map[string]any{"since": since}})
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, "Unauthorized: You do not have permissions to read from this Channel topic: "+topic, re.Reason())
}

// gatedStore holds Replay until released, so a test can publish live broadcasts while a join
// reads its replay.
type gatedStore struct {
	gateway.Store
	reading chan struct{}
	release chan struct{}
}

func (g *gatedStore) Replay(ctx context.Context, topic string, since time.Time, limit int) ([]gateway.StoredMessage, error) {
	msgs, err := g.Store.Replay(ctx, topic, since, limit)
	close(g.reading)
	<-g.release
	return msgs, err
}

func TestReplayThenLiveWithoutGapOrDuplicate(t *testing.T) {
	t.Parallel()
	var gs *gatedStore
	b := setup(t, func(c *gateway.Config) {
		gs = &gatedStore{Store: &gateway.PGStore{Pool: c.Authorizer.(*gateway.PGAuthorizer).Pool}, reading: make(chan struct{}), release: make(chan struct{})}
		c.Store = gs
	})
	topic := "conversation:" + b.fx.conversation
	since := time.Now().Add(-time.Second).UnixMilli()
	storeN(t, gs, topic, 0, 3)

	joined := make(chan *rtclient.Channel, 1)
	c := b.dial(t, "2.0.0")
	go func() {
		ch, err := c.Join(tctx(t), topic, rtclient.JoinConfig{Private: true, AccessToken: b.fx.aliceTok, Replay: map[string]any{"since": since}})
		if err != nil {
			t.Error(err)
		}
		joined <- ch
	}()
	<-gs.reading
	// While the replay is read: the live copy of a replayed event (same key) and a new one.
	require.NoError(t, b.gw.Send(tctx(t), []realtime.Message{
		{Topic: topic, Event: "message.created", Payload: json.RawMessage(`{"key":"k2","n":2}`), Private: true},
		{Topic: topic, Event: "message.created", Payload: json.RawMessage(`{"key":"k3","n":3}`), Private: true},
	}))
	close(gs.release)
	ch := <-joined
	require.NotNil(t, ch)
	requireReplayed(t, ch, 0, 1, 2)
	m := nextBroadcast(t, ch)
	require.JSONEq(t, `{"key":"k3","n":3}`, string(m.UserPayload), "the live event held during replay follows it; its replayed twin does not")
	require.Empty(t, m.Meta)
	b.marker(t, topic, "end")
	requireMarker(t, ch, "end")
}

func TestPersistedClientBroadcast(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *gateway.Config) { c.Store = &gateway.PGStore{Pool: c.Authorizer.(*gateway.PGAuthorizer).Pool} })
	ctx := tctx(t)
	since := time.Now().Add(-time.Second).UnixMilli()
	// Clients write on the conversation's chatter topic (the conversation topic is the server's).
	chatter := "conversation:" + b.fx.conversation + ":chatter"
	join := func(tok string, cfg rtclient.JoinConfig) *rtclient.Channel {
		cfg.Private, cfg.AccessToken = true, tok
		ch, err := b.dial(t, "2.0.0").Join(ctx, chatter, cfg)
		require.NoError(t, err)
		return ch
	}
	alice := join(b.fx.aliceTok, rtclient.JoinConfig{Ack: true})
	bob := join(b.fx.bobTok, rtclient.JoinConfig{})
	require.NoError(t, alice.BroadcastBinaryMeta(ctx, "note", map[string]any{"text": "kept"}, nil, json.RawMessage(`{"persist":true}`), true))
	m := nextBroadcast(t, bob)
	require.JSONEq(t, `{"text":"kept"}`, string(m.UserPayload))
	var meta struct{ ID string }
	require.NoError(t, json.Unmarshal(m.Meta, &meta))
	require.NotEmpty(t, meta.ID, "a stored broadcast carries its row id live too")

	// A later joiner gets it replayed.
	late := join(b.fx.bobTok, rtclient.JoinConfig{Replay: map[string]any{"since": since}})
	m = nextBroadcast(t, late)
	require.JSONEq(t, `{"text":"kept"}`, string(m.UserPayload))
	require.JSONEq(t, fmt.Sprintf(`{"replayed":true,"id":%q}`, meta.ID), string(m.Meta))

	// carol may read the wedding topic but not send on it: persist is refused out loud and
	// nothing is stored.
	wtopic := "wedding:" + b.fx.wedding
	carol, err := b.dial(t, "2.0.0").Join(ctx, wtopic, rtclient.JoinConfig{Private: true, Ack: true, AccessToken: b.fx.carolTok})
	require.NoError(t, err)
	err = carol.BroadcastBinaryMeta(ctx, "vendor.status_changed", map[string]any{"forged": true}, nil, json.RawMessage(`{"persist":true}`), true)
	var re *rtclient.ReplyError
	require.True(t, errors.As(err, &re), "%v", err)
	require.JSONEq(t, `{"error":"Unauthorized: You do not have permissions to write to this Channel topic: `+wtopic+`"}`, string(re.Response))
	var stored int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from realtime.messages where topic = $1`, wtopic).Scan(&stored))
	require.Zero(t, stored)
}

func TestReplicationReady(t *testing.T) {
	t.Parallel()
	ready := make(chan struct{})
	b := setup(t, func(c *gateway.Config) { c.ReplicationReady = ready })
	ch := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{ReplicationReady: true})
	topic := "conversation:" + b.fx.conversation
	b.marker(t, topic, "before")
	m, err := ch.Next(tctx(t), "system", "broadcast")
	require.NoError(t, err)
	require.Equal(t, "broadcast", m.Event, "no system event before the replication streams")
	close(ready)
	m, err = ch.Next(tctx(t), "system")
	require.NoError(t, err)
	require.JSONEq(t, `{"extension":"system","status":"ok","message":"Replication connection established","channel":"`+topic+`"}`, string(m.Payload))

	// Never ready: the channel is closed with Realtime's error.
	b2 := setup(t, func(c *gateway.Config) {
		c.ReplicationReady = make(chan struct{})
		c.ReplicationReadyTimeout = 50 * time.Millisecond
	})
	ch2 := b2.joinConv(t, b2.dial(t, "2.0.0"), b2.fx.aliceTok, rtclient.JoinConfig{ReplicationReady: true})
	m, err = ch2.Next(tctx(t), "system")
	require.NoError(t, err)
	require.Contains(t, string(m.Payload), "Replication connection was not established in time")
	_, err = ch2.Next(tctx(t), "phx_close")
	require.NoError(t, err)
}

// Each stored message is a row kept 72 hours: one socket may store PersistPerSecond a
// second; beyond that a persisted send is refused out loud and nothing more is stored.
func TestPersistIsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *gateway.Config) {
		c.Store = &gateway.PGStore{Pool: c.Authorizer.(*gateway.PGAuthorizer).Pool}
		c.PersistPerSecond = 1
	})
	ctx := tctx(t)
	chatter := "conversation:" + b.fx.conversation + ":chatter"
	alice, err := b.dial(t, "2.0.0").Join(ctx, chatter, rtclient.JoinConfig{Private: true, Ack: true, AccessToken: b.fx.aliceTok})
	require.NoError(t, err)
	persist := json.RawMessage(`{"persist":true}`)
	require.NoError(t, alice.BroadcastBinaryMeta(ctx, "note", map[string]any{"n": 1}, nil, persist, true))
	err = alice.BroadcastBinaryMeta(ctx, "note", map[string]any{"n": 2}, nil, persist, true)
	var re *rtclient.ReplyError
	require.True(t, errors.As(err, &re), "%v", err)
	require.JSONEq(t, `{"error":"UnableToStoreMessage: too many stored messages per second"}`, string(re.Response))
	var stored int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from realtime.messages where topic = $1`, chatter).Scan(&stored))
	require.Equal(t, 1, stored)
}
