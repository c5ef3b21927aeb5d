package outbound_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/route"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

const (
	envChildDB   = "VENDORHUB_OUTBOUND_CHILD_DB"
	envChildKeys = "VENDORHUB_OUTBOUND_CHILD_KEYS"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envChildDB); url != "" {
		os.Exit(runChild(url, os.Getenv(envChildKeys)))
	}
	pgtest.Main(m)
}

var keySpec = "o1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))

// clock is a controllable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now implements rivertype.TimeGenerator.
func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// NowOrNil implements rivertype.TimeGenerator: the time is always stubbed.
func (c *clock) NowOrNil() *time.Time { t := c.Now(); return &t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type testBundle struct {
	db       *pgtest.DB
	keyring  *secret.Keyring
	vendor   string
	wedding  string // a wedding vendor is connected to (booked)
	member   string // a user who owns vendor (outbound webhooks are owner-only)
	endpoint string
	receiver *providerfake.WebhookReceiver
	clock    *clock
	cfg      outbound.Config
	sink     *outbound.Sink
	lsn      atomic.Uint64
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	k, err := secret.ParseKeyring(keySpec)
	require.NoError(t, err)
	b := &testBundle{db: db, keyring: k, clock: &clock{t: time.Now().Truncate(time.Microsecond)}}
	b.lsn.Store(0x16B3748)
	b.member = uuid.NewString()
	_, err = db.Pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'member@florist.test')`, b.member)
	require.NoError(t, err)
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Hook Florist', 'florist') returning id`).Scan(&b.vendor))
	_, err = db.Pool.Exec(ctx, `insert into public.vendor_members (vendor_id, user_id, role) values ($1, $2, 'owner')`, b.vendor, b.member)
	require.NoError(t, err)
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.weddings (title, wedding_date) values ('Hook wedding', '2027-06-12') returning id`).Scan(&b.wedding))
	_, err = db.Pool.Exec(ctx, `insert into public.wedding_vendors (wedding_id, vendor_id, status) values ($1, $2, 'booked')`, b.wedding, b.vendor)
	require.NoError(t, err)

	b.receiver = providerfake.NewWebhookReceiver()
	b.receiver.SetClock(b.clock.Now)
	t.Cleanup(b.receiver.Close)
	b.endpoint = b.addEndpoint(t, b.receiver.URL()+"/hooks/vendorhub", "vendor.status_changed", "message.created")
	b.cfg = outbound.Config{AllowPrivateNetworks: true, Now: b.clock.Now, Timeout: 5 * time.Second}
	b.sink = outbound.NewSink(nil, b.cfg)
	return b
}

// addEndpoint registers an endpoint and gives the receiver its secret.
func (b *testBundle) addEndpoint(t *testing.T, url string, types ...string) string {
	t.Helper()
	ctx := context.Background()
	var id string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `insert into public.webhook_endpoints (vendor_id, url, event_types) values ($1, $2, $3) returning id`,
		b.vendor, url, types).Scan(&id))
	s, err := outbound.RollSecret(ctx, b.db.Pool, b.keyring, id, b.clock.Now(), time.Hour)
	require.NoError(t, err)
	b.receiver.SetSecrets(s)
	return id
}

func (b *testBundle) statusChanged() route.Routed {
	v := b.vendor
	key := event.Key{CommitLSN: b.lsn.Add(0x100), Index: 0}
	return route.Routed{
		Event: event.Event{Key: key, Envelope: event.Envelope{ID: uuid.NewString(), Type: event.VendorStatusChanged,
			OccurredAt: b.clock.Now(), Subject: event.Subject{Table: "wedding_vendors", ID: uuid.NewString(), VendorID: &v},
			Data: json.RawMessage(`{"old_status":"inquiry","new_status":"booked"}`)}},
		Integrations: []string{route.IntegrationWebhookOutbound, route.IntegrationCRMPush},
	}
}

// messageCreated is a message in a conversation of the bundle's wedding.
func (b *testBundle) messageCreated(participants ...string) route.Routed {
	conv := uuid.NewString()
	w := b.wedding
	key := event.Key{CommitLSN: b.lsn.Add(0x100), Index: 1}
	return route.Routed{
		Event: event.Event{Key: key, Envelope: event.Envelope{ID: uuid.NewString(), Type: event.MessageCreated,
			OccurredAt: b.clock.Now(), WeddingID: &w, Subject: event.Subject{Table: "messages", ID: uuid.NewString(), ConversationID: &conv, Participants: participants}}},
		Integrations: []string{route.IntegrationWebhookOutbound},
	}
}

// handOff runs the sink in one committed transaction, as the durable hand-off does.
func (b *testBundle) handOff(t *testing.T, client *river.Client[pgx.Tx], events ...route.Routed) {
	t.Helper()
	ctx := context.Background()
	sink := outbound.NewSink(client, b.cfg)
	require.NoError(t, pgx.BeginFunc(ctx, b.db.Pool, func(tx pgx.Tx) error { return sink.HandOff(ctx, tx, events) }))
}

func (b *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func riverConfig(workers *river.Workers, tm rivertype.TimeGenerator) *river.Config {
	return &river.Config{Schema: "river", Workers: workers, Queues: map[string]river.QueueConfig{outbound.QueueDefault: {MaxWorkers: 4}},
		FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond, Test: river.TestConfig{Time: tm},
		Logger: slog.New(slog.DiscardHandler)}
}

// startClient works delivery jobs on the bundle's database until the test ends.
func (b *testBundle) startClient(t *testing.T, cfg outbound.Config) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, outbound.NewWorker(b.db.Pool, b.keyring, cfg))
	client, err := river.NewClient(riverpgxv5.New(b.db.Pool), riverConfig(workers, nil))
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	return client
}

func (b *testBundle) waitHandled(t *testing.T, n int) []providerfake.ReceivedWebhook {
	t.Helper()
	require.Eventually(t, func() bool { return len(b.receiver.Received()) >= n }, 30*time.Second, 20*time.Millisecond)
	return b.receiver.Received()
}

func TestDeliverySignedAndRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	client := b.startClient(t, b.cfg)

	status := b.statusChanged()
	msg := b.messageCreated(uuid.NewString(), b.member) // the vendor's member takes part
	other := b.messageCreated(uuid.NewString())         // no member of the vendor: no delivery
	booking := b.statusChanged()
	booking.Type = event.BookingUpdated // the endpoint is not subscribed to it
	b.handOff(t, client, status, msg, other, booking)

	got := b.waitHandled(t, 2)
	require.Len(t, got, 2)
	ids := map[string]bool{}
	for _, w := range got {
		require.True(t, w.Verified, "the receiver's own verifier accepts the signature: %s", w.Problem)
		require.Equal(t, http.StatusOK, w.Status)
		ids[w.ID] = true
		var p outbound.Payload
		require.NoError(t, json.Unmarshal(w.Body, &p))
		require.Contains(t, []event.Type{event.VendorStatusChanged, event.MessageCreated}, p.Type)
	}
	require.True(t, ids[outbound.MessageID(status.Key)])
	require.True(t, ids[outbound.MessageID(msg.Key)])

	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_deliveries where status = 'succeeded'`) == 2
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 2, b.count(t, `select count(*) from public.webhook_delivery_attempts where outcome = 'succeeded' and status_code = 200 and attempt = 1`))

	// The hand-off of the same events again (a WAL replay after a crash) adds nothing.
	b.handOff(t, client, status, msg, other, booking)
	require.Equal(t, 2, b.count(t, `select count(*) from public.webhook_deliveries`))
	require.Equal(t, 2, b.count(t, `select count(*) from river.river_job where kind = $1`, outbound.Kind))

	// Deliveries and attempts are visible to the vendor's owners, per endpoint, and to no one else.
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	require.NoError(t, pgtest.AsUser(ctx, tx, b.member))
	var seen int
	require.NoError(t, tx.QueryRow(ctx, `select count(*) from public.webhook_delivery_attempts a join public.webhook_deliveries d on d.id = a.delivery_id
		where d.endpoint_id = $1`, b.endpoint).Scan(&seen))
	require.Equal(t, 2, seen)
	require.NoError(t, tx.Rollback(ctx))
	tx2, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx2.Rollback(ctx) //nolint:errcheck
	require.NoError(t, pgtest.AsUser(ctx, tx2, uuid.NewString()))
	require.NoError(t, tx2.QueryRow(ctx, `select count(*) from public.webhook_deliveries`).Scan(&seen))
	require.Zero(t, seen)
}

// The retry schedule, worked attempt by attempt with a controllable clock: every failure
// schedules the next attempt at clock + Svix's delay; the 8th failure ends the delivery.
func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.receiver.Always(providerfake.Fault{Status: http.StatusInternalServerError})
	b.handOff(t, riverInsertOnly(t, b), b.statusChanged())

	worker := outbound.NewWorker(b.db.Pool, b.keyring, b.cfg)
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), riverConfig(river.NewWorkers(), b.clock), worker)
	var job *rivertype.JobRow
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	require.NoError(t, tx.QueryRow(ctx, `select id from river.river_job where kind = $1`, outbound.Kind).Scan(new(int64)))
	job = loadJob(t, tx)

	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for attempt := 1; attempt <= 8; attempt++ {
		res, err := tw.WorkJob(ctx, t, tx, job)
		require.Error(t, err)
		job = res.Job
		require.Equal(t, attempt, job.Attempt)
		if attempt < 8 {
			require.Equal(t, river.EventKindJobFailed, res.EventKind)
			require.WithinDuration(t, b.clock.Now().Add(want[attempt-1]), job.ScheduledAt, time.Millisecond,
				"attempt %d: next attempt after %s", attempt, want[attempt-1])
			b.clock.Add(want[attempt-1]) // time passes until the next attempt
		} else {
			require.Equal(t, rivertype.JobStateDiscarded, job.State)
		}
	}
	got := b.receiver.Received()
	require.Len(t, got, 8)
	for i, w := range got {
		require.True(t, w.Verified, "attempt %d signed with a fresh timestamp", i+1)
		require.Equal(t, got[0].ID, w.ID, "the webhook-id never changes")
	}
	require.Equal(t, 8, b.count(t, `select count(*) from public.webhook_delivery_attempts where outcome = 'failed' and status_code = 500`))
	var status string
	var attempts int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select status, attempts from public.webhook_deliveries`).Scan(&status, &attempts))
	require.Equal(t, "failed", status)
	require.Equal(t, 8, attempts)
	// 27 h 35 min of failures: not yet the 5 days that disable an endpoint.
	var enabled bool
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select enabled from public.webhook_endpoints where id = $1`, b.endpoint).Scan(&enabled))
	require.True(t, enabled)
}

func loadJob(t *testing.T, tx pgx.Tx) *rivertype.JobRow {
	t.Helper()
	var j rivertype.JobRow
	var args []byte
	require.NoError(t, tx.QueryRow(context.Background(), `select id, kind, args, max_attempts, attempt, queue from river.river_job where kind = $1`,
		outbound.Kind).Scan(&j.ID, &j.Kind, &args, &j.MaxAttempts, &j.Attempt, &j.Queue))
	j.EncodedArgs = args
	j.State = rivertype.JobStateAvailable
	return &j
}

func riverInsertOnly(t *testing.T, b *testBundle) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, outbound.NewWorker(b.db.Pool, b.keyring, b.cfg))
	c, err := river.NewClient(riverpgxv5.New(b.db.Pool), &river.Config{Schema: "river", Workers: workers})
	require.NoError(t, err)
	return c
}

func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.receiver.Push(providerfake.Fault{Status: http.StatusGone})
	client := b.startClient(t, b.cfg)
	b.handOff(t, client, b.statusChanged())
	b.waitHandled(t, 1)
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_endpoints where id = $1 and not enabled and disabled_reason like '%410%'`, b.endpoint) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, b.count(t, `select count(*) from vendorhub.audit_log where action = 'endpoint.disabled' and subject = $1`, "webhook_endpoint:"+b.endpoint))
	require.Equal(t, 1, b.count(t, `select count(*) from public.webhook_delivery_attempts where outcome = 'gone'`))
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from river.river_job where kind = $1 and state = 'cancelled'`, outbound.Kind) == 1
	}, 10*time.Second, 20*time.Millisecond)

	// A disabled endpoint gets no new deliveries.
	b.handOff(t, client, b.statusChanged())
	require.Equal(t, 1, b.count(t, `select count(*) from public.webhook_deliveries`))
	// Re-enabling clears the disabled state (trigger).
	_, err := b.db.Pool.Exec(ctx, `update public.webhook_endpoints set enabled = true where id = $1`, b.endpoint)
	require.NoError(t, err)
	require.Equal(t, 1, b.count(t, `select count(*) from public.webhook_endpoints where id = $1 and disabled_at is null and failing_since is null`, b.endpoint))
}

func TestFailingForFiveDaysDisablesEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.receiver.Always(providerfake.Fault{Status: http.StatusServiceUnavailable})
	worker := outbound.NewWorker(b.db.Pool, b.keyring, b.cfg)
	ctx := context.Background()
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.db.Pool), riverConfig(river.NewWorkers(), b.clock), worker)

	work := func() *rivertest.WorkResult {
		t.Helper()
		b.handOff(t, riverInsertOnly(t, b), b.statusChanged())
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck
		var j rivertype.JobRow
		var args []byte
		require.NoError(t, tx.QueryRow(ctx, `select id, kind, args, max_attempts, attempt, queue from river.river_job
			where kind = $1 and state = 'available' order by id desc limit 1`, outbound.Kind).Scan(&j.ID, &j.Kind, &args, &j.MaxAttempts, &j.Attempt, &j.Queue))
		j.EncodedArgs, j.State = args, rivertype.JobStateAvailable
		res, _ := tw.WorkJob(ctx, t, tx, &j)
		require.NoError(t, tx.Commit(ctx))
		return res
	}
	res := work()
	require.Equal(t, river.EventKindJobFailed, res.EventKind)
	b.clock.Add(4 * 24 * time.Hour)
	res = work()
	require.Equal(t, river.EventKindJobFailed, res.EventKind, "four days of failures: still enabled")
	b.clock.Add(24*time.Hour + time.Second)
	res = work()
	require.Equal(t, river.EventKindJobCancelled, res.EventKind)
	var reason string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `select disabled_reason from public.webhook_endpoints where id = $1 and not enabled`, b.endpoint).Scan(&reason))
	require.Contains(t, reason, "failing since")
}

func TestReplayTimeRange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Three events an hour apart; the receiver is down for the first two.
	b.receiver.Always(providerfake.Fault{Status: 500})
	cfg := b.cfg
	cfg.Schedule = []time.Duration{time.Millisecond} // two attempts, quickly
	cfg.Now = time.Now                               // River runs the retry on the real clock
	b.receiver.SetClock(time.Now)
	client := b.startClient(t, cfg)
	e1 := b.statusChanged()
	e2 := b.statusChanged()
	e2.OccurredAt = e1.OccurredAt.Add(time.Hour)
	e3 := b.statusChanged()
	e3.OccurredAt = e1.OccurredAt.Add(2 * time.Hour)
	b.handOff(t, client, e1, e2)
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_deliveries where status = 'failed'`) == 2
	}, 20*time.Second, 20*time.Millisecond)
	b.receiver.Clear()
	b.handOff(t, client, e3)
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_deliveries where status = 'succeeded'`) == 1
	}, 20*time.Second, 20*time.Millisecond)
	failed := 2

	before := len(b.receiver.Received())
	// An outsider cannot replay; an owner can, for a range holding e1 and e2 only.
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, pgtest.AsUser(ctx, tx, uuid.NewString()))
	_, err = outbound.Replay(ctx, tx, b.endpoint, e1.OccurredAt.Add(-time.Minute), e2.OccurredAt.Add(time.Minute), false)
	require.Error(t, err)
	require.NoError(t, tx.Rollback(ctx))

	tx, err = b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, pgtest.AsUser(ctx, tx, b.member))
	n, err := outbound.Replay(ctx, tx, b.endpoint, e1.OccurredAt.Add(-time.Minute), e2.OccurredAt.Add(time.Minute), false)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, failed, n, "only the failed deliveries of the range (e1, e2)")
	got := b.waitHandled(t, before+n)
	for _, w := range got[before:] {
		require.True(t, w.Verified)
		require.Contains(t, []string{outbound.MessageID(e1.Key), outbound.MessageID(e2.Key)}, w.ID)
	}
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_deliveries where status = 'succeeded'`) == 3
	}, 20*time.Second, 20*time.Millisecond)

	// Replaying everything of the full range re-sends all three, same webhook-ids.
	n, err = outbound.Replay(ctx, b.db.Pool, b.endpoint, e1.OccurredAt.Add(-time.Minute), e3.OccurredAt.Add(time.Minute), false)
	require.NoError(t, err)
	require.Zero(t, n, "nothing failed any more")
	n, err = outbound.Replay(ctx, b.db.Pool, b.endpoint, e1.OccurredAt.Add(-time.Minute), e3.OccurredAt.Add(time.Minute), true)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	b.waitHandled(t, len(got)+3)
	require.Equal(t, 1, b.count(t, `select count(*) from vendorhub.audit_log where action = 'endpoint.replayed' and (details->>'queued')::int = 3`))
}

func TestSecretRotationSignsWithBoth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// The receiver keeps the first secret; the endpoint rolls to a new one.
	first := mustSecret(t, b)
	newSecret, err := outbound.RollSecret(ctx, b.db.Pool, b.keyring, b.endpoint, b.clock.Now(), time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, first, newSecret)
	b.receiver.SetSecrets(first) // not yet updated by the vendor
	client := b.startClient(t, b.cfg)
	b.handOff(t, client, b.statusChanged())
	got := b.waitHandled(t, 1)
	require.True(t, got[0].Verified, "signed with the previous secret too during the overlap")

	// After the overlap only the new secret signs.
	b.clock.Add(2 * time.Hour)
	b.handOff(t, client, b.statusChanged())
	got = b.waitHandled(t, 2)
	require.False(t, got[1].Verified)
	b.receiver.SetSecrets(newSecret)
	b.handOff(t, client, b.statusChanged())
	got = b.waitHandled(t, 3)
	require.True(t, got[2].Verified, "the vendor switched to the new secret")
}

// mustSecret reads the endpoint's current secret the way the worker does (a roll returns it).
func mustSecret(t *testing.T, b *testBundle) string {
	t.Helper()
	raw, err := b.keyring.Get(context.Background(), b.db.Pool, secret.EndpointSecrets, b.endpoint)
	require.NoError(t, err)
	var s struct{ Current string }
	require.NoError(t, json.Unmarshal(raw, &s))
	return s.Current
}

func TestPrivateAddressesRefusedByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.cfg
	cfg.AllowPrivateNetworks = false
	cfg.Schedule = []time.Duration{time.Millisecond}
	client := b.startClient(t, cfg)
	b.handOff(t, client, b.statusChanged())
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_delivery_attempts where error like '%private or internal address%'`) == 2
	}, 20*time.Second, 20*time.Millisecond)
	require.Zero(t, b.receiver.Len(), "nothing reached the loopback receiver")
}

// No event is lost when the worker process is killed mid-delivery: River rescues the job and
// the retry carries the same webhook-id.
func TestKilledMidDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// The first request hangs until the worker is gone; the retry succeeds.
	b.receiver.Push(providerfake.Fault{Status: 200, Delay: time.Minute})
	ev := b.statusChanged()
	b.handOff(t, riverInsertOnly(t, b), ev)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envChildDB+"="+b.db.URL, envChildKeys+"="+keySpec)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := b.receiver.WaitFor(wctx, 1)
	require.NoError(t, err, "the child started the delivery")
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	require.Equal(t, 1, b.count(t, `select count(*) from river.river_job where kind = $1 and state = 'running'`, outbound.Kind))

	// A new worker process (here: this one) rescues the stuck job.
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from river.river_job where kind = $1 and attempted_at < now() - interval '2 seconds'`, outbound.Kind) == 1
	}, 10*time.Second, 50*time.Millisecond)
	cfg := b.cfg
	cfg.Schedule = []time.Duration{time.Millisecond}
	cfg.Timeout = 500 * time.Millisecond
	workers := river.NewWorkers()
	river.AddWorker(workers, outbound.NewWorker(b.db.Pool, b.keyring, cfg))
	rc := riverConfig(workers, nil)
	rc.JobTimeout = time.Second
	rc.RescueStuckJobsAfter = 2 * time.Second
	client, err := river.NewClient(riverpgxv5.New(b.db.Pool), rc)
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	})
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_deliveries where status = 'succeeded'`) == 1
	}, 40*time.Second, 50*time.Millisecond)
	accepted := b.receiver.Accepted()
	require.Equal(t, map[string]int{outbound.MessageID(ev.Key): 1}, accepted, "delivered exactly once, same webhook-id")
	for _, w := range b.receiver.Received() {
		require.Equal(t, outbound.MessageID(ev.Key), w.ID)
	}
}

// runChild is the worker process of TestKilledMidDelivery: it works delivery jobs until killed.
func runChild(url, keys string) int {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	k, err := secret.ParseKeyring(keys)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, outbound.NewWorker(pool, k, outbound.Config{AllowPrivateNetworks: true}))
	client, err := river.NewClient(riverpgxv5.New(pool), riverConfig(workers, nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	if err := client.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	select {} // until killed
}

// An endpoint that keeps failing opens its circuit breaker: its deliveries stop calling it and
// snooze (no attempt made or counted) until the breaker lets a probe through, while another
// endpoint of the same vendor keeps receiving. Once the endpoint recovers, the probe closes the
// breaker and the snoozed deliveries go out.
func TestFailingEndpointOpensItsBreakerOthersKeepReceiving(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const openTimeout = 2 * time.Second
	breakers, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, OpenTimeout: openTimeout}, nil)
	require.NoError(t, err)
	changes := make(chan breaker.Transition, 16)
	breakers.OnChange(func(tr breaker.Transition) { changes <- tr })
	transition := func(from, to string) breaker.Transition {
		t.Helper()
		select {
		case tr := <-changes:
			require.Equal(t, breaker.Endpoint(b.endpoint), tr.Breaker)
			require.Equal(t, []string{from, to}, []string{tr.From, tr.To})
			return tr
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s → %s transition", from, to)
		}
		return breaker.Transition{}
	}

	// A second endpoint of the vendor, on its own receiver.
	other := providerfake.NewWebhookReceiver()
	t.Cleanup(other.Close)
	var otherEndpoint string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `insert into public.webhook_endpoints (vendor_id, url, event_types) values ($1, $2, '{vendor.status_changed}')
		returning id`, b.vendor, other.URL()+"/hooks").Scan(&otherEndpoint))
	s, err := outbound.RollSecret(ctx, b.db.Pool, b.keyring, otherEndpoint, time.Now(), time.Hour)
	require.NoError(t, err)
	other.SetSecrets(s)

	cfg := b.cfg
	cfg.Breakers = breakers
	cfg.Schedule = []time.Duration{50 * time.Millisecond} // the worker retries after 50 ms
	cfg.Now = time.Now                                    // River runs the retries on the real clock
	b.receiver.SetClock(time.Now)
	b.receiver.Always(providerfake.Fault{Status: http.StatusServiceUnavailable})
	client := b.startClient(t, cfg)

	first := b.statusChanged()
	b.handOff(t, client, first)
	opened := transition(breaker.StateClosed, breaker.StateOpen)
	require.Equal(t, 2, opened.ConsecutiveFailures)
	require.Eventually(t, func() bool {
		var next *time.Time
		_ = b.db.Pool.QueryRow(ctx, `select next_attempt_at from public.webhook_deliveries where endpoint_id = $1 and last_error like 'circuit breaker open%'`,
			b.endpoint).Scan(&next)
		return next != nil && next.After(opened.At.Add(openTimeout/2))
	}, 20*time.Second, 10*time.Millisecond, "the third attempt is put off by the open breaker")
	require.Len(t, b.receiver.Received(), 2, "no request while the breaker is open")
	require.Equal(t, 2, b.count(t, `select attempts from public.webhook_deliveries where endpoint_id = $1`, b.endpoint))
	require.Equal(t, 2, b.count(t, `select count(*) from public.webhook_delivery_attempts where endpoint_id = $1`, b.endpoint))

	// The other endpoint got the event, and gets the next one; the failing one is not called.
	second := b.statusChanged()
	b.handOff(t, client, second)
	require.Eventually(t, func() bool { return len(other.Accepted()) == 2 }, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, map[string]int{outbound.MessageID(first.Key): 1, outbound.MessageID(second.Key): 1}, other.Accepted())
	require.Len(t, b.receiver.Received(), 2)
	require.Equal(t, breaker.StateClosed, breakers.State(breaker.Endpoint(otherEndpoint)))

	// Recovery: a probe closes the breaker and both put-off deliveries go out.
	b.receiver.Clear()
	transition(breaker.StateOpen, breaker.StateHalfOpen)
	transition(breaker.StateHalfOpen, breaker.StateClosed)
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_deliveries where endpoint_id = $1 and status = 'succeeded'`, b.endpoint) == 2
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, map[string]int{outbound.MessageID(first.Key): 1, outbound.MessageID(second.Key): 1}, b.receiver.Accepted())
	require.Equal(t, 3, b.count(t, `select attempts from public.webhook_deliveries where endpoint_id = $1 and event_key = $2`,
		b.endpoint, first.Key.String()), "two failures, then the success: the put-off runs were not attempts")
}

// Outbound events reach only the vendors that may read them in the event's wedding: a vendor
// not connected to the wedding (or declined) receives nothing, even through a member who takes
// part in the conversation for another vendor; the connected vendor receives it.
func TestOutboundScopedToConnectedVendors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var other, declined string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Second Job Bakery', 'baker') returning id`).Scan(&other))
	require.NoError(t, b.db.Pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Declined Band', 'band') returning id`).Scan(&declined))
	declinedMember := uuid.NewString()
	_, err := b.db.Pool.Exec(ctx, `
insert into auth.users (id, email) values ($1, 'band@declined.test');
`, declinedMember)
	require.NoError(t, err)
	// b.member also works for the other vendor, which is not connected to the wedding.
	_, err = b.db.Pool.Exec(ctx, `insert into public.vendor_members (vendor_id, user_id, role) values ($1, $2, 'owner'), ($3, $4, 'owner')`,
		other, b.member, declined, declinedMember)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `insert into public.wedding_vendors (wedding_id, vendor_id, status) values ($1, $2, 'declined')`, b.wedding, declined)
	require.NoError(t, err)
	for _, v := range []string{other, declined} {
		_, err = b.db.Pool.Exec(ctx, `insert into public.webhook_endpoints (vendor_id, url) values ($1, $2)`, v, b.receiver.URL()+"/hooks/"+v)
		require.NoError(t, err)
	}
	deliveries := func(vendor string) int {
		return b.count(t, `select count(*) from public.webhook_deliveries where vendor_id = $1`, vendor)
	}

	msg := b.messageCreated(b.member, declinedMember) // b.member takes part for b.vendor
	otherStatus := b.statusChanged()
	otherStatus.WeddingID, otherStatus.Subject.VendorID = &b.wedding, &other // about a vendor not connected to the wedding
	ownStatus := b.statusChanged()
	ownStatus.WeddingID = &b.wedding
	noWedding := b.messageCreated(b.member)
	noWedding.WeddingID = nil // a message always has a wedding; without one no vendor is a party
	b.handOff(t, riverInsertOnly(t, b), msg, otherStatus, ownStatus, noWedding)

	require.Equal(t, 2, deliveries(b.vendor), "the connected vendor gets the message and its own status change")
	require.Equal(t, 1, b.count(t, `select count(*) from public.webhook_deliveries where vendor_id = $1 and event_key = $2`, b.vendor, msg.Key.String()))
	require.Zero(t, deliveries(other), "a vendor not connected to the wedding gets nothing, though its member is in the conversation")
	require.Zero(t, deliveries(declined), "a declined vendor gets nothing")
}

// Attempt errors never carry the endpoint URL's userinfo or query string (netguard.Redact):
// members read them.
func TestAttemptErrorsAreRedacted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there: the dial is refused
	_, err = b.db.Pool.Exec(context.Background(), `update public.webhook_endpoints set url = $2 where id = $1`,
		b.endpoint, "http://zap:pw-s3cret@"+closed+"/hooks/catch/1/abc?token=q-s3cret")
	require.NoError(t, err)
	cfg := b.cfg
	cfg.Schedule = []time.Duration{time.Millisecond}
	client := b.startClient(t, cfg)
	b.handOff(t, client, b.statusChanged())
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_delivery_attempts where error like '%/hooks/catch/1/abc%'`) == 2
	}, 20*time.Second, 20*time.Millisecond, "both attempts failed with the URL's path in the error")
	require.Zero(t, b.count(t, `select count(*) from public.webhook_delivery_attempts where error like '%s3cret%' or error like '%token=%'`))
	require.Zero(t, b.count(t, `select count(*) from public.webhook_deliveries where last_error like '%s3cret%'`))
}

// Nothing of an endpoint's answer is stored for members to read: the status code and a
// fixed message only, even when the answer is a page full of internal details.
func TestNoResponseBytesAreStored(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("canary-9f3b internal stack trace, db password hunter2"))
	}))
	t.Cleanup(srv.Close)
	_, err := b.db.Pool.Exec(context.Background(), `update public.webhook_endpoints set url = $2 where id = $1`, b.endpoint, srv.URL+"/hook")
	require.NoError(t, err)
	cfg := b.cfg
	cfg.Schedule = []time.Duration{time.Millisecond}
	client := b.startClient(t, cfg)
	b.handOff(t, client, b.statusChanged())
	require.Eventually(t, func() bool {
		return b.count(t, `select count(*) from public.webhook_delivery_attempts where status_code = 500`) == 2
	}, 20*time.Second, 20*time.Millisecond, "both attempts answered 500")
	require.Zero(t, b.count(t, `select count(*) from public.webhook_delivery_attempts where response_excerpt is not null
		or coalesce(error, '') like '%canary%' or coalesce(error, '') like '%hunter2%'`))
	require.Zero(t, b.count(t, `select count(*) from public.webhook_deliveries where coalesce(last_error, '') like '%canary%'`))
}
