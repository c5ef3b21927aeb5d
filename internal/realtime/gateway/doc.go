// Package gateway is vendorhub's embedded Supabase-Realtime-compatible server: an unmodified
// @supabase/supabase-js (realtime-js 2.119) client pointed at the sidecar connects, joins
// private channels authorized by the project's RLS policies, and receives the sidecar's
// broadcasts, so `vendorhub dev` needs no Supabase stack.
//
// It serves the Phoenix socket at /realtime/v1/websocket (and /socket/websocket) with
// protocol 1.0.0 (JSON objects) and 2.0.0 (JSON arrays; binary user broadcasts, kind 3 in and
// kind 4 out), and the REST broadcast endpoints /realtime/v1/api/broadcast (batch) and
// /realtime/v1/api/broadcast/{topic}/events/{event} (single). Register adds them to a mux.
//
// Per channel it implements join (with Realtime's token selection and expiry), reply,
// heartbeat, leave/close, broadcast with self and ack, presence (track, untrack,
// presence_state, presence_diff), access_token refresh and system messages. Private channels
// are authorized by an Authorizer; PGAuthorizer runs Supabase Realtime's own probe against
// realtime.messages (probe rows, set_config of role/claims/topic/headers, a select under RLS,
// rollback; a savepointed insert for writes), so the same policies decide in dev and on
// Supabase. Public and private topics are separate rooms.
//
// The Gateway is also a realtime.Transport: the sidecar's publisher hands it broadcasts
// in-process. Limits: sockets per IP, channels per socket, payload size, idle sockets, presence
// calls per window, and a bounded send queue per socket — a client that does not keep up is
// disconnected, and a write blocked for longer than WriteTimeout closes its socket, so one slow
// reader never holds memory or other readers back. Each socket costs one goroutine while idle;
// a writer goroutine exists only while frames are queued.
//
// The protocol facts it follows are in docs/realtime.md (§3–§7, §13).
package gateway
