package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is a wedding with a conversation between two participants, a vendor member who
// is not in the conversation, and an outsider.
type fixture struct {
	wedding, conversation, vendor      string
	alice, bob, carol, eve             string // alice, bob: participants; carol: vendor member of the wedding; eve: outsider
	aliceTok, bobTok, carolTok, eveTok string
}

type testBundle struct {
	gw    *gateway.Gateway
	srv   *httptest.Server
	db    *pgtest.DB
	fx    fixture
	audit *auditLog
}

type auditLog struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (a *auditLog) Add(e audit.Entry) { a.mu.Lock(); a.entries = append(a.entries, e); a.mu.Unlock() }
func (a *auditLog) all() []audit.Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Entry(nil), a.entries...)
}

func verifier(t *testing.T) *auth.Verifier {
	v, err := auth.NewVerifier(auth.Config{JWTSecret: auth.DevJWTSecret, OpaqueKeys: auth.DevOpaqueKeys()})
	require.NoError(t, err)
	return v
}

func userToken(t *testing.T, id string, ttl time.Duration) string {
	tok, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: id, Email: id[:8] + "@example.com", TTL: ttl})
	require.NoError(t, err)
	return tok
}

func setup(t *testing.T, mod func(*gateway.Config)) *testBundle {
	t.Helper()
	return setupOn(t, pgtest.NewDB(t), mod)
}

// setupOn is setup on db, whose pool's role makes the fixture and runs the authorization probe.
func setupOn(t *testing.T, db *pgtest.DB, mod func(*gateway.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	fx := fixture{}
	err := db.Pool.QueryRow(ctx, `
with u as (
  insert into auth.users (id, email) values
    (gen_random_uuid(), 'alice@example.com'), (gen_random_uuid(), 'bob@example.com'),
    (gen_random_uuid(), 'carol@example.com'), (gen_random_uuid(), 'eve@example.com')
  returning id, email),
w as (insert into public.weddings (title, wedding_date) values ('A & B', '2027-06-12') returning id),
v as (insert into public.vendors (name, kind) values ('Petals', 'florist') returning id),
c as (insert into public.conversations (wedding_id, subject) select id, 'Flowers' from w returning id)
select (select id from w)::text, (select id from c)::text, (select id from v)::text,
  (select id from u where email = 'alice@example.com')::text, (select id from u where email = 'bob@example.com')::text,
  (select id from u where email = 'carol@example.com')::text, (select id from u where email = 'eve@example.com')::text`).
		Scan(&fx.wedding, &fx.conversation, &fx.vendor, &fx.alice, &fx.bob, &fx.carol, &fx.eve)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `
insert into public.conversation_participants (conversation_id, user_id) values ($1, $2), ($1, $3);
`, fx.conversation, fx.alice, fx.bob)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `insert into public.vendor_members (vendor_id, user_id, role) values ($1, $2, 'owner')`, fx.vendor, fx.carol)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `insert into public.wedding_vendors (wedding_id, vendor_id, status) values ($1, $2, 'booked')`, fx.wedding, fx.vendor)
	require.NoError(t, err)
	fx.aliceTok, fx.bobTok = userToken(t, fx.alice, time.Hour), userToken(t, fx.bob, time.Hour)
	fx.carolTok, fx.eveTok = userToken(t, fx.carol, time.Hour), userToken(t, fx.eve, time.Hour)

	al := &auditLog{}
	cfg := gateway.Config{Verifier: verifier(t), Authorizer: &gateway.PGAuthorizer{Pool: db.Pool}, Audit: al}
	if mod != nil {
		mod(&cfg)
	}
	gw, err := gateway.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(func() { gw.Close(); srv.Close() })
	return &testBundle{gw: gw, srv: srv, db: db, fx: fx, audit: al}
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (b *testBundle) dial(t *testing.T, vsn string) *rtclient.Client {
	t.Helper()
	c, err := rtclient.Dial(tctx(t), rtclient.Options{URL: b.srv.URL, APIKey: auth.DevAnonKey, VSN: vsn})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func (b *testBundle) joinConv(t *testing.T, c *rtclient.Client, tok string, cfg rtclient.JoinConfig) *rtclient.Channel {
	t.Helper()
	cfg.Private, cfg.AccessToken = true, tok
	ch, err := c.Join(tctx(t), "conversation:"+b.fx.conversation, cfg)
	require.NoError(t, err)
	return ch
}

// joinTopic joins a private topic with tok.
func (b *testBundle) joinTopic(t *testing.T, c *rtclient.Client, topic, tok string, cfg rtclient.JoinConfig) *rtclient.Channel {
	t.Helper()
	cfg.Private, cfg.AccessToken = true, tok
	ch, err := c.Join(tctx(t), topic, cfg)
	require.NoError(t, err)
	return ch
}

// chatter is the conversation's client-to-client topic.
func (b *testBundle) chatter() string { return "conversation:" + b.fx.conversation + ":chatter" }

// nextBroadcast returns the next broadcast on ch.
func nextBroadcast(t *testing.T, ch *rtclient.Channel) rtclient.Message {
	t.Helper()
	m, err := ch.Next(tctx(t), "broadcast")
	require.NoError(t, err)
	return m
}

// marker sends a sidecar broadcast to topic; a receiver that gets it as its next broadcast
// got nothing in between (each socket's frames are written in order).
func (b *testBundle) marker(t *testing.T, topic, tag string) {
	require.NoError(t, b.gw.Send(tctx(t), []realtime.Message{{Topic: topic, Event: "marker", Payload: json.RawMessage(`{"tag":"` + tag + `"}`), Private: true}}))
}

func requireMarker(t *testing.T, ch *rtclient.Channel, tag string) {
	t.Helper()
	m := nextBroadcast(t, ch)
	require.Equal(t, "marker", m.UserEvent, "got %s %s before the marker", m.UserEvent, m.UserPayload)
	require.JSONEq(t, `{"tag":"`+tag+`"}`, string(m.UserPayload))
}

func TestConnectRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *gateway.Config) { c.MaxConnsPerIP = 2 })
	ctx := tctx(t)
	for _, tc := range []struct {
		name, key string
	}{{"no key", ""}, {"bad key", "nope"}, {"unknown opaque key", "sb_publishable_nope"}, {"wrong secret", func() string {
		tok, _ := auth.MintHS256("some-other-secret-of-at-least-32-characters", auth.UserToken{UserID: "x"}.Claims())
		return tok
	}()}} {
		_, err := rtclient.Dial(ctx, rtclient.Options{URL: b.srv.URL, APIKey: tc.key})
		var de *rtclient.DialError
		require.True(t, errors.As(err, &de), tc.name)
		require.Equal(t, http.StatusUnauthorized, de.Status, tc.name)
		var body map[string]string
		require.NoError(t, json.Unmarshal([]byte(de.Body), &body), tc.name)
		require.NotEmpty(t, body["error"], tc.name)
	}
	// The opaque publishable key works as the anon key, like Kong does.
	c1, err := rtclient.Dial(ctx, rtclient.Options{URL: b.srv.URL, APIKey: auth.DevPublishableKey})
	require.NoError(t, err)
	defer c1.CloseNow()
	require.NoError(t, c1.Heartbeat(ctx))
	c2 := b.dial(t, "1.0.0")
	require.NoError(t, c2.Heartbeat(ctx))
	// The third socket from 127.0.0.1 is over the limit.
	_, err = rtclient.Dial(ctx, rtclient.Options{URL: b.srv.URL, APIKey: auth.DevAnonKey})
	var de *rtclient.DialError
	require.True(t, errors.As(err, &de))
	require.Equal(t, http.StatusTooManyRequests, de.Status)
	// Closing one frees a place.
	require.NoError(t, c1.Close())
	require.Eventually(t, func() bool { return b.gw.Conns() == 1 }, 10*time.Second, 5*time.Millisecond)
	c3, err := rtclient.Dial(ctx, rtclient.Options{URL: b.srv.URL, APIKey: auth.DevAnonKey})
	require.NoError(t, err)
	c3.CloseNow()

	resp, err := http.Get(strings.Replace(b.srv.URL, "http", "http", 1) + "/realtime/v1/websocket?apikey=" + auth.DevAnonKey + "&vsn=3.0.0")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestPrivateConversation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	topic := "conversation:" + b.fx.conversation
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{})
	bob := b.joinConv(t, b.dial(t, "1.0.0"), b.fx.bobTok, rtclient.JoinConfig{})

	// The outsider is refused by the RLS policies, and so is the anon key alone.
	eveC := b.dial(t, "2.0.0")
	_, err := eveC.Join(ctx, topic, rtclient.JoinConfig{Private: true, AccessToken: b.fx.eveTok})
	var re *rtclient.ReplyError
	require.True(t, errors.As(err, &re))
	require.Equal(t, "Unauthorized: You do not have permissions to read from this Channel topic: "+topic, re.Reason())
	_, err = eveC.Join(ctx, topic, rtclient.JoinConfig{Private: true})
	require.True(t, errors.As(err, &re))
	require.Contains(t, re.Reason(), "Unauthorized")
	// carol sees the wedding but is not in the conversation.
	_, err = b.dial(t, "2.0.0").Join(ctx, topic, rtclient.JoinConfig{Private: true, AccessToken: b.fx.carolTok})
	require.True(t, errors.As(err, &re))
	// The public namespace of the same name is a different room.
	evePublic, err := eveC.Join(ctx, topic, rtclient.JoinConfig{})
	require.NoError(t, err)

	refused := b.audit.all()
	require.Len(t, refused, 3)
	require.Equal(t, audit.ActionJoinRefused, refused[0].Action)
	require.Equal(t, b.fx.eve, refused[0].Actor)
	require.Equal(t, "realtime:"+topic, refused[0].Subject)
	var refusedRows int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from realtime.messages`).Scan(&refusedRows))
	require.Zero(t, refusedRows, "probe rows are rolled back")

	// The sidecar's broadcast reaches both participants.
	require.NoError(t, b.gw.Send(ctx, []realtime.Message{{Topic: topic, Event: "message.created", Payload: json.RawMessage(`{"id":"m1","data":{"body_preview":"hi"}}`), Private: true}}))
	for _, ch := range []*rtclient.Channel{alice, bob} {
		m := nextBroadcast(t, ch)
		require.Equal(t, "message.created", m.UserEvent)
		require.JSONEq(t, `{"id":"m1","data":{"body_preview":"hi"}}`, string(m.UserPayload))
		require.Equal(t, "realtime:"+topic, m.Topic)
		require.False(t, m.Binary)
	}
	// The public channel got nothing: its first broadcast is a public marker.
	require.NoError(t, b.gw.Send(ctx, []realtime.Message{{Topic: topic, Event: "marker", Payload: json.RawMessage(`{"tag":"public"}`), Private: false}}))
	requireMarker(t, evePublic, "public")

	// The join reply echoed the (empty) postgres_changes bindings.
	require.JSONEq(t, `{"postgres_changes":[]}`, string(alice.JoinReply))
}

func TestBroadcastSelfAckAndBinary(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	topic := b.chatter() // clients broadcast on the chatter topic only
	aliceC := b.dial(t, "2.0.0")
	alice := b.joinTopic(t, aliceC, topic, b.fx.aliceTok, rtclient.JoinConfig{Ack: true}) // self:false
	bob := b.joinTopic(t, b.dial(t, "2.0.0"), topic, b.fx.bobTok, rtclient.JoinConfig{Self: true, Ack: true})
	bobV1 := b.joinTopic(t, b.dial(t, "1.0.0"), topic, b.fx.bobTok, rtclient.JoinConfig{})

	// Binary kind 3 with ack: acknowledged; bob (2.0.0) gets kind 4, the 1.0.0 socket gets text.
	require.NoError(t, alice.BroadcastBinary(ctx, "typing", map[string]any{"who": "alice", "ü": "wörld"}, nil, true))
	m := nextBroadcast(t, bob)
	require.True(t, m.Binary)
	require.Equal(t, "typing", m.UserEvent)
	require.JSONEq(t, `{"who":"alice","ü":"wörld"}`, string(m.UserPayload))
	m = nextBroadcast(t, bobV1)
	require.False(t, m.Binary)
	require.JSONEq(t, `{"who":"alice","ü":"wörld"}`, string(m.UserPayload))

	// JSON text broadcast with ack from bob (self:true): bob gets his own, alice gets it too.
	require.NoError(t, bob.Broadcast(ctx, "typing", map[string]any{"who": "bob"}, true))
	m = nextBroadcast(t, bob)
	require.JSONEq(t, `{"who":"bob"}`, string(m.UserPayload))
	m = nextBroadcast(t, alice)
	require.JSONEq(t, `{"who":"bob"}`, string(m.UserPayload))
	m = nextBroadcast(t, bobV1)
	require.JSONEq(t, `{"who":"bob"}`, string(m.UserPayload))

	// alice (self:false) never got her own broadcast: her next one is the marker.
	b.marker(t, topic, "after")
	requireMarker(t, alice, "after")
	requireMarker(t, bob, "after")
	requireMarker(t, bobV1, "after")

	// Raw binary payloads go to 2.0.0 sockets only.
	require.NoError(t, alice.BroadcastBinary(ctx, "blob", nil, []byte{0, 1, 2, 255}, true))
	m = nextBroadcast(t, bob)
	require.Equal(t, []byte{0, 1, 2, 255}, m.UserPayload)
	b.marker(t, topic, "v1")
	requireMarker(t, bobV1, "v1")
	requireMarker(t, bob, "v1")

	// A payload over the limit is refused with payload_size_exceeded and goes nowhere.
	err := alice.Broadcast(ctx, "big", map[string]string{"x": strings.Repeat("x", gateway.MaxPayloadBytesDefault)}, true)
	var re *rtclient.ReplyError
	require.True(t, errors.As(err, &re))
	require.JSONEq(t, `{"error":"payload_size_exceeded"}`, string(re.Response))
	b.marker(t, topic, "big")
	requireMarker(t, bob, "big")
}

func TestPrivateWriteDeniedIsSilent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	topic := "wedding:" + b.fx.wedding
	// carol (vendor member) may receive on the wedding topic but only track presence there.
	carolC := b.dial(t, "2.0.0")
	carol, err := carolC.Join(ctx, topic, rtclient.JoinConfig{Private: true, Ack: true, Self: true, AccessToken: b.fx.carolTok})
	require.NoError(t, err)
	require.NoError(t, carol.Broadcast(ctx, "vendor.status_changed", map[string]string{"forged": "yes"}, false))
	// The heartbeat reply comes after the (absent) ack: frames are handled in order.
	require.NoError(t, carolC.Heartbeat(ctx))
	b.marker(t, topic, "no-forgery")
	requireMarker(t, carol, "no-forgery")

	// A participant cannot forge message.created on the conversation topic either (server
	// events only); the other participant gets the server's next event and nothing before it.
	conv := "conversation:" + b.fx.conversation
	aliceC := b.dial(t, "2.0.0")
	alice := b.joinConv(t, aliceC, b.fx.aliceTok, rtclient.JoinConfig{Ack: true, Self: true})
	bob := b.joinConv(t, b.dial(t, "1.0.0"), b.fx.bobTok, rtclient.JoinConfig{})
	require.NoError(t, alice.Broadcast(ctx, "message.created", map[string]string{"forged": "yes"}, false))
	require.NoError(t, aliceC.Heartbeat(ctx))
	b.marker(t, conv, "server")
	requireMarker(t, bob, "server")
	requireMarker(t, alice, "server")
	// Presence is still allowed there: it cannot forge a broadcast.
	require.NoError(t, alice.Track(ctx, map[string]string{"online": "yes"}))
}

func TestPresence(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{Presence: true, PresenceKey: "alice"})
	st, err := alice.Next(ctx, "presence_state")
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(st.Payload))
	require.NoError(t, alice.Track(ctx, map[string]string{"name": "Alice"}))
	d, err := alice.Next(ctx, "presence_diff")
	require.NoError(t, err)
	requireDiff(t, d, map[string]string{"alice": "Alice"}, nil)

	bobC := b.dial(t, "1.0.0")
	bob := b.joinConv(t, bobC, b.fx.bobTok, rtclient.JoinConfig{Presence: true, PresenceKey: "bob"})
	st, err = bob.Next(ctx, "presence_state")
	require.NoError(t, err)
	var state map[string]struct {
		Metas []map[string]string `json:"metas"`
	}
	require.NoError(t, json.Unmarshal(st.Payload, &state))
	require.Len(t, state, 1)
	require.Equal(t, "Alice", state["alice"].Metas[0]["name"])
	require.NotEmpty(t, state["alice"].Metas[0]["phx_ref"])

	require.NoError(t, bob.Track(ctx, map[string]string{"name": "Bob"}))
	for _, ch := range []*rtclient.Channel{alice, bob} {
		d, err := ch.Next(ctx, "presence_diff")
		require.NoError(t, err)
		requireDiff(t, d, map[string]string{"bob": "Bob"}, nil)
	}
	// Tracking again with the same meta is a no-op; a change is a leave + join.
	require.NoError(t, bob.Track(ctx, map[string]string{"name": "Bob"}))
	require.NoError(t, bob.Track(ctx, map[string]string{"name": "Bobby"}))
	d, err = alice.Next(ctx, "presence_diff")
	require.NoError(t, err)
	requireDiff(t, d, map[string]string{"bob": "Bobby"}, map[string]string{"bob": "Bob"})

	// bob's socket goes away: alice sees the leave.
	require.NoError(t, bobC.Close())
	d, err = alice.Next(ctx, "presence_diff")
	require.NoError(t, err)
	requireDiff(t, d, nil, map[string]string{"bob": "Bobby"})

	// A track payload must be a map.
	err = alice.Track(ctx, []int{1})
	var re *rtclient.ReplyError
	require.True(t, errors.As(err, &re))
	require.Equal(t, "Presence track payload must be a map", re.Reason())
}

func requireDiff(t *testing.T, m rtclient.Message, joins, leaves map[string]string) {
	t.Helper()
	var d struct {
		Joins, Leaves map[string]struct {
			Metas []map[string]string `json:"metas"`
		}
	}
	require.NoError(t, json.Unmarshal(m.Payload, &d))
	require.Len(t, d.Joins, len(joins), string(m.Payload))
	require.Len(t, d.Leaves, len(leaves), string(m.Payload))
	for k, name := range joins {
		require.Equal(t, name, d.Joins[k].Metas[0]["name"])
	}
	for k, name := range leaves {
		require.Equal(t, name, d.Leaves[k].Metas[0]["name"])
	}
}

func TestPresenceRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *gateway.Config) { c.PresenceCalls = 2; c.PresenceWindow = time.Hour })
	ctx := tctx(t)
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{Presence: true})
	require.NoError(t, alice.Track(ctx, map[string]int{"n": 1}))
	require.NoError(t, alice.Track(ctx, map[string]int{"n": 2}))
	// The third call gets no reply: the channel is closed with a system error instead.
	tctx, cancel := context.WithCancel(ctx)
	tracked := make(chan error, 1)
	go func() { tracked <- alice.Track(tctx, map[string]int{"n": 3}) }()
	m, err := alice.Next(ctx, "system")
	require.NoError(t, err)
	require.Contains(t, string(m.Payload), "Client presence rate limit exceeded")
	_, err = alice.Next(ctx, "phx_close")
	require.NoError(t, err)
	cancel()
	// No ok reply ever came: the call ends with our cancel, or with the socket if the server
	// closed it first (under load its write-timeout sweep may).
	err = <-tracked
	require.Error(t, err)
	var re *rtclient.ReplyError
	require.False(t, errors.As(err, &re), "the third track was answered: %v", err)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	topic := "conversation:" + b.fx.conversation

	// An expired token is refused.
	expired, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: b.fx.alice, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour})
	require.NoError(t, err)
	_, err = b.dial(t, "2.0.0").Join(ctx, topic, rtclient.JoinConfig{Private: true, AccessToken: expired})
	var re *rtclient.ReplyError
	require.True(t, errors.As(err, &re))
	require.Contains(t, re.Reason(), "InvalidJWTToken: Token has expired")

	// Two channels with tokens that expire in 2 s: the refreshed one keeps going, the other
	// is closed with a system message when its token expires.
	short := userToken(t, b.fx.alice, 2*time.Second)
	kept := b.joinConv(t, b.dial(t, "2.0.0"), short, rtclient.JoinConfig{})
	lapsed := b.joinConv(t, b.dial(t, "1.0.0"), short, rtclient.JoinConfig{})
	require.NoError(t, kept.SetToken(ctx, userToken(t, b.fx.alice, time.Hour)))
	m, err := lapsed.Next(ctx, "system")
	require.NoError(t, err)
	require.Contains(t, string(m.Payload), "Token has expired")
	_, err = lapsed.Next(ctx, "phx_close")
	require.NoError(t, err)
	b.marker(t, topic, "still-here")
	requireMarker(t, kept, "still-here")

	// A refresh to an invalid token closes the channel; one for a user who may not read the
	// topic closes it too.
	require.NoError(t, kept.SetToken(ctx, "garbage"))
	m, err = kept.Next(ctx, "system")
	require.NoError(t, err)
	require.Contains(t, string(m.Payload), "not a valid JWT")
	bob := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.bobTok, rtclient.JoinConfig{})
	require.NoError(t, bob.SetToken(ctx, b.fx.eveTok))
	m, err = bob.Next(ctx, "system")
	require.NoError(t, err)
	require.Contains(t, string(m.Payload), "You no longer have permission to read from this Channel topic")
	_, err = bob.Next(ctx, "phx_close")
	require.NoError(t, err)
}

func TestLeaveLimitsAndUnmatched(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *gateway.Config) { c.MaxChannelsPerConn = 3 })
	ctx := tctx(t)
	c := b.dial(t, "2.0.0")
	var chans []*rtclient.Channel
	for i := range 3 {
		ch, err := c.Join(ctx, fmt.Sprintf("room%d", i), rtclient.JoinConfig{})
		require.NoError(t, err)
		chans = append(chans, ch)
	}
	_, err := c.Join(ctx, "room3", rtclient.JoinConfig{})
	var re *rtclient.ReplyError
	require.True(t, errors.As(err, &re))
	require.Equal(t, "ChannelRateLimitReached: Too many channels", re.Reason())
	// Leaving one makes room.
	require.NoError(t, chans[0].Leave(ctx))
	m, err := chans[0].Next(ctx, "phx_close")
	require.NoError(t, err)
	require.JSONEq(t, `"`+chans[0].JoinRef+`"`, string(m.Ref))
	_, err = c.Join(ctx, "room3", rtclient.JoinConfig{})
	require.NoError(t, err)
	// A push to a topic that is not joined.
	require.NoError(t, c.WriteRaw(ctx, false, []byte(`[null,"99","realtime:nope","broadcast",{"type":"broadcast","event":"x","payload":{}}]`)))
	require.NoError(t, c.WriteRaw(ctx, true, []byte{9, 9, 9}))               // undecodable: ignored
	require.NoError(t, c.WriteRaw(ctx, false, []byte(`{"not":"an array"}`))) // ignored
	require.NoError(t, c.Heartbeat(ctx), "the socket survives bad frames")
	_, err = c.Join(ctx, "", rtclient.JoinConfig{})
	require.True(t, errors.As(err, &re))
	require.Contains(t, re.Reason(), "TopicNameRequired")
}

func TestSlowConsumerDisconnected(t *testing.T) {
	t.Parallel()
	t.Run("queue full", func(t *testing.T) {
		t.Parallel()
		testSlowConsumer(t, func(c *gateway.Config) { c.SendQueue = 8 })
	})
	t.Run("write stuck", func(t *testing.T) {
		t.Parallel()
		// The queue never fills; the blocked write is what gives the reader away.
		testSlowConsumer(t, func(c *gateway.Config) { c.SendQueue = 100_000; c.WriteTimeout = 300 * time.Millisecond })
	})
}

func testSlowConsumer(t *testing.T, mod func(*gateway.Config)) {
	b := setup(t, mod)
	ctx := tctx(t)
	// A socket that joins and then never reads.
	u := strings.Replace(b.srv.URL, "http", "ws", 1) + "/realtime/v1/websocket?vsn=2.0.0&apikey=" + auth.DevAnonKey
	slow, _, err := websocket.Dial(ctx, u, nil)
	require.NoError(t, err)
	defer slow.CloseNow()
	require.NoError(t, slow.Write(ctx, websocket.MessageText, []byte(`["1","1","realtime:room","phx_join",{"config":{}}]`)))
	fast := b.dial(t, "2.0.0")
	fch, err := fast.Join(ctx, "room", rtclient.JoinConfig{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.gw.Conns() == 2 }, 10*time.Second, 5*time.Millisecond)

	payload := json.RawMessage(`{"blob":"` + strings.Repeat("z", 200_000) + `"}`)
	// In lockstep with the fast reader, so only the slow one accumulates: 200 × 200 KB is far
	// beyond what socket buffers hold.
	const n = 200
	for i := range n {
		require.NoError(t, b.gw.Send(ctx, []realtime.Message{{Topic: "room", Event: "big", Payload: payload}}))
		_, err := fch.Next(ctx, "broadcast")
		require.NoError(t, err, "fast reader, message %d", i)
		if b.gw.Conns() == 1 {
			break
		}
	}
	require.Eventually(t, func() bool { return b.gw.Conns() == 1 }, 20*time.Second, 10*time.Millisecond, "the slow reader was disconnected")
	require.NoError(t, fast.Heartbeat(ctx), "the fast reader is still connected")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *gateway.Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := b.dial(t, "2.0.0")
	select {
	case <-c.Done():
	case <-tctx(t).Done():
		t.Fatal("idle socket not closed")
	}
	require.Eventually(t, func() bool { return b.gw.Conns() == 0 }, 10*time.Second, 5*time.Millisecond)
}

func TestREST(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	conv := "conversation:" + b.fx.conversation
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{})
	pub, err := b.dial(t, "2.0.0").Join(ctx, "lobby", rtclient.JoinConfig{})
	require.NoError(t, err)

	post := func(path, key, ctype, body string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("apikey", auth.DevAnonKey)
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = fmt.Fprint(&sb, resp.Body)
		return resp.StatusCode, sb.String()
	}
	batch := func(topic string, private bool, tag string) string {
		b, _ := json.Marshal(map[string]any{"messages": []map[string]any{{"topic": topic, "event": "note", "payload": map[string]string{"tag": tag}, "private": private}}})
		return string(b)
	}
	st, _ := post(gateway.BroadcastPath, "", "application/json", batch(conv, true, "x"))
	require.Equal(t, http.StatusUnauthorized, st)
	// anon may not write to a private topic: skipped, still 202.
	st, _ = post(gateway.BroadcastPath+"?apikey=x&vsn=2.0.0", auth.DevAnonKey, "application/json", batch(conv, true, "anon"))
	require.Equal(t, http.StatusAccepted, st)
	// A participant may not write to the conversation's server topic: skipped, still 202.
	st, _ = post(gateway.BroadcastPath, b.fx.bobTok, "application/json", batch(conv, true, "bob"))
	require.Equal(t, http.StatusAccepted, st)
	// The service role may write anywhere: the first broadcast alice gets is the service's.
	st, _ = post(gateway.BroadcastPath, auth.DevServiceRoleKey, "application/json", batch(conv, true, "service"))
	require.Equal(t, http.StatusAccepted, st)
	m := nextBroadcast(t, alice)
	require.JSONEq(t, `{"tag":"service"}`, string(m.UserPayload))
	// The participant may write to the chatter topic.
	aliceChatter := b.joinTopic(t, b.dial(t, "2.0.0"), b.chatter(), b.fx.aliceTok, rtclient.JoinConfig{})
	st, _ = post(gateway.BroadcastPath, b.fx.bobTok, "application/json", batch(b.chatter(), true, "bob"))
	require.Equal(t, http.StatusAccepted, st)
	m = nextBroadcast(t, aliceChatter)
	require.JSONEq(t, `{"tag":"bob"}`, string(m.UserPayload))
	st, _ = post("/realtime/v1/api/broadcast/"+conv+"/events/message.created?private=true", b.fx.bobTok, "application/json", `{"forged":true}`)
	require.Equal(t, http.StatusForbidden, st, "single REST broadcast to a server topic is refused too")
	// Public broadcast with the anon key.
	st, _ = post(gateway.BroadcastPath, auth.DevAnonKey, "application/json", batch("lobby", false, "hello"))
	require.Equal(t, http.StatusAccepted, st)
	m = nextBroadcast(t, pub)
	require.JSONEq(t, `{"tag":"hello"}`, string(m.UserPayload))
	require.False(t, m.Binary, "batch broadcasts arrive as text")

	// Bad input.
	st, _ = post(gateway.BroadcastPath, auth.DevServiceRoleKey, "application/json", `{"messages":[{"topic":"lobby","event":"e","payload":[1]}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, st)
	st, _ = post(gateway.BroadcastPath, auth.DevServiceRoleKey, "application/json", `{"messages":[]}`)
	require.Equal(t, http.StatusUnprocessableEntity, st)
	st, _ = post(gateway.BroadcastPath, auth.DevServiceRoleKey, "application/json", `{"messages":`)
	require.Equal(t, http.StatusBadRequest, st)
	st, _ = post(gateway.BroadcastPath, auth.DevServiceRoleKey, "application/json", batch("lobby", false, strings.Repeat("p", gateway.MaxPayloadBytesDefault)))
	require.Equal(t, http.StatusUnprocessableEntity, st)

	// Single-message endpoint: kind 4 to 2.0.0 sockets; private needs write permission (403).
	st, _ = post("/realtime/v1/api/broadcast/lobby/events/ping", auth.DevAnonKey, "application/json", `{"n":1}`)
	require.Equal(t, http.StatusAccepted, st)
	m = nextBroadcast(t, pub)
	require.True(t, m.Binary)
	require.Equal(t, "ping", m.UserEvent)
	require.JSONEq(t, `{"n":1}`, string(m.UserPayload))
	st, _ = post("/realtime/v1/api/broadcast/"+conv+"/events/ping?private=true", b.fx.eveTok, "application/json", `{"n":2}`)
	require.Equal(t, http.StatusForbidden, st)
	st, _ = post("/realtime/v1/api/broadcast/lobby/events/ping", auth.DevAnonKey, "text/plain", `hi`)
	require.Equal(t, http.StatusUnsupportedMediaType, st)
	st, _ = post("/realtime/v1/api/broadcast/lobby/events/raw", auth.DevAnonKey, "application/octet-stream", "\x00\x01")
	require.Equal(t, http.StatusAccepted, st)
	m = nextBroadcast(t, pub)
	require.Equal(t, []byte{0, 1}, m.UserPayload)
	b.marker(t, conv, "rest-done")
	requireMarker(t, alice, "rest-done")
}

func TestCloseDisconnects(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.dial(t, "2.0.0")
	require.NoError(t, c.Heartbeat(tctx(t)))
	b.gw.Close()
	select {
	case <-c.Done():
	case <-tctx(t).Done():
		t.Fatal("socket not closed by Close")
	}
	var ce websocket.CloseError
	require.True(t, errors.As(c.Err(), &ce))
	require.Equal(t, websocket.StatusGoingAway, ce.Code)
}

func TestSidecarBroadcastSkipsActorWithoutSelf(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	topic := "conversation:" + b.fx.conversation
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{})               // self:false
	aliceSelf := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{Self: true}) // another tab, self:true
	bob := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.bobTok, rtclient.JoinConfig{})
	require.NoError(t, b.gw.Send(ctx, []realtime.Message{{Topic: topic, Event: "message.created", Payload: json.RawMessage(`{"by":"alice"}`), Private: true, Actor: b.fx.alice}}))
	for _, ch := range []*rtclient.Channel{bob, aliceSelf} {
		m := nextBroadcast(t, ch)
		require.JSONEq(t, `{"by":"alice"}`, string(m.UserPayload))
	}
	b.marker(t, topic, "after-own-message")
	requireMarker(t, alice, "after-own-message")
}

// Projects on asymmetric signing keys: the apikey and the user's token are ES256 JWTs checked
// against the project's JWKS.
func TestAsymmetricSigningKeys(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	require.NoError(t, err)
	v, err := auth.NewVerifier(auth.Config{JWKS: jwks})
	require.NoError(t, err)
	b := setup(t, func(c *gateway.Config) { c.Verifier = v })
	ctx := tctx(t)
	anon, err := auth.MintSigned("ES256", "k1", key, jwt.MapClaims{"role": "anon", "exp": time.Now().Add(time.Hour).Unix()})
	require.NoError(t, err)
	alice, err := auth.MintSigned("ES256", "k1", key, auth.UserToken{UserID: b.fx.alice}.Claims())
	require.NoError(t, err)

	_, err = rtclient.Dial(ctx, rtclient.Options{URL: b.srv.URL, APIKey: auth.DevAnonKey})
	var de *rtclient.DialError
	require.True(t, errors.As(err, &de), "an HS256 key is refused without a JWT secret")
	require.Equal(t, http.StatusUnauthorized, de.Status)
	c, err := rtclient.Dial(ctx, rtclient.Options{URL: b.srv.URL, APIKey: anon})
	require.NoError(t, err)
	defer c.CloseNow()
	ch, err := c.Join(ctx, "conversation:"+b.fx.conversation, rtclient.JoinConfig{Private: true, AccessToken: alice})
	require.NoError(t, err)
	b.marker(t, "conversation:"+b.fx.conversation, "es256")
	requireMarker(t, ch, "es256")
}
