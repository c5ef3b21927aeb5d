package outbound

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/route"
)

// Inserter inserts River jobs in a transaction: a *river.Client[pgx.Tx].
type Inserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// DeliveryArgs are a delivery job's arguments.
type DeliveryArgs struct {
	// DeliveryID is the public.webhook_deliveries row to send.
	DeliveryID string `json:"delivery_id"`
	// Replay marks a job queued by a replay: it sends even a delivery that succeeded before.
	Replay bool `json:"replay,omitempty"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return Kind }

// Sink turns events routed to "webhook.outbound" into deliveries and delivery jobs.
type Sink struct {
	jobs Inserter
	cfg  Config
}

// NewSink returns a Sink inserting jobs with jobs (the sidecar's River client).
func NewSink(jobs Inserter, cfg Config) *Sink { return &Sink{jobs: jobs, cfg: cfg.WithDefaults()} }

// Name implements handoff.Sink.
func (s *Sink) Name() string { return "webhook.outbound" }

// MessageID is the webhook-id of an event: stable across attempts, replays and endpoints.
func MessageID(k event.Key) string { return "msg_" + strings.ReplaceAll(k.String(), "/", "_") }

// Payload is the Standard Webhooks body vendorhub sends: {type, timestamp, data}.
type Payload struct {
	Type      event.Type `json:"type"`
	Timestamp time.Time  `json:"timestamp"`
	Data      Data       `json:"data"`
}

// Data is the thin event a vendor receives: ids to fetch details with, and the event's data.
type Data struct {
	EventID        string          `json:"event_id"`
	WeddingID      *string         `json:"wedding_id,omitempty"`
	Table          string          `json:"table"`
	ID             string          `json:"id"`
	ConversationID *string         `json:"conversation_id,omitempty"`
	VendorID       *string         `json:"vendor_id,omitempty"`
	Details        json.RawMessage `json:"details,omitempty"`
}

// Body renders ev as the delivery body.
func Body(ev event.Event) ([]byte, error) {
	p := Payload{Type: ev.Type, Timestamp: ev.OccurredAt.UTC(), Data: Data{
		EventID: ev.ID, WeddingID: ev.WeddingID, Table: ev.Subject.Table, ID: ev.Subject.ID,
		ConversationID: ev.Subject.ConversationID, VendorID: ev.Subject.VendorID, Details: ev.Data}}
	if len(p.Data.Details) == 0 || string(p.Data.Details) == "null" {
		p.Data.Details = nil
	}
	return json.Marshal(p)
}

// A delivery is created for each enabled endpoint subscribed to the event's type, of every
// vendor that may read the event's row and, when the event belongs to a wedding, is connected
// to that wedding (public.wedding_vendors, in any status but declined):
//   - the subject's vendor (its own connection, booking, status update);
//   - for messages (no subject vendor), the vendors that are a party to the conversation: a
//     participant is one of their members AND the vendor is connected to the conversation's
//     wedding. A member's other vendors, not connected to that wedding, get nothing: a person
//     working for two vendors does not leak one's client messages to the other's endpoint.
//
// Endpoints of an integration connection (connection_id set) get only what their connector
// enqueues (Enqueue), never the generic events.
//
// Ids travel as text[] cast to uuid[] in SQL: pgx has no binary encoding of Go strings as
// uuid[], and would encode each batch twice (binary, failing, then text), formatting the
// whole array into the discarded error.
const enqueueSQL = `
with ev as (
  select * from unnest($1::text[], $2::text[]::uuid[], $3::text[], $4::timestamptz[], $5::text[]::uuid[], $6::text[], $7::text[], $8::text[], $9::text[]::uuid[])
    as e(key, id, type, occurred_at, vendor_id, participants, message_id, body, wedding_id)
),
targets as (
  select e.key, e.id, e.type, e.occurred_at, e.message_id, e.body, e.wedding_id, e.vendor_id as target
  from ev e where e.vendor_id is not null
  union
  select e.key, e.id, e.type, e.occurred_at, e.message_id, e.body, e.wedding_id, m.vendor_id
  from ev e
  join public.vendor_members m on e.vendor_id is null and e.wedding_id is not null
   and m.user_id::text = any (string_to_array(nullif(e.participants, ''), ','))
)
insert into public.webhook_deliveries (endpoint_id, vendor_id, event_key, event_id, event_type, occurred_at, message_id, body)
select ep.id, ep.vendor_id, t.key, t.id, t.type, t.occurred_at, t.message_id, t.body
from targets t
join public.webhook_endpoints ep on ep.vendor_id = t.target and ep.enabled and ep.connection_id is null
 and (cardinality(ep.event_types) = 0 or t.type = any (ep.event_types))
where t.wedding_id is null
   or exists (select 1 from public.wedding_vendors wv
              where wv.wedding_id = t.wedding_id and wv.vendor_id = t.target and wv.status <> 'declined')
order by t.key, ep.id
on conflict (endpoint_id, event_key) do nothing
returning id`

// HandOff implements handoff.Sink: one delivery row and one job per (event, endpoint), inside
// the hand-off transaction; a replay of the same events adds nothing (ON CONFLICT on the key).
func (s *Sink) HandOff(ctx context.Context, tx pgx.Tx, events []route.Routed) error {
	var keys, ids, types, parts, msgIDs, bodies []string
	var occurred []time.Time
	var vendors, weddings []*string
	for _, ev := range events {
		if !routesOutbound(ev) {
			continue
		}
		body, err := Body(ev.Event)
		if err != nil {
			return fmt.Errorf("outbound: body of %s: %w", ev.Key, err)
		}
		keys = append(keys, ev.Key.String())
		ids = append(ids, ev.ID)
		types = append(types, string(ev.Type))
		occurred = append(occurred, ev.OccurredAt)
		vendors = append(vendors, ev.Subject.VendorID)
		weddings = append(weddings, ev.WeddingID)
		parts = append(parts, strings.Join(ev.Subject.Participants, ","))
		msgIDs = append(msgIDs, MessageID(ev.Key))
		bodies = append(bodies, string(body))
	}
	if len(keys) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, enqueueSQL, keys, ids, types, occurred, vendors, parts, msgIDs, bodies, weddings)
	if err != nil {
		return fmt.Errorf("outbound: create deliveries: %w", err)
	}
	created, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("outbound: create deliveries: %w", err)
	}
	return s.insertJobs(ctx, tx, created)
}

// Message is a delivery whose body the caller shaped: a connector's payload for the endpoint
// of an integration connection (e.g. Dubsado's "Create Project" fields for its Zapier catch
// hook). The Worker signs and sends it like any other delivery.
type Message struct {
	// EndpointID is the public.webhook_endpoints row to deliver to.
	EndpointID string
	// Event is the event the message comes from: its key (webhook-id, idempotency), id, type
	// and time are recorded with the delivery.
	Event event.Event
	// Body is the exact JSON to sign and send.
	Body []byte
}

const enqueueMessagesSQL = `
insert into public.webhook_deliveries (endpoint_id, vendor_id, event_key, event_id, event_type, occurred_at, message_id, body)
select ep.id, ep.vendor_id, m.key, m.id, m.type, m.occurred_at, m.message_id, m.body
from unnest($1::text[]::uuid[], $2::text[], $3::text[]::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
  as m(endpoint_id, key, id, type, occurred_at, message_id, body)
join public.webhook_endpoints ep on ep.id = m.endpoint_id and ep.enabled
order by m.key, ep.id
on conflict (endpoint_id, event_key) do nothing
returning id`

// Enqueue writes one delivery row and one delivery job per message inside tx (the hand-off
// transaction: no HTTP here). A message for an endpoint that already has a delivery of that
// event (a replayed hand-off) or that is disabled adds nothing. It returns the deliveries
// created.
func (s *Sink) Enqueue(ctx context.Context, tx pgx.Tx, msgs []Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	var endpoints, keys, ids, types, msgIDs, bodies []string
	var occurred []time.Time
	for _, m := range msgs {
		if !json.Valid(m.Body) {
			return 0, fmt.Errorf("outbound: body of %s for endpoint %s is not JSON", m.Event.Key, m.EndpointID)
		}
		endpoints = append(endpoints, m.EndpointID)
		keys = append(keys, m.Event.Key.String())
		ids = append(ids, m.Event.ID)
		types = append(types, string(m.Event.Type))
		occurred = append(occurred, m.Event.OccurredAt)
		msgIDs = append(msgIDs, MessageID(m.Event.Key))
		bodies = append(bodies, string(m.Body))
	}
	rows, err := tx.Query(ctx, enqueueMessagesSQL, endpoints, keys, ids, types, occurred, msgIDs, bodies)
	if err != nil {
		return 0, fmt.Errorf("outbound: create deliveries: %w", err)
	}
	created, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("outbound: create deliveries: %w", err)
	}
	return len(created), s.insertJobs(ctx, tx, created)
}

// insertJobs inserts one delivery job per created delivery.
func (s *Sink) insertJobs(ctx context.Context, tx pgx.Tx, created []string) error {
	if len(created) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(created))
	for i, id := range created {
		params[i] = river.InsertManyParams{Args: DeliveryArgs{DeliveryID: id},
			InsertOpts: &river.InsertOpts{Queue: s.cfg.Queue, MaxAttempts: s.cfg.MaxAttempts()}}
	}
	if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("outbound: insert delivery jobs: %w", err)
	}
	return nil
}

func routesOutbound(ev route.Routed) bool {
	for _, in := range ev.Integrations {
		if in == route.IntegrationWebhookOutbound {
			return true
		}
	}
	return false
}
