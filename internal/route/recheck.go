package route

import "github.com/wedsync/vendorhub/internal/event"

// Recheck names the realtime channels whose readers must be re-authorized because an event
// may have taken their read access away: every private channel on one of Topics (or on a
// sub-topic "<topic>:…", e.g. the conversation's chatter topic), and every private channel
// of one of Users.
type Recheck struct {
	Topics []string
	Users  []string
	// XID is the removing transaction's id: the re-check's probe must see its effects.
	XID uint32
}

// Empty reports whether nothing is to be re-checked.
func (r Recheck) Empty() bool { return len(r.Topics) == 0 && len(r.Users) == 0 }

// recheckOf returns what a membership.removed event takes access from, by the table of its
// subject (docs/events.md):
//
//	conversation_participants  conversation:<id> and its chatter topic (the others stay)
//	wedding_vendors            wedding:<id> (the vendor's members may no longer see it)
//	vendor_members             every channel of the user (vendor:<id>, its weddings)
//	wedding_couples            every channel of the user (wedding:, couple:, conversations stay
//	                           by participation, which the probe re-reads)
//
// An id that is missing or not a UUID is left out.
func recheckOf(ev *event.Event) Recheck {
	var r Recheck
	topic := func(prefix string, id *string) {
		if id == nil {
			return
		}
		if u, ok := lowerUUID(*id); ok {
			r.Topics = append(r.Topics, prefix+u)
		}
	}
	user := func(id *string) {
		if id == nil {
			return
		}
		if u, ok := lowerUUID(*id); ok {
			r.Users = append(r.Users, u)
		}
	}
	r.XID = ev.XID
	switch ev.Subject.Table {
	case "conversation_participants":
		topic("conversation:", ev.Subject.ConversationID)
	case "wedding_vendors":
		topic("wedding:", ev.WeddingID)
	case "vendor_members", "wedding_couples":
		user(ev.Subject.UserID)
	}
	return r
}
