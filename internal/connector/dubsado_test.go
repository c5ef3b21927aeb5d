package connector_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/route"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

// routed reads the events the database emitted since the last call (through slot), keeps those
// of type ty, and routes them with the production rules, keyed as the replication stream would.
func (b *bundle) routed(t *testing.T, slot string, ty event.Type) []route.Routed {
	t.Helper()
	router := route.NewRouter(route.DefaultRules, route.Options{Logger: quietLog})
	var out []route.Routed
	for _, env := range it.Events(t, b.db.Pool, slot, ty) {
		out = append(out, router.Route(event.Event{Key: event.Key{CommitLSN: 0x9000 + keySeq.Add(1)}, Envelope: env}))
	}
	return out
}

// A new inquiry in the hub reaches the Zapier catch hook of the vendor's Dubsado connection as
// a Standard Webhooks-signed POST with the fields of Dubsado's "Create Project" action: the
// committed wedding_vendors insert → its vendor.status_changed event (read from the WAL, routed
// by the production rules) → the hand-off's sinks → a delivery job worked by the outbound
// worker → the catch hook. A replayed hand-off sends nothing more; a later status change is no
// new inquiry; the catch hook never receives the generic outbound events.
func TestDubsadoCreateProjectFedBySignedOutboundEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pool := b.db.Pool
	zap := providerfake.NewZapierCatchHook()
	t.Cleanup(zap.Close)

	conn := it.Connection(t, pool, b.keyring, b.vendor, integration.Dubsado, nil, integration.Credential{Secret: "zap-in"})
	var endpoint string
	require.NoError(t, pool.QueryRow(ctx, `insert into public.webhook_endpoints (vendor_id, url, connection_id, description)
		values ($1, $2, $3, 'Dubsado: Create Project') returning id::text`, b.vendor, zap.HookURL("1234567", "abcdef"), conn).Scan(&endpoint))
	secret, err := outbound.RollSecret(ctx, pool, b.keyring, endpoint, time.Now(), time.Hour)
	require.NoError(t, err)
	zap.SetSecrets(secret)

	var couple string
	require.NoError(t, pool.QueryRow(ctx, `insert into auth.users (id, email, raw_user_meta_data)
		values (gen_random_uuid(), 'ava@example.com', '{"full_name": "Ava Thompson"}') returning id::text`).Scan(&couple))
	wedding := it.Wedding(t, pool, "2026-09-12", "Europe/London")
	it.Couple(t, pool, wedding, couple)
	slot := it.Slot(t, pool)
	wv := it.Connect(t, pool, wedding, b.vendor, "inquiry") // the couple asks the vendor: a new inquiry

	events := b.routed(t, slot, event.VendorStatusChanged)
	require.Len(t, events, 1)
	require.Contains(t, events[0].Integrations, route.IntegrationCRMPush)
	require.Contains(t, events[0].Integrations, route.IntegrationWebhookOutbound)
	b.handOff(t, events...)

	b.eventually(t, func() bool { return len(zap.Catches()) == 1 }, "the catch hook got the project")
	c := zap.Catches()[0]
	require.True(t, c.Verified, "the Standard Webhooks signature checks out under the endpoint's secret: %s", c.Problem)
	require.Equal(t, []string{"1234567", "abcdef"}, []string{c.Account, c.Hook})
	require.Equal(t, outbound.MessageID(events[0].Key), c.Header.Get("webhook-id"), "webhook-id is stable per event")
	require.Equal(t, "application/json", c.Header.Get("Content-Type"))
	var msg dubsado.Message
	require.NoError(t, json.Unmarshal(c.Body, &msg))
	require.Equal(t, dubsado.CreateProjectType, msg.Type)
	require.Equal(t, dubsado.Project{
		Reference: "vendorhub-" + wv, ProjectName: "Wedding 2026-09-12", ProjectStatus: "Lead",
		StartDate: "2026-09-12", EndDate: "2026-09-12",
		ClientFirstName: "Ava", ClientLastName: "Thompson", ClientEmail: "ava@example.com", LeadSource: "vendorhub",
		Notes:     "New enquiry from vendorhub: Ava Thompson for Wedding 2026-09-12 on Saturday 12 September 2026. Reference vendorhub-" + wv + ".",
		WeddingID: wedding, VendorID: b.vendor, TimeZone: "Europe/London",
	}, msg.Data)

	// The delivery is recorded like any outbound one.
	b.eventually(t, func() bool {
		var status string
		_ = pool.QueryRow(ctx, `select status from public.webhook_deliveries where endpoint_id = $1`, endpoint).Scan(&status)
		return status == "succeeded"
	}, "the delivery succeeded")
	var attempts int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from public.webhook_delivery_attempts where endpoint_id = $1 and status_code = $2`,
		endpoint, http.StatusOK).Scan(&attempts))
	require.Equal(t, 1, attempts)

	// A replayed hand-off (crash before the acknowledgement) adds nothing.
	b.handOff(t, events...)
	// A later status change of the same connection is not a new inquiry.
	_, err = pool.Exec(ctx, `update public.wedding_vendors set status = 'proposal' where id = $1`, wv)
	require.NoError(t, err)
	later := b.routed(t, slot, event.VendorStatusChanged)
	require.Len(t, later, 1)
	b.handOff(t, later...)
	var deliveries int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from public.webhook_deliveries where endpoint_id = $1`, endpoint).Scan(&deliveries))
	require.Equal(t, 1, deliveries, "one project per inquiry; the catch hook gets no generic event")
	require.Len(t, zap.Catches(), 1)

	// Another vendor's inquiry does not reach this vendor's catch hook; neither does an
	// inquiry whose couple has no email (Dubsado creates clients by email).
	other := it.Vendor(t, pool, "Other florist", "UTC")
	it.Connect(t, pool, wedding, other, "inquiry")
	noEmail := it.Wedding(t, pool, "2026-10-03", "UTC")
	it.Connect(t, pool, noEmail, b.vendor, "inquiry")
	b.handOff(t, b.routed(t, slot, event.VendorStatusChanged)...)
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from public.webhook_deliveries where endpoint_id = $1`, endpoint).Scan(&deliveries))
	require.Equal(t, 1, deliveries)
}

// An endpoint can only serve a connection of its own vendor.
func TestConnectionEndpointMustBeTheVendorsConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := it.Vendor(t, b.db.Pool, "Someone else", "UTC")
	foreign := it.Connection(t, b.db.Pool, b.keyring, other, integration.Dubsado, nil, integration.Credential{})
	_, err := b.db.Pool.Exec(context.Background(), `insert into public.webhook_endpoints (vendor_id, url, connection_id)
		values ($1, 'https://hooks.zapier.com/hooks/catch/1/2/', $2)`, b.vendor, foreign)
	require.ErrorContains(t, err, "webhook_endpoints_connection_fkey")
}
