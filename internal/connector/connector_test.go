package connector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/calendar/google"
	"github.com/wedsync/vendorhub/internal/calendar/ical"
	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/connector"
	"github.com/wedsync/vendorhub/internal/crm"
	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/crm/honeybook"
	"github.com/wedsync/vendorhub/internal/crm/lightblue"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/oauth"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/route"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	db      *pgtest.DB
	keyring *secret.Keyring
	google  *providerfake.GoogleCalendar
	graph   *providerfake.Graph
	lb      *providerfake.LightBlue
	ingress *httptest.Server
	conns   *connector.Connectors
	river   *river.Client[pgx.Tx]
	vendor  string
	now     atomic.Pointer[time.Time]
	// outboundCfg configures the outbound worker and the sink the hand-off feeds Dubsado with.
	outboundCfg outbound.Config
}

// setup wires every real part — token refresher, sources, the webhook ingress on a loopback
// server as the public URL, the CRM processor, Light Blue client, the outbound webhook worker —
// and starts a River client working the connector queues and the outbound queue. Only the
// providers are fakes. opts adjust the connectors' config.
func setup(t *testing.T, opts ...func(*connector.Config)) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	b := &bundle{db: db, keyring: it.Keyring(t), google: providerfake.NewGoogleCalendar(), graph: providerfake.NewGraph(), lb: providerfake.NewLightBlue()}
	t.Cleanup(b.google.Close)
	t.Cleanup(b.graph.Close)
	t.Cleanup(b.lb.Close)
	start := time.Now()
	b.now.Store(&start)
	now := func() time.Time { return *b.now.Load() }

	auditBuf := audit.NewBuffer(db.Pool, audit.BufferConfig{})
	t.Cleanup(auditBuf.Close)
	h, err := webhook.New(db.Pool, b.keyring, auditBuf, webhook.Config{})
	require.NoError(t, err)
	t.Cleanup(h.Close)
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}/{connection}", h)
	b.ingress = httptest.NewServer(mux)
	t.Cleanup(b.ingress.Close)

	limits := integration.NewLimits(nil)
	tokens := &oauth.Refresher{Pool: db.Pool, Keyring: b.keyring, Limits: limits, Providers: map[integration.Kind]*oauth2.Config{
		integration.GoogleCalendar: {ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: b.google.TokenURL()}},
		integration.Outlook:        {ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: b.graph.TokenURL()}},
	}}
	creds := integration.CredentialStore{Keyring: b.keyring, DB: db.Pool}
	feeds := ical.NewHTTPClient(true, 2*time.Second) // the fakes listen on loopback
	gsrc := &google.Source{Endpoint: b.google.Endpoint(), Tokens: tokens, Limits: limits, Timeout: 2 * time.Second}
	osrc := &outlook.Source{BaseURL: b.graph.BaseURL(), Tokens: tokens, Limits: limits, Timeout: 2 * time.Second}
	cfg := connector.Config{
		Pool: db.Pool, Keyring: b.keyring, Tokens: tokens, Google: gsrc, Outlook: osrc, PublicURL: b.ingress.URL, Now: now,
		Syncer: &calendar.Syncer{Pool: db.Pool, Sources: map[integration.Kind]calendar.Source{
			integration.GoogleCalendar: gsrc, integration.Outlook: osrc,
			integration.ICal:      &ical.Source{Credentials: creds, Limits: limits, Timeout: 2 * time.Second, HTTPClient: feeds},
			integration.LightBlue: &ical.Source{Provider: "lightblue", Credentials: creds, Limits: limits, Timeout: 2 * time.Second, HTTPClient: feeds},
		}},
		CRM:       &crm.Processor{Pool: db.Pool, Mappers: map[string]crm.Mapper{"honeybook": honeybook.Mapper{}, "dubsado": dubsado.Mapper{}}},
		LightBlue: &lightblue.Client{URL: b.lb.APIURL(), Limits: limits, HTTPClient: netguard.New(netguard.Options{AllowPrivate: true})},
	}
	for _, o := range opts {
		o(&cfg)
	}
	b.conns, err = connector.New(cfg)
	require.NoError(t, err)
	workers := river.NewWorkers()
	b.conns.AddWorkers(workers)
	b.outboundCfg = outbound.Config{AllowPrivateNetworks: true, Timeout: 5 * time.Second}
	river.AddWorker(workers, outbound.NewWorker(db.Pool, b.keyring, b.outboundCfg))
	queues := map[string]river.QueueConfig{outbound.QueueDefault: {MaxWorkers: 2}}
	for _, q := range connector.Queues {
		queues[q] = river.QueueConfig{MaxWorkers: 2}
	}
	b.river, err = jobs.NewClient(db.Pool, jobs.Config{Workers: workers, Queues: queues})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, b.river.Start(ctx))
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = b.river.Stop(sctx)
		cancel()
	})
	b.vendor = it.Vendor(t, db.Pool, "Vendor", "UTC")
	return b
}

func (b *bundle) insert(t *testing.T, args river.JobArgs) {
	t.Helper()
	_, err := b.river.Insert(context.Background(), args, nil)
	require.NoError(t, err)
}

func (b *bundle) runStatus(t *testing.T, conn string) []string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `select status from public.sync_runs where connection_id = $1 order by id`, conn)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func (b *bundle) eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 20*time.Second, 20*time.Millisecond, msg)
}

type jobState struct {
	State       string
	ScheduledAt time.Time
}

func (b *bundle) job(t *testing.T, kind, conn string) jobState {
	t.Helper()
	var s jobState
	err := b.db.Pool.QueryRow(context.Background(), `select state::text, scheduled_at from river.river_job
where kind = $1 and args->>'connection_id' = $2 order by id desc limit 1`, kind, conn).Scan(&s.State, &s.ScheduledAt)
	require.NoError(t, err)
	return s
}

func (b *bundle) completed(t *testing.T, kind, conn string) {
	t.Helper()
	b.eventually(t, func() bool { return b.job(t, kind, conn).State == "completed" }, kind+" completed")
}

func (b *bundle) googleConn(t *testing.T) string {
	return it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.GoogleCalendar, nil,
		integration.Credential{RefreshToken: b.google.Tokens.IssueRefreshToken()})
}

func (b *bundle) graphConn(t *testing.T) string {
	return it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.Outlook, nil,
		integration.Credential{RefreshToken: b.graph.Tokens.IssueRefreshToken()})
}

func TestFailingProviderNeverBlocksOthers(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			day := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
			// Google fails every request (429 with Retry-After, or 500), and also answers slowly.
			b.google.Always(providerfake.Fault{Status: status, RetryAfter: time.Minute, Delay: 200 * time.Millisecond})
			b.graph.Put(providerfake.GraphEvent{ID: "o1", Start: day, End: day.Add(time.Hour)})
			feed := b.lb.SetFeed("f", "", "", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:i1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260601T100000Z\r\nDTEND:20260601T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
			googleConns := []string{b.googleConn(t), b.googleConn(t), b.googleConn(t)}
			graph := b.graphConn(t)
			icalConn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.ICal, map[string]any{"feed_url": feed}, integration.Credential{})
			for _, g := range googleConns {
				b.insert(t, connector.SyncArgs{ConnectionID: g, ConnKind: integration.GoogleCalendar})
			}
			b.insert(t, connector.SyncArgs{ConnectionID: graph, ConnKind: integration.Outlook})
			b.insert(t, connector.SyncArgs{ConnectionID: icalConn, ConnKind: integration.ICal})

			b.eventually(t, func() bool {
				return len(b.runStatus(t, graph)) == 1 && len(b.runStatus(t, icalConn)) == 1
			}, "Outlook and iCal sync while Google fails")
			require.Equal(t, []string{"ok"}, b.runStatus(t, graph))
			require.Equal(t, []string{"ok"}, b.runStatus(t, icalConn))
			b.eventually(t, func() bool {
				for _, g := range googleConns {
					if b.job(t, "calendar.sync", g).State != "scheduled" {
						return false
					}
				}
				return true
			}, "Google jobs are snoozed, not holding workers")
			for _, g := range googleConns {
				j := b.job(t, "calendar.sync", g)
				require.True(t, j.ScheduledAt.After(time.Now().Add(time.Second)), "snoozed into the future: %v", j.ScheduledAt)
				require.Equal(t, []string{"failed"}, b.runStatus(t, g))
			}
			if status == http.StatusTooManyRequests {
				j := b.job(t, "calendar.sync", googleConns[0])
				require.True(t, j.ScheduledAt.After(time.Now().Add(50*time.Second)), "Retry-After honoured: %v", j.ScheduledAt)
			}
		})
	}
}

// handOff runs the sinks the sidecar registers for these events — the generic outbound
// webhooks sink and the connectors' sink — in one transaction, as the replication hand-off does.
func (b *bundle) handOff(t *testing.T, events ...route.Routed) {
	t.Helper()
	out := outbound.NewSink(b.river, b.outboundCfg)
	sink := &connector.Sink{Jobs: b.river, Outbound: outboundFeed{out}}
	require.NoError(t, pgx.BeginFunc(context.Background(), b.db.Pool, func(tx pgx.Tx) error {
		if err := out.HandOff(context.Background(), tx, events); err != nil {
			return err
		}
		return sink.HandOff(context.Background(), tx, events)
	}))
}

var keySeq atomic.Uint64

// received turns the newest inbox row of a connection into the routed webhook.received event
// the pipeline would hand off.
func (b *bundle) received(t *testing.T, conn string) route.Routed {
	t.Helper()
	var id, source string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select id::text, source from vendorhub.webhook_inbox
where connection_id = $1 order by received_at desc limit 1`, conn).Scan(&id, &source))
	data, _ := json.Marshal(map[string]any{"inbox_id": id, "source": source, "connection_id": conn})
	return route.Routed{Event: event.Event{Key: event.Key{CommitLSN: 0x1000 + keySeq.Add(1)},
		Envelope: event.Envelope{Type: event.WebhookReceived, Data: data}}, Integrations: []string{route.IntegrationInboxProcess}}
}

func TestGoogleWatchChannelRenewalAndPush(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	conn := b.googleConn(t)
	b.insert(t, connector.RenewArgs{ConnectionID: conn, ConnKind: integration.GoogleCalendar})
	b.eventually(t, func() bool { return len(b.google.Channels()) == 1 }, "a channel is opened")
	first := b.google.Channels()[0]
	require.Equal(t, b.ingress.URL+"/webhooks/google-calendar/"+conn, first.Address)
	require.WithinDuration(t, time.Now().Add(connector.ChannelTTLDefault), first.Expiration, time.Minute)
	cred, err := integration.ReadCredential(ctx, b.keyring, b.db.Pool, conn)
	require.NoError(t, err)
	require.Equal(t, cred.Secret, first.Token, "the channel token is the connection's sealed secret")

	// A change is pushed: the ingress verifies the token and stores it; the hand-off enqueues
	// the inbox job, which enqueues the sync.
	b.google.Put("primary", providerfake.GoogleEvent{ID: "g1", Start: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)})
	status, err := b.google.Notify(ctx, first.ID, "exists")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	b.handOff(t, b.received(t, conn))
	b.eventually(t, func() bool { return len(b.runStatus(t, conn)) == 1 }, "the push leads to a sync")
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from public.availability_blocks where connection_id = $1`, conn).Scan(&n))
	require.Equal(t, 1, n)

	// Not yet due: nothing happens. Within a day of expiry: a new channel, the old one stopped.
	due, err := b.conns.Due(ctx, b.db.Pool)
	require.NoError(t, err)
	for _, p := range due {
		if r, ok := p.Args.(connector.RenewArgs); ok {
			require.NotEqual(t, conn, r.ConnectionID, "a fresh channel is not due for renewal")
		}
	}
	b.completed(t, "calendar.renew", conn)
	later := first.Expiration.Add(-time.Hour)
	b.now.Store(&later)
	b.insert(t, connector.RenewArgs{ConnectionID: conn, ConnKind: integration.GoogleCalendar})
	b.eventually(t, func() bool { return len(b.google.Channels()) == 2 }, "renewed before expiry")
	chans := b.google.Channels()
	b.eventually(t, func() bool {
		for _, c := range b.google.Channels() {
			if c.ID == first.ID {
				return c.Stopped
			}
		}
		return false
	}, "the old channel is stopped")
	require.Equal(t, 2, len(chans))
	var stored string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select channel_id from vendorhub.calendar_sync where connection_id = $1`, conn).Scan(&stored))
	require.NotEqual(t, first.ID, stored)
}

func TestOutlookSubscriptionValidationRenewalAndLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	conn := b.graphConn(t)
	b.insert(t, connector.RenewArgs{ConnectionID: conn, ConnKind: integration.Outlook})
	b.eventually(t, func() bool { return len(b.graph.Subscriptions()) == 1 }, "subscribed, after the ingress answered the validation handshake")
	sub := b.graph.Subscriptions()[0]
	require.Equal(t, b.ingress.URL+"/webhooks/outlook/"+conn, sub.NotificationURL)
	require.Equal(t, sub.NotificationURL, sub.LifecycleNotificationURL)
	require.Equal(t, "me/events", sub.Resource)
	require.WithinDuration(t, time.Now().Add(connector.SubscriptionTTLDefault), sub.Expiration, time.Minute)

	// Renewal when it expires within a day: PATCH, same subscription.
	b.completed(t, "calendar.renew", conn) // a renewal inserted while one runs is absorbed
	later := sub.Expiration.Add(-2 * time.Hour)
	b.now.Store(&later)
	b.graph.SetMaxLifetime(20 * 24 * time.Hour) // the fake's clock is real time; the test's is ahead
	b.insert(t, connector.RenewArgs{ConnectionID: conn, ConnKind: integration.Outlook})
	b.eventually(t, func() bool { return b.graph.Subscriptions()[0].Renewed == 1 }, "renewed")
	require.Len(t, b.graph.Subscriptions(), 1)

	// reauthorizationRequired → reauthorize.
	status, err := b.graph.Lifecycle(ctx, sub.ID, "reauthorizationRequired")
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	b.handOff(t, b.received(t, conn))
	b.eventually(t, func() bool { return b.graph.Subscriptions()[0].Reauthorized == 1 }, "reauthorized")

	// subscriptionRemoved → a new subscription and a resync.
	_, err = b.graph.Lifecycle(ctx, sub.ID, "subscriptionRemoved")
	require.NoError(t, err)
	b.handOff(t, b.received(t, conn))
	b.eventually(t, func() bool { s := b.graph.Subscriptions(); return len(s) == 1 && s[0].ID != sub.ID }, "recreated")
	b.eventually(t, func() bool { return len(b.runStatus(t, conn)) == 1 }, "resynced after the gap")

	// A change notification with a wrong clientState is refused by the ingress.
	forged := b.graph.Subscriptions()[0]
	req, _ := http.NewRequest(http.MethodPost, forged.NotificationURL, jsonBody(t, map[string]any{"value": []map[string]any{{
		"subscriptionId": forged.ID, "clientState": "forged", "changeType": "updated", "resource": "me/events/x"}}}))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestLightBlueEnquiryPush(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.lb.AddAPIKey("lb-key-1")
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.LightBlue, nil, integration.Credential{APIKey: "lb-key-1"})
	couple := it.User(t, b.db.Pool, "ava@example.com")
	wedding := it.Wedding(t, b.db.Pool, "2026-09-12", "UTC")
	it.Couple(t, b.db.Pool, wedding, couple)
	wv := it.Connect(t, b.db.Pool, wedding, b.vendor, "inquiry")

	inquiry := func(key uint64) route.Routed {
		data, _ := json.Marshal(map[string]any{"scope": "connection", "vendor_id": b.vendor, "new_status": "inquiry", "old_status": nil})
		return route.Routed{Event: event.Event{Key: event.Key{CommitLSN: key}, Envelope: event.Envelope{Type: event.VendorStatusChanged,
			Subject: event.Subject{Table: "wedding_vendors", ID: wv}, Data: data}}, Integrations: []string{route.IntegrationCRMPush}}
	}
	b.handOff(t, inquiry(0x5000))
	b.handOff(t, inquiry(0x5000)) // a replayed hand-off: no second job
	b.eventually(t, func() bool { return len(b.lb.Enquiries()) == 1 }, "pushed")
	e := b.lb.Enquiries()[0]
	require.Equal(t, "contact form", e.Fields.Get("type"))
	require.Equal(t, "vendorhub-"+wv, e.Fields.Get("Reference"))
	require.Equal(t, "ava@example.com", e.Fields.Get("ContactEmail"))
	require.Equal(t, "2026-09-12", e.Fields.Get("ShootDate"))
	var jobsN int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from river.river_job where kind = 'crm.push'`).Scan(&jobsN))
	require.Equal(t, 1, jobsN)

	// Another event for the same connection (a re-sent inquiry): Light Blue answers -4, absorbed.
	b.handOff(t, inquiry(0x5001))
	b.eventually(t, func() bool { return len(b.runStatus(t, conn)) == 2 }, "second push recorded")
	require.Len(t, b.lb.Enquiries(), 1)
	var skipped int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select skipped from public.sync_runs where connection_id = $1 order by id desc limit 1`, conn).Scan(&skipped))
	require.Equal(t, 1, skipped)

	// 429: snoozed (Retry-After), then delivered.
	b.lb.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	wedding2 := it.Wedding(t, b.db.Pool, "2026-10-03", "UTC")
	wv = it.Connect(t, b.db.Pool, wedding2, b.vendor, "inquiry")
	b.handOff(t, inquiry(0x5003))
	b.eventually(t, func() bool { return len(b.lb.Enquiries()) == 2 }, "delivered after the snooze")
	require.Equal(t, "vendorhub-"+wv, b.lb.Enquiries()[1].Fields.Get("Reference"))

	// A refused API key: the connection is put in error and the vendor notified; no retry.
	_, err := b.db.Pool.Exec(ctx, `update public.integration_connections set status = 'disabled' where id = $1`, conn)
	require.NoError(t, err)
	slot := it.Slot(t, b.db.Pool)
	bad := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.LightBlue, nil, integration.Credential{APIKey: "revoked-key"})
	b.handOff(t, inquiry(0x5004))
	b.eventually(t, func() bool {
		var status string
		_ = b.db.Pool.QueryRow(ctx, `select status from public.integration_connections where id = $1`, bad).Scan(&status)
		return status == "error"
	}, "a refused API key puts the connection in error")
	evs := it.Events(t, b.db.Pool, slot, event.IntegrationFailed)
	require.Len(t, evs, 1)
	require.Equal(t, b.vendor, *evs[0].Subject.VendorID)
	b.eventually(t, func() bool { return b.job(t, "crm.push", bad).State == "cancelled" }, "the push is cancelled, not retried")
}

func TestScheduleDueFindsStaleWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	fresh := b.graphConn(t)
	_, err := b.db.Pool.Exec(ctx, `update public.integration_connections set last_sync_at = now() where id = $1`, fresh)
	require.NoError(t, err)
	stale := b.graphConn(t)
	_, err = b.db.Pool.Exec(ctx, `update public.integration_connections set last_sync_at = now() - interval '1 hour' where id = $1`, stale)
	require.NoError(t, err)
	feedless := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.LightBlue, nil, integration.Credential{APIKey: "k"})
	disabled := b.googleConn(t)
	_, err = b.db.Pool.Exec(ctx, `update public.integration_connections set status = 'needs_reauth' where id = $1`, disabled)
	require.NoError(t, err)

	due, err := b.conns.Due(ctx, b.db.Pool)
	require.NoError(t, err)
	syncs := map[string]bool{}
	for _, p := range due {
		if s, ok := p.Args.(connector.SyncArgs); ok {
			syncs[s.ConnectionID] = true
		}
	}
	require.True(t, syncs[stale])
	require.False(t, syncs[fresh])
	require.False(t, syncs[feedless], "a push-only Light Blue connection has no feed to poll")
	require.False(t, syncs[disabled])
}

func jsonBody(t *testing.T, v any) *bytes.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return bytes.NewReader(b)
}

func TestZapierBridgeThroughTheIngress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	couple := it.User(t, b.db.Pool, "ava@example.com")
	wedding := it.Wedding(t, b.db.Pool, "2026-09-12", "UTC")
	it.Couple(t, b.db.Pool, wedding, couple)
	it.Connect(t, b.db.Pool, wedding, b.vendor, "proposal")
	conn := it.Connection(t, b.db.Pool, b.keyring, b.vendor, integration.Dubsado, nil, integration.Credential{Secret: "zap-secret"})
	zap := &providerfake.ZapierBridge{Target: b.ingress.URL + "/webhooks/dubsado/" + conn, Header: http.Header{webhook.ZapierSecretHeader: {"zap-secret"}}}
	job := map[string]any{"trigger": "New Project as Job", "project_id": "ds-1", "project_name": "Thompson / Patel",
		"start_date": "2026-09-12T13:00:00", "end_date": "2026-09-12T22:00:00", "client_email": "ava@example.com"}

	status, _, err := zap.Send(ctx, job)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	b.handOff(t, b.received(t, conn))
	b.eventually(t, func() bool {
		var s string
		_ = b.db.Pool.QueryRow(ctx, `select status from public.wedding_vendors where wedding_id = $1 and vendor_id = $2`, wedding, b.vendor).Scan(&s)
		return s == "booked"
	}, "the Zap's trigger books the vendor")

	// Zapier retries the same delivery: the ingress absorbs it (same body, same event id).
	status, _, err = zap.Send(ctx, job)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	var inbox int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select count(*) from vendorhub.webhook_inbox where connection_id = $1`, conn).Scan(&inbox))
	require.Equal(t, 1, inbox)

	// A wrong secret never reaches the inbox.
	bad := &providerfake.ZapierBridge{Target: zap.Target, Header: http.Header{webhook.ZapierSecretHeader: {"guess"}}}
	status, _, err = bad.Send(ctx, map[string]any{"trigger": "New Project as Lead", "project_id": "ds-2"})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, status)
}

// outboundFeed adapts the outbound sink to connector.Outbound, as the sidecar does.
type outboundFeed struct{ out *outbound.Sink }

func (f outboundFeed) Enqueue(ctx context.Context, tx pgx.Tx, ds []connector.Delivery) (int, error) {
	msgs := make([]outbound.Message, len(ds))
	for i, d := range ds {
		msgs[i] = outbound.Message{EndpointID: d.EndpointID, Event: d.Event, Body: d.Body}
	}
	return f.out.Enqueue(ctx, tx, msgs)
}
