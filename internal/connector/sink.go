package connector

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/route"
)

// inboxSources are the webhook_inbox sources whose rows the connectors process.
var inboxSources = []string{"honeybook", "dubsado", "google_calendar", "outlook"}

// Sink is the hand-off sink of the connectors: in the hand-off transaction it inserts an
// InboxArgs job per webhook.received of a connector source and, per new inquiry
// (vendor.status_changed to "inquiry" on a new wedding connection), a PushArgs job for each
// active Light Blue connection of the vendor and a signed outbound delivery of Dubsado's
// "Create Project" fields (dubsado.Project) to the Zapier catch hook of each active Dubsado
// connection of the vendor (its webhook_endpoints row, connection_id = the connection). Jobs
// and deliveries are unique on the event key: a replay inserts nothing.
type Sink struct {
	// Jobs inserts the jobs: the sidecar's River client.
	Jobs Inserter
	// Outbound enqueues the Dubsado deliveries (the outbound webhooks' sink, adapted by the
	// sidecar). Defaults to nil: Dubsado connections are not fed.
	Outbound Outbound
}

// Inserter inserts River jobs inside a transaction; *river.Client[pgx.Tx] is one.
type Inserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Delivery is one signed outbound delivery with a body of the connector's making.
type Delivery struct {
	// EndpointID is the public.webhook_endpoints row to deliver to.
	EndpointID string
	// Event is the event the delivery comes from (its key makes the delivery unique).
	Event event.Event
	// Body is the exact JSON to sign and send.
	Body []byte
}

// Outbound enqueues signed outbound deliveries inside the hand-off transaction.
type Outbound interface {
	Enqueue(ctx context.Context, tx pgx.Tx, deliveries []Delivery) (int, error)
}

// Name implements handoff.Sink.
func (*Sink) Name() string { return "connectors" }

// HandOff implements handoff.Sink. It makes no provider call.
func (s *Sink) HandOff(ctx context.Context, tx pgx.Tx, events []route.Routed) error {
	var params []river.InsertManyParams
	pushVendors := map[string][]int{} // vendor → indexes of inquiry events
	for i := range events {
		ev := &events[i]
		switch {
		case slices.Contains(ev.Integrations, route.IntegrationInboxProcess):
			var d struct {
				InboxID      string  `json:"inbox_id"`
				Source       string  `json:"source"`
				ConnectionID *string `json:"connection_id"`
			}
			if json.Unmarshal(ev.Data, &d) != nil || d.InboxID == "" || d.ConnectionID == nil || !slices.Contains(inboxSources, d.Source) {
				continue
			}
			params = append(params, river.InsertManyParams{Args: InboxArgs{EventKey: ev.Key.String(), InboxID: d.InboxID,
				Source: d.Source, ConnectionID: *d.ConnectionID}})
		case slices.Contains(ev.Integrations, route.IntegrationCRMPush) && ev.Type == event.VendorStatusChanged:
			var d struct {
				Scope     string  `json:"scope"`
				NewStatus string  `json:"new_status"`
				OldStatus *string `json:"old_status"`
				VendorID  string  `json:"vendor_id"`
			}
			if json.Unmarshal(ev.Data, &d) != nil || d.Scope != "connection" || d.NewStatus != "inquiry" || d.OldStatus != nil || d.VendorID == "" {
				continue
			}
			pushVendors[d.VendorID] = append(pushVendors[d.VendorID], i)
		}
	}
	if len(pushVendors) > 0 {
		vendors := make([]string, 0, len(pushVendors))
		for v := range pushVendors {
			vendors = append(vendors, v)
		}
		// text[]::uuid[]: see outbound's enqueueSQL.
		rows, err := tx.Query(ctx, `select c.id::text, c.vendor_id::text, c.kind, coalesce(e.id::text, '')
from public.integration_connections c
left join public.webhook_endpoints e on e.connection_id = c.id and e.enabled
where c.vendor_id = any($1::text[]::uuid[]) and c.status = 'active'
  and (c.kind = 'lightblue' or (c.kind = 'dubsado' and $2 and e.id is not null))`, vendors, s.Outbound != nil)
		if err != nil {
			return err
		}
		type crmConn struct {
			id, vendor, endpoint string
			kind                 integration.Kind
		}
		conns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (crmConn, error) {
			var c crmConn
			return c, r.Scan(&c.id, &c.vendor, &c.kind, &c.endpoint)
		})
		if err != nil {
			return err
		}
		var projects []dubsadoProject
		for _, c := range conns {
			for _, i := range pushVendors[c.vendor] {
				switch c.kind {
				case integration.LightBlue:
					params = append(params, river.InsertManyParams{Args: PushArgs{EventKey: events[i].Key.String(),
						ConnectionID: c.id, WeddingVendorID: events[i].Subject.ID}})
				case integration.Dubsado:
					projects = append(projects, dubsadoProject{endpoint: c.endpoint, event: i})
				}
			}
		}
		if err := s.feedDubsado(ctx, tx, events, projects); err != nil {
			return err
		}
	}
	if len(params) == 0 {
		return nil
	}
	if s.Jobs == nil {
		return errors.New("connector: sink has no River client")
	}
	_, err := s.Jobs.InsertManyTx(ctx, tx, params)
	return err
}

// dubsadoProject is one inquiry event for one Dubsado connection's catch hook.
type dubsadoProject struct {
	endpoint string
	event    int
}

// feedDubsado enqueues, per Dubsado connection and inquiry, the signed delivery of the "Create
// Project" fields to the connection's catch hook. An inquiry without a couple email is skipped
// (Dubsado creates clients by email).
func (s *Sink) feedDubsado(ctx context.Context, tx pgx.Tx, events []route.Routed, projects []dubsadoProject) error {
	if len(projects) == 0 {
		return nil
	}
	ids := make([]string, 0, len(projects))
	for _, p := range projects {
		ids = append(ids, events[p.event].Subject.ID)
	}
	found, err := inquiries(ctx, tx, ids)
	if err != nil {
		return err
	}
	msgs := make([]Delivery, 0, len(projects))
	for _, p := range projects {
		ev := events[p.event]
		in, ok := found[ev.Subject.ID]
		if !ok {
			continue // the wedding connection is gone already
		}
		project, err := dubsado.NewProject(in)
		if errors.Is(err, dubsado.ErrNoClientEmail) {
			continue
		}
		if err != nil {
			return err
		}
		body, err := dubsado.Body(project, ev.OccurredAt)
		if err != nil {
			return err
		}
		msgs = append(msgs, Delivery{EndpointID: p.endpoint, Event: ev.Event, Body: body})
	}
	_, err = s.Outbound.Enqueue(ctx, tx, msgs)
	return err
}
