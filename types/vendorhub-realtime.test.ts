// Type checks of vendorhub-realtime.d.ts, run by `deno check` from tests/realtime (Go test
// TestTypeFileChecks). Lines marked @ts-expect-error must fail to type-check.
import type {
  BroadcastMessage,
  BroadcastOf,
  BroadcastOn,
  ChatterTopic,
  EventType,
  ReplayedBroadcastMessage,
  ReplayingChannelConfig,
  SeenKeys,
  TopicEvents,
} from './vendorhub-realtime.d.ts'

// A payload as the sidecar sends it (captured from the e2e conversation scenario).
const created: BroadcastOf<'message.created'> = {
  id: '6d1f1a55-4f3e-4a51-9d43-3c7f0f5f2b10',
  type: 'message.created',
  occurred_at: '2026-11-25T14:03:07.512341+00:00',
  wedding_id: '30000000-0000-4000-8000-000000000001',
  actor: '10000000-0000-4000-8000-000000000004',
  subject: { table: 'messages', id: 'a3c0', conversation_id: '40000000-0000-4000-8000-000000000001' },
  data: {
    message_id: 'a3c0',
    conversation_id: '40000000-0000-4000-8000-000000000001',
    conversation_subject: 'Planning',
    sender_id: '10000000-0000-4000-8000-000000000004',
    body_preview: 'Shot list attached',
    reply_to: null,
    created_at: '2026-11-25T14:03:07.512341+00:00',
  },
  key: '16b3748/3',
}

function preview(p: BroadcastOf<'message.created'>): string {
  if (p.refetch) return `reload ${p.subject.id}`
  return p.data.body_preview // narrowed: data is present when refetch is not set
}
preview(created)
preview({ ...created, data: undefined, refetch: true })

// A refetch message has no data.
// @ts-expect-error data must be absent on a refetch message
const bad: BroadcastOf<'message.created'> = { ...created, refetch: true }

// Day-of updates carry day-of statuses.
const dayOf: BroadcastOf<'vendor.status_changed'> = {
  ...created,
  type: 'vendor.status_changed',
  subject: { table: 'vendor_status_updates', id: 'x', vendor_id: 'v' },
  data: { scope: 'day_of', vendor_id: 'v', vendor_name: 'Lumen', vendor_kind: 'photographer', old_status: null, new_status: 'en_route', note: null, eta: null },
}
// @ts-expect-error a connection status is not a day-of status
dayOf.data = { ...dayOf.data!, scope: 'day_of', new_status: 'booked' }

// Topic families accept only their events.
const onConversation: TopicEvents['conversation'] = 'message.read'
// @ts-expect-error vendor.status_changed never reaches a conversation topic
const wrong: TopicEvents['conversation'] = 'vendor.status_changed'
// @ts-expect-error bookings do not travel on the wedding topic (its other vendors may not read them)
const bookingOnWedding: TopicEvents['wedding'] = 'booking.updated'
const bookingOnCouple: TopicEvents['couple'] = 'booking.updated'
const chatter: ChatterTopic = 'conversation:40000000-0000-4000-8000-000000000001:chatter'
const anyUserEvent: BroadcastOn<'user'>['type'] = 'delivery.updated'
const msg: BroadcastMessage<'message.created'> = { type: 'broadcast', event: 'message.created', payload: created }
const names: EventType[] = ['message.created', 'task.updated']
export { anyUserEvent, bad, bookingOnCouple, bookingOnWedding, chatter, msg, names, onConversation, wrong }

// Rejoining with replay: since is unix milliseconds; replayed messages carry their row id.
const rejoin: ReplayingChannelConfig = { private: true, broadcast: { self: false, replay: { since: Date.now() - 2000, limit: 25 } } }
// @ts-expect-error replay needs a private channel
const publicReplay: ReplayingChannelConfig = { private: false, broadcast: { replay: { since: 0 } } }
// @ts-expect-error since is a number of milliseconds, not a timestamp string
const badSince: ReplayingChannelConfig = { private: true, broadcast: { replay: { since: '2026-11-25T14:03:07Z' } } }
const replayed: ReplayedBroadcastMessage<'message.created'> = {
  type: 'broadcast', event: 'message.created', payload: created, meta: { id: 'a0a0', replayed: true },
}
const seen: SeenKeys = new Set()
if (!seen.has(replayed.payload.key)) seen.add(replayed.payload.key)
void rejoin, publicReplay, badSince
