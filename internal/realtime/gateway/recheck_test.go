package gateway_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
	"github.com/wedsync/vendorhub/internal/route"
)

// requireClosed waits for the system error and the phx_close of a channel that lost access.
func requireClosed(t *testing.T, ch *rtclient.Channel, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := ch.Next(ctx, "system")
	require.NoError(t, err)
	var p map[string]string
	require.NoError(t, json.Unmarshal(m.Payload, &p))
	require.Equal(t, "error", p["status"])
	require.Equal(t, "You no longer have permission to read from this Channel topic: "+topic, p["message"])
	_, err = ch.Next(ctx, "phx_close")
	require.NoError(t, err)
}

// A participant removed from a conversation loses the conversation's channels (its server
// topic and its chatter topic) when the membership.removed event is published; the others
// keep theirs, and the removed one receives nothing sent after the change.
func TestRecheckClosesRemovedParticipant(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	conv := "conversation:" + b.fx.conversation
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{})
	aliceChatter := b.joinTopic(t, b.dial(t, "1.0.0"), b.chatter(), b.fx.aliceTok, rtclient.JoinConfig{})
	bob := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.bobTok, rtclient.JoinConfig{})

	_, err := b.db.Pool.Exec(ctx, `delete from public.conversation_participants where conversation_id = $1 and user_id = $2`, b.fx.conversation, b.fx.alice)
	require.NoError(t, err)
	// What the hand-off gives the gateway for the trigger's event, then the next message.
	r := route.NewRouter(route.DefaultRules, route.Options{}).Route(removed("conversation_participants", b.fx.conversation, b.fx.alice))
	require.Equal(t, []string{conv}, r.Recheck.Topics)
	b.gw.Publish([]route.Routed{r})
	require.NoError(t, b.gw.Send(ctx, []realtime.Message{{Topic: conv, Event: "message.created", Payload: json.RawMessage(`{"after":"removal"}`), Private: true}}))

	requireClosed(t, alice, conv)
	requireClosed(t, aliceChatter, b.chatter())
	m := nextBroadcast(t, bob)
	require.JSONEq(t, `{"after":"removal"}`, string(m.UserPayload), "bob is still a participant")
	// alice's channel got no broadcast before it closed.
	select {
	case m, ok := <-alice.Messages():
		require.False(t, ok && m.Event == "broadcast", "alice received %s after her removal", m.UserPayload)
	default:
	}
	b.marker(t, conv, "bob-still-here")
	requireMarker(t, bob, "bob-still-here")
}

// A vendor member removed from the vendor loses every channel that needed the membership
// (vendor:<id>, wedding:<id>); a vendor disconnected from a wedding loses the wedding topic.
func TestRecheckVendorMemberAndConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := tctx(t)
	wedding, vendor := "wedding:"+b.fx.wedding, "vendor:"+b.fx.vendor
	carolC := b.dial(t, "2.0.0")
	carolWedding := b.joinTopic(t, carolC, wedding, b.fx.carolTok, rtclient.JoinConfig{})
	carolVendor := b.joinTopic(t, carolC, vendor, b.fx.carolTok, rtclient.JoinConfig{})
	// A re-check that finds access intact keeps the channel.
	b.gw.Recheck(route.Recheck{Users: []string{b.fx.carol}})
	b.marker(t, wedding, "kept")
	requireMarker(t, carolWedding, "kept")

	_, err := b.db.Pool.Exec(ctx, `delete from public.wedding_vendors where wedding_id = $1 and vendor_id = $2`, b.fx.wedding, b.fx.vendor)
	require.NoError(t, err)
	b.gw.Publish([]route.Routed{route.NewRouter(route.DefaultRules, route.Options{}).Route(removedConnection(b.fx.wedding, b.fx.vendor))})
	requireClosed(t, carolWedding, wedding)
	b.marker(t, vendor, "vendor-kept")
	requireMarker(t, carolVendor, "vendor-kept")

	_, err = b.db.Pool.Exec(ctx, `delete from public.vendor_members where vendor_id = $1 and user_id = $2`, b.fx.vendor, b.fx.carol)
	require.NoError(t, err)
	b.gw.Recheck(route.Recheck{Users: []string{b.fx.carol}})
	requireClosed(t, carolVendor, vendor)
}

// removed is the membership.removed event of a participant's removal.
func removed(table, conversation, user string) event.Event {
	return event.Event{Envelope: event.Envelope{Type: event.MembershipRemoved,
		Subject: event.Subject{Table: table, ID: "x", ConversationID: &conversation, UserID: &user}}}
}

// removedConnection is the membership.removed event of a vendor's disconnection.
func removedConnection(wedding, vendor string) event.Event {
	return event.Event{Envelope: event.Envelope{Type: event.MembershipRemoved, WeddingID: &wedding,
		Subject: event.Subject{Table: "wedding_vendors", ID: "x", VendorID: &vendor}}}
}

// pausingAuthorizer runs the real probe, then (once armed) holds its answer until released:
// a join whose probe answered before a membership change but registers after it.
type pausingAuthorizer struct {
	gateway.Authorizer
	armed    atomic.Bool
	probed   chan struct{}
	released chan struct{}
}

func (a *pausingAuthorizer) CanRead(ctx context.Context, p gateway.Probe, exts ...string) (map[string]bool, error) {
	res, err := a.Authorizer.CanRead(ctx, p, exts...)
	if a.armed.CompareAndSwap(true, false) {
		close(a.probed)
		<-a.released
	}
	return res, err
}

// A join whose probe overlapped a re-check is re-checked itself, so it cannot slip past a
// removal that committed while it was being authorized.
func TestRecheckCatchesJoinInFlight(t *testing.T) {
	t.Parallel()
	pa := &pausingAuthorizer{probed: make(chan struct{}), released: make(chan struct{})}
	b := setup(t, func(c *gateway.Config) { pa.Authorizer = c.Authorizer; c.Authorizer = pa })
	ctx := tctx(t)
	conv := "conversation:" + b.fx.conversation
	c := b.dial(t, "2.0.0")
	pa.armed.Store(true)
	joined := make(chan *rtclient.Channel, 1)
	go func() {
		ch, err := c.Join(ctx, conv, rtclient.JoinConfig{Private: true, AccessToken: b.fx.aliceTok})
		if err != nil {
			t.Error(err)
		}
		joined <- ch
	}()
	<-pa.probed // alice's probe said yes
	_, err := b.db.Pool.Exec(ctx, `delete from public.conversation_participants where conversation_id = $1 and user_id = $2`, b.fx.conversation, b.fx.alice)
	require.NoError(t, err)
	b.gw.Recheck(route.Recheck{Topics: []string{conv}}) // finds no channel of alice yet
	close(pa.released)
	alice := <-joined
	require.NotNil(t, alice)
	requireClosed(t, alice, conv)
}

// enteredAuthorizer reports each read probe that must see a transaction, as it starts.
type enteredAuthorizer struct {
	gateway.Authorizer
	entered chan uint32
}

func (e *enteredAuthorizer) CanRead(ctx context.Context, p gateway.Probe, extensions ...string) (map[string]bool, error) {
	if p.After != 0 {
		select {
		case e.entered <- p.After:
		default:
		}
	}
	return e.Authorizer.CanRead(ctx, p, extensions...)
}

// Logical decoding can deliver a removal's commit while the deleting backend is still in the
// procarray, so a probe run at once would still find the member. The re-check waits until the
// removing transaction is visible: here that transaction is still open when the re-check's
// probe starts (a stand-in for that window), and the channel closes once it commits.
func TestRecheckWaitsUntilTheRemovalIsVisible(t *testing.T) {
	t.Parallel()
	ea := &enteredAuthorizer{entered: make(chan uint32, 1)}
	b := setup(t, func(c *gateway.Config) { ea.Authorizer = c.Authorizer; c.Authorizer = ea })
	pg := ea.Authorizer.(*gateway.PGAuthorizer)
	ctx := tctx(t)
	conv := "conversation:" + b.fx.conversation
	alice := b.joinConv(t, b.dial(t, "2.0.0"), b.fx.aliceTok, rtclient.JoinConfig{})

	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var xid int64
	require.NoError(t, tx.QueryRow(ctx, `
with d as (delete from public.conversation_participants where conversation_id = $1 and user_id = $2 returning 1)
select txid_current() % 4294967296 from d`, b.fx.conversation, b.fx.alice).Scan(&xid))
	ev := removed("conversation_participants", b.fx.conversation, b.fx.alice)
	ev.XID = uint32(xid)
	b.gw.Publish([]route.Routed{route.NewRouter(route.DefaultRules, route.Options{}).Route(ev)})
	select {
	case got := <-ea.entered:
		require.Equal(t, uint32(xid), got)
	case <-ctx.Done():
		t.Fatal("the re-check's probe did not start")
	}
	// The probe waits while the removal is invisible (one that did not would answer "kept",
	// and alice would stay).
	require.Eventually(t, func() bool { return pg.Waits() > 0 }, 5*time.Second, time.Millisecond, "the probe did not wait")
	require.NoError(t, tx.Commit(ctx))
	requireClosed(t, alice, conv)
}
