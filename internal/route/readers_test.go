package route_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/route"
)

// Who may read a row or join a topic, as classes of people relative to the event's ids.
const (
	participants   = "the conversation's participants"
	couple         = "the wedding's couple"
	weddingVendors = "members of every vendor connected to the wedding"
	vendorMembers  = "the subject vendor's members"
	ownUser        = "the subject user"
)

// topicJoiners is who may join each topic family: the SELECT policy on realtime.messages
// (vendorhub.can_receive_topic, supabase/migrations/20261207000400_realtime_topics.sql).
var topicJoiners = map[string][]string{
	"conversation": {participants},
	"wedding":      {couple, weddingVendors},
	"couple":       {couple},
	"vendor":       {vendorMembers},
	"user":         {ownUser},
}

// rowReaders is who may read the row behind each event type that is broadcast: the table's
// SELECT policy (20261125000110_foundation_rls.sql); sidecar-emitted types name the rows they
// report on. A vendor's members always see the weddings their vendor is connected to, so
// vendorMembers is within weddingVendors for events of such a wedding.
var rowReaders = map[event.Type][]string{
	event.MessageCreated:      {participants},                          // messages
	event.MessageRead:         {participants},                          // conversation_participants
	event.VendorStatusChanged: {couple, weddingVendors, vendorMembers}, // wedding_vendors, vendor_status_updates: can_see_wedding
	event.AvailabilityChanged: {vendorMembers},                         // availability_blocks
	event.BookingUpdated:      {vendorMembers, couple},                 // bookings: members, or the wedding's couple
	event.ConnectionChanged:   {vendorMembers},                         // integration_connections
	event.NotificationCreated: {ownUser},                               // notifications
	event.DeliveryUpdated:     {ownUser},                               // deliveries
	event.IntegrationFailed:   {vendorMembers},                         // the vendor's connection or delivery
	event.ConflictDetected:    {vendorMembers},                         // the vendor's bookings and busy blocks
	event.TaskUpdated:         {couple, weddingVendors},                // tasks: can_see_wedding
}

// TestTopicsFollowRowReaders: every topic an event goes to may be joined only by people who
// may read the event's row, so a broadcast never tells anyone more than PostgREST would.
func TestTopicsFollowRowReaders(t *testing.T) {
	t.Parallel()
	r, _ := newRouter(t)
	for _, typ := range event.Types {
		got := r.Route(fullEvent(typ, `{}`))
		readers, broadcast := rowReaders[typ]
		if !broadcast {
			require.Empty(t, got.Topics, "%s has no row readers listed: it must not be broadcast", typ)
			continue
		}
		require.NotEmpty(t, got.Topics, "%s is listed as broadcast", typ)
		for _, topic := range got.Topics {
			family, _, _ := strings.Cut(topic, ":")
			joiners, ok := topicJoiners[family]
			require.True(t, ok, "%s goes to an unknown topic family %q", typ, family)
			for _, j := range joiners {
				require.Contains(t, readers, j, "%s on %s reaches %s, who may not read its row", typ, topic, j)
			}
		}
	}
}

// TestMembershipRemovedRechecks: what each kind of removed membership re-checks.
func TestMembershipRemovedRechecks(t *testing.T) {
	t.Parallel()
	r, _ := newRouter(t)
	upper := strings.ToUpper(userID)
	for _, tc := range []struct {
		table string
		subj  event.Subject
		want  route.Recheck
	}{
		{"conversation_participants", event.Subject{ConversationID: ptr(conversationID), UserID: ptr(userID)},
			route.Recheck{Topics: []string{"conversation:" + conversationID}}},
		{"wedding_vendors", event.Subject{VendorID: ptr(vendorID)},
			route.Recheck{Topics: []string{"wedding:" + weddingID}}},
		{"vendor_members", event.Subject{VendorID: ptr(vendorID), UserID: ptr(upper)},
			route.Recheck{Users: []string{userID}}},
		{"wedding_couples", event.Subject{UserID: ptr(userID)},
			route.Recheck{Users: []string{userID}}},
		{"vendor_members", event.Subject{VendorID: ptr(vendorID), UserID: ptr("not-a-uuid")}, route.Recheck{}},
		{"bookings", event.Subject{VendorID: ptr(vendorID)}, route.Recheck{}},
	} {
		ev := fullEvent(event.MembershipRemoved, `{}`)
		ev.Subject = tc.subj
		ev.Subject.Table, ev.Subject.ID = tc.table, "x"
		got := r.Route(ev)
		require.Equal(t, tc.want, got.Recheck, tc.table)
		require.Empty(t, got.Topics, "membership.removed is not broadcast")
	}
	// Other types re-check nothing, whatever their subject.
	ev := fullEvent(event.MessageCreated, `{}`)
	ev.Subject.Table = "conversation_participants"
	require.True(t, r.Route(ev).Recheck.Empty())
}
