// Package route turns committed transactions into events with stable keys (Events) and
// decides, per event, what must happen (Router.Route): the realtime topics to broadcast
// to, the notification category to plan, and the integration jobs to enqueue.
//
// The rules are one table, DefaultRules (rules.go), described for humans in
// supabase-config/routes.md. Routing is pure and never fails: an unknown event type or a
// malformed envelope is counted, logged and routed to nothing, so one bad event never
// stops the stream.
//
// Events come only from 'vendorhub'-prefixed logical messages written by vendorhub.emit()
// inside the causing transaction. Row changes the publication carries (e.g. public.messages,
// kept for TOAST fidelity) do not become events: every routed row change already emits its
// envelope from a trigger in the same transaction, so deriving a second event from the row
// would double every effect.
package route
