// Package notify plans notifications: for each routed event with a notification category it
// decides who is told, on which channels and when, and writes that down durably inside the
// replication hand-off transaction (it is a handoff.Sink and makes no provider call).
//
// Per recipient (the event's participants other than its actor, the wedding's couple, the
// vendor's members — see recipients.go) the planner writes an in-app notification row
// (delivered to user:<id> by realtime) and one River job (DeliverArgs) for the first channel
// of the recipient's chain. Decide computes the chain:
//
//   - channels come in the order push → email → SMS, each enabled by the recipient's
//     preference for the category (a missing row means the default: push and email on, SMS
//     off) and kept only while reachable (a live device, an address that has not bounced, a
//     number that has not opted out); the delivery worker falls back along the chain;
//   - critical categories (day_of_change) cannot be muted: every reachable channel is in the
//     chain, preferences or not, and quiet hours do not apply;
//   - quiet hours are read in the recipient's IANA time zone; a non-critical push or SMS
//     inside them is deferred to the end of the window (wall-clock end, so correct across
//     DST changes), never dropped; email is not deferred.
//
// Anti-spam: per recipient and conversation at most one message notification goes out per
// Config.Window. Later messages are held in vendorhub.notify_threads and sent as one digest
// notification ("4 new messages from 3 vendors") by DigestWorker once the thread has been
// quiet for Config.Inactivity, or Config.MaxWait after the first held message, and never
// before the window ends.
//
// Not planned: integration.failed events of deliveries (data.kind "delivery": telling the
// user their notification failed would loop) and availability changes without an actor (a
// calendar sync echoing the vendor's own calendar back).
//
// Replays are harmless: notification rows are unique on (user_id, event_key) and jobs are
// inserted only for rows this transaction created; thread state remembers the newest event
// key it applied.
package notify
