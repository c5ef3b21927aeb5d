// Types of the broadcasts vendorhub sends to Supabase Realtime channels, for frontend code
// using @supabase/supabase-js. Documentation: docs/realtime.md. Payload fields per event type:
// docs/events.md. Which events go to which topic: supabase-config/routes.md (the routing rules
// in internal/route/rules.go; a Go test keeps TopicEvents below in step with them).
//
//   import type { BroadcastOf, TopicEvents } from '<repo>/types/vendorhub-realtime'
//   supabase.channel(`conversation:${id}`, { config: { private: true } })
//     .on('broadcast', { event: 'message.created' }, ({ payload }: { payload: BroadcastOf<'message.created'> }) => {
//       if (payload.refetch) return reload(payload.subject) // the data did not fit in a broadcast
//       render(payload.data.body_preview)
//     })

/** A UUID string. */
export type UUID = string
/** An RFC 3339 timestamp string. */
export type Timestamp = string

/**
 * The private server topic families; on the socket they read `realtime:<family>:<uuid>`. Only
 * the server broadcasts on them (clients may track presence); who may join each is in
 * docs/realtime.md. `couple:` takes the wedding's id.
 */
export type ConversationTopic = `conversation:${UUID}`
export type WeddingTopic = `wedding:${UUID}`
export type CoupleTopic = `couple:${UUID}`
export type VendorTopic = `vendor:${UUID}`
export type UserTopic = `user:${UUID}`
export type Topic = ConversationTopic | WeddingTopic | CoupleTopic | VendorTopic | UserTopic

/**
 * A conversation's chatter topic: the one topic clients may broadcast on (typing indicators,
 * presence), joined by the conversation's participants. It carries no server events.
 */
export type ChatterTopic = `conversation:${UUID}:chatter`
/** What the demo chat sends on a chatter topic (any shape is allowed; this one is vendorhub's). */
export interface TypingPayload {
  user_id: UUID
  typing: boolean
}

/** The row an event is about, with the ids it was routed by. Absent ids are omitted. */
export interface Subject {
  table: string
  id: string
  conversation_id?: UUID
  vendor_id?: UUID
  user_id?: UUID
  /** All participant user ids of the conversation (message events only), sorted. */
  participants?: UUID[]
}

export type Op = 'insert' | 'update' | 'delete'
export type ConnectionStatus = 'inquiry' | 'proposal' | 'booked' | 'confirmed' | 'declined' | 'cancelled'
export type DayOfStatus = 'on_schedule' | 'en_route' | 'arrived' | 'setting_up' | 'ready' | 'delayed' | 'finished' | 'issue'
export type AvailabilitySource = 'manual' | 'google' | 'outlook' | 'ical' | 'honeybook' | 'dubsado' | 'lightblue'
export type BookingStatus = 'inquiry' | 'held' | 'booked' | 'cancelled'
export type IntegrationStatus = 'active' | 'needs_reauth' | 'disabled' | 'error'
export type Channel = 'push' | 'email' | 'sms' | 'in_app'
export type DeliveryStatus = 'queued' | 'sent' | 'delivered' | 'opened' | 'failed' | 'suppressed' | 'deferred'
export type TaskStatus = 'todo' | 'in_progress' | 'blocked' | 'done' | 'cancelled'
export type Category =
  | 'new_message' | 'status_change' | 'availability' | 'booking' | 'conflict'
  | 'integration_failure' | 'task' | 'day_of_change'

export interface MessageCreatedData {
  message_id: UUID
  conversation_id: UUID
  conversation_subject: string | null
  /** null for a system message. */
  sender_id: UUID | null
  /** Whitespace collapsed, at most 140 characters ("…" when cut). Load the full body through PostgREST. */
  body_preview: string
  reply_to: UUID | null
  created_at: Timestamp
}

export interface MessageReadData {
  conversation_id: UUID
  user_id: UUID
  last_read_at: Timestamp
  previous_read_at: Timestamp | null
}

export type VendorStatusChangedData =
  | {
      scope: 'connection'
      vendor_id: UUID
      vendor_name: string
      vendor_kind: string
      old_status: ConnectionStatus | null
      new_status: ConnectionStatus
      note: null
      eta: null
    }
  | {
      scope: 'day_of'
      vendor_id: UUID
      vendor_name: string
      vendor_kind: string
      old_status: null
      new_status: DayOfStatus
      note: string | null
      eta: Timestamp | null
    }

export interface AvailabilityChangedData {
  op: Op
  vendor_id: UUID
  starts_at: Timestamp
  ends_at: Timestamp
  all_day: boolean
  source: AvailabilitySource
  external_id: string | null
  /** Updates only. */
  old_starts_at?: Timestamp
  old_ends_at?: Timestamp
}

export interface BookingUpdatedData {
  op: Op
  vendor_id: UUID
  wedding_id: UUID | null
  status: BookingStatus
  old_status: BookingStatus | null
  starts_at: Timestamp
  ends_at: Timestamp
  source: string
  external_id: string | null
  title: string | null
}

export interface ConnectionChangedData {
  op: Op
  vendor_id: UUID
  kind: string
  display_name: string | null
  old_status: IntegrationStatus | null
  new_status: IntegrationStatus | null
  last_error: string | null
}

export interface NotificationCreatedData {
  notification_id: UUID
  user_id: UUID
  category: Category
  title: string
  body_preview: string | null
  event_key: string | null
  created_at: Timestamp
}

export interface DeliveryUpdatedData {
  delivery_id: UUID
  notification_id: UUID | null
  user_id: UUID
  channel: Channel
  provider: string | null
  status: DeliveryStatus
  old_status: DeliveryStatus | null
  attempt: number
  error_code: string | null
  provider_id: string | null
  event_key: string | null
}

export interface TaskUpdatedData {
  op: Op
  task_id: UUID
  title: string
  status: TaskStatus
  old_status: TaskStatus | null
  due_at: Timestamp | null
  vendor_id: UUID | null
  /** A day-of task. */
  critical: boolean
}

/** Sidecar-emitted events: their data is defined by the emitting stage (docs/events.md). */
export interface IntegrationFailedData { [field: string]: unknown }
export interface ConflictDetectedData { [field: string]: unknown }

/** The data of each event type that reaches a realtime topic. */
export interface EventData {
  'message.created': MessageCreatedData
  'message.read': MessageReadData
  'vendor.status_changed': VendorStatusChangedData
  'availability.changed': AvailabilityChangedData
  'booking.updated': BookingUpdatedData
  'connection.changed': ConnectionChangedData
  'notification.created': NotificationCreatedData
  'delivery.updated': DeliveryUpdatedData
  'integration.failed': IntegrationFailedData
  'conflict.detected': ConflictDetectedData
  'task.updated': TaskUpdatedData
}

/** A broadcast event name: the event type. */
export type EventType = keyof EventData

/** Which events arrive on which topic family. */
export interface TopicEvents {
  conversation: 'message.created' | 'message.read'
  wedding: 'vendor.status_changed' | 'task.updated'
  couple: 'booking.updated'
  vendor:
    | 'vendor.status_changed' | 'availability.changed' | 'booking.updated' | 'connection.changed'
    | 'integration.failed' | 'conflict.detected'
  user: 'notification.created' | 'delivery.updated'
}

interface EnvelopeFields<T extends EventType> {
  /** The event's id (a UUID chosen by the emitting transaction). */
  id: UUID
  type: T
  occurred_at: Timestamp
  /** Absent when the event belongs to no wedding. */
  wedding_id?: UUID
  /** The user whose request caused the event; absent for the system. */
  actor?: UUID
  subject: Subject
  /**
   * The event's stable key, "<commit LSN hex>/<index>": identical when a replay delivers the
   * event again. Use it (or subject.id) to drop duplicates.
   */
  key: string
}

/** The broadcast payload of event T: the event envelope and its key. */
export interface FullBroadcast<T extends EventType> extends EnvelopeFields<T> {
  data: EventData[T]
  refetch?: undefined
}

/**
 * What replaces a payload too large for Realtime: same event name and envelope, no data.
 * Reload the subject through PostgREST.
 */
export interface RefetchBroadcast<T extends EventType> extends EnvelopeFields<T> {
  data?: undefined
  refetch: true
}

/** The payload of broadcast event T (supabase-js hands it to `.on('broadcast', { event: T }, ({ payload }) => …)`). */
export type BroadcastOf<T extends EventType> = FullBroadcast<T> | RefetchBroadcast<T>

/** Any vendorhub broadcast on a topic family. */
export type BroadcastOn<F extends keyof TopicEvents> = { [T in TopicEvents[F]]: BroadcastOf<T> }[TopicEvents[F]]

/** The message supabase-js passes to a broadcast listener for event T. */
export interface BroadcastMessage<T extends EventType> {
  type: 'broadcast'
  event: T
  payload: BroadcastOf<T>
  meta?: { id?: string; replayed?: boolean }
}

/** Broadcast replay on (re)join: what `config.broadcast.replay` of a private channel takes. */
export interface ReplayOption {
  /**
   * Unix milliseconds: replay the stored broadcasts inserted at or after this time. Use the
   * time you received your last event, minus a margin for clock skew.
   */
  since: number
  /** How many of the newest to replay, 1–25 (the server caps it at 25; 25 when absent). */
  limit?: number
}

/** The join config of a vendorhub channel that replays what it missed. */
export interface ReplayingChannelConfig {
  private: true
  broadcast: { self?: boolean; ack?: boolean; replication_ready?: boolean; replay: ReplayOption }
  presence?: { key?: string; enabled?: boolean }
}

/** A broadcast delivered by replay: `meta.replayed` is set and `meta.id` is the stored row's id. */
export interface ReplayedBroadcastMessage<T extends EventType> extends BroadcastMessage<T> {
  meta: { id: string; replayed: true }
}

/**
 * Dedupe by key: a replay may deliver an event the client already had (the `since` margin), and
 * after a sidecar crash an event may be broadcast twice under the same key.
 */
export type SeenKeys = Set<EnvelopeFields<EventType>['key']>
