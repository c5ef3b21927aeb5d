package replication_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/seed"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
)

// The workload of the real-sink chaos test: busy weddings of the seed, written in
// multi-row statements as service_role so the emit triggers fire.
const (
	sinkMessages      = 18_000 // message.created in the seed's four wedding-1 conversations
	sinkStatusUpdates = 1_000  // vendor.status_changed (day-of updates of the 32 vendors)
	sinkBookings      = 600    // booking.updated
	sinkInbox         = 400    // webhook.received of the seeded HoneyBook connection
	sinkRounds        = 20     // the workload is spread over this many rounds
)

// sinkWorkload commits the workload in rounds, each round one transaction per kind, retrying
// a statement that failed (the server restarting). What committed is read back from the
// domain tables afterwards (a commit whose outcome the client never learnt still counts).
func sinkWorkload(ctx context.Context, pool *pgxpool.Pool, progress chan<- int) error {
	stmts := []struct {
		sql string
		n   int
	}{
		// Messages in the four conversations of wedding 1, conversations 4 (day-of
		// coordination: planner and day-of vendors) and 3 twice as busy; the sender is a
		// participant of the conversation.
		{`insert into public.messages (conversation_id, sender_id, body)
select p.conversation_id, p.user_id, 'chaos ' || $2::int || '.' || g
from generate_series(1, $1::int) g
cross join lateral (
  select cp.conversation_id, cp.user_id from public.conversation_participants cp
  where cp.conversation_id = (array['40000000-0000-4000-8000-000000000004', '40000000-0000-4000-8000-000000000001',
    '40000000-0000-4000-8000-000000000002', '40000000-0000-4000-8000-000000000003', '40000000-0000-4000-8000-000000000004',
    '40000000-0000-4000-8000-000000000003']::uuid[])[1 + g % 6]
  order by cp.user_id offset (g / 6) % 3 limit 1) p`, sinkMessages / sinkRounds},
		{`insert into public.vendor_status_updates (wedding_id, vendor_id, status, note)
select wv.wedding_id, wv.vendor_id, (array['on_schedule','en_route','arrived','setting_up','ready','delayed','finished'])[1 + g % 7],
       'chaos ' || $2::int || '.' || g
from generate_series(1, $1::int) g
join (select wedding_id, vendor_id, row_number() over (order by vendor_id) - 1 as i
      from public.wedding_vendors where wedding_id = '` + seed.WeddingID + `') wv on wv.i = g % 32`, sinkStatusUpdates / sinkRounds},
		{`insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, status, title)
select wv.vendor_id, wv.wedding_id, t, t + interval '2 hours', 'held', 'chaos ' || $2::int || '.' || g
from generate_series(1, $1::int) g
cross join lateral (select timestamptz '2030-01-01' + ($2::int * 1000 + g) * interval '3 hours' as t) s
join (select wedding_id, vendor_id, row_number() over (order by vendor_id) - 1 as i
      from public.wedding_vendors where wedding_id = '` + seed.WeddingID + `') wv on wv.i = g % 32`, sinkBookings / sinkRounds},
		{`insert into vendorhub.webhook_inbox (source, connection_id, provider_event_id, payload)
select 'honeybook', '60000000-0000-4000-8000-000000000001', 'chaos-' || $2::int || '.' || g,
       jsonb_build_object('trigger', 'chaos_probe', 'n', g)
from generate_series(1, $1::int) g`, sinkInbox / sinkRounds},
	}
	for round := range sinkRounds {
		for _, st := range stmts {
			for {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if err := pgtest.AsRole(ctx, tx, "service_role", nil); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, st.sql, st.n, round)
					return err
				})
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if !strings.Contains(err.Error(), "connect") && !strings.Contains(err.Error(), "terminat") &&
					!strings.Contains(err.Error(), "shutting down") && !strings.Contains(err.Error(), "EOF") &&
					!strings.Contains(err.Error(), "recovery") && !strings.Contains(err.Error(), "closed") {
					return fmt.Errorf("round %d: %w", round, err)
				}
				// The server is restarting: wait until it answers again; a statement whose commit
				// was lost is retried, one that committed unseen is counted from the tables.
				pollUntil(ctx, time.Minute, 20*time.Millisecond, func() bool { return pool.Ping(ctx) == nil })
			}
		}
		select {
		case progress <- round + 1:
		default:
		}
	}
	return nil
}

// TestChaosEveryRealSinkSurvivesKillsAndAPostgresCrash runs `vendorhub run` with every stage
// against the provider fakes (FCM, Resend, Twilio, outbound webhook receivers) while the
// workload commits, SIGKILLs it three times, lets a hot standby depose it (both then hand off
// some transactions, which must be observed) and crash-restarts Postgres once, then
// reconciles every durable effect with the events that committed, by event key.
func TestChaosEveryRealSinkSurvivesKillsAndAPostgresCrash(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ctx := context.Background()
	cluster := pgtest.NewCluster(t)
	db := pgtest.NewDBOn(t, cluster, true)
	// A frozen leader's walsender can be stuck writing into the full socket of its client, where
	// pg_terminate_backend does not reach it; the server ends it after wal_sender_timeout,
	// shortened from 60 s so that the deposition below takes seconds.
	_, err := db.Pool.Exec(ctx, `alter system set wal_sender_timeout = '10s'`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `select pg_reload_conf()`)
	require.NoError(t, err)

	fcm := providerfake.NewFCM()
	resend := providerfake.NewResend("re_chaos")
	twilio := providerfake.NewTwilio("ACchaos", "chaostoken1")
	receiver := providerfake.NewWebhookReceiver()
	for _, c := range []interface{ Close() }{fcm, resend, twilio, receiver} {
		t.Cleanup(c.Close)
	}
	keys := "c1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	keyring, err := secret.ParseKeyring(keys)
	require.NoError(t, err)
	// Endpoints: the DJ hears everything, messages of conversation 4 included; five more
	// vendors hear status changes and bookings. One receiver, one path per endpoint.
	var secrets []string
	for i, ep := range []struct {
		vendor string
		types  string
	}{
		{"20000000-0000-4000-8000-000000000007", "{}"},
		{seed.PhotographerVendorID, "{vendor.status_changed,booking.updated}"},
		{seed.FloristVendorID, "{vendor.status_changed,booking.updated}"},
		{seed.PlannerVendorID, "{vendor.status_changed,booking.updated}"},
		{seed.VenueVendorID, "{vendor.status_changed}"},
		{"20000000-0000-4000-8000-000000000005", "{booking.updated}"},
	} {
		var id string
		require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.webhook_endpoints (vendor_id, url, event_types)
			values ($1, $2, $3::text[]) returning id`, ep.vendor, fmt.Sprintf("%s/ep/%d", receiver.URL(), i), ep.types).Scan(&id))
		whsec, err := outbound.RollSecret(ctx, db.Pool, keyring, id, time.Now(), time.Hour)
		require.NoError(t, err)
		secrets = append(secrets, whsec)
	}
	receiver.SetSecrets(secrets...)
	// The venue's owner takes status changes and bookings by SMS only (no device, no email,
	// no quiet hours): Twilio gets those.
	_, err = db.Pool.Exec(ctx, `
insert into public.notification_settings (user_id, timezone, email, phone)
values ('`+seed.VenueUserID+`', 'UTC', null, '+15005550106');
insert into public.notification_preferences (user_id, category, channel, enabled) values
  ('`+seed.VenueUserID+`', 'status_change', 'sms', true), ('`+seed.VenueUserID+`', 'booking', 'sms', true)`)
	require.NoError(t, err)

	opts := sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t), ackTrace: ackTraceFile(t), allStages: true, env: []string{
		"VENDORHUB_ENCRYPTION_KEYS=" + keys,
		"VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS=on",
		"VENDORHUB_WEBHOOK_OUTBOUND_WORKERS=20",
		"FCM_PROJECT_ID=vendorhub-chaos", "VENDORHUB_FCM_ENDPOINT=" + fcm.URL(),
		"RESEND_API_KEY=re_chaos", "VENDORHUB_RESEND_BASE_URL=" + resend.URL(),
		"TWILIO_ACCOUNT_SID=ACchaos", "TWILIO_AUTH_TOKEN=chaostoken1", "TWILIO_FROM=+15005550006",
		"VENDORHUB_TWILIO_BASE_URL=" + twilio.URL(),
		"VENDORHUB_NOTIFY_RETRY_BASE=200ms",
		// Digests of held messages go out after the test: they are not source events.
		"VENDORHUB_NOTIFY_INACTIVITY=1h", "VENDORHUB_NOTIFY_MAX_WAIT=2h",
		"VENDORHUB_DB_MAX_CONNS=20",
		// A deposed leader (see deposeLeader) finishes what it queued before it steps down: give
		// that late hand-off time to play out the race instead of cutting it short.
		"VENDORHUB_SHUTDOWN_TIMEOUT=60s",
	}}
	sc := startSidecarWith(t, opts)
	sc.waitRole("leader", 60*time.Second)

	wctx, cancel := context.WithTimeout(ctx, 8*time.Minute) // generous: shared CI machines
	defer cancel()
	progress := make(chan int, sinkRounds)
	done := make(chan error, 1)
	go func() { done <- sinkWorkload(wctx, db.Pool, progress) }()

	// Faults at rounds 3, 7 and 11 (SIGKILL), 13 (a standby deposes the leader) and 16
	// (Postgres crash-restart).
	var rp replays
	var replayed float64
	faults := map[int]string{3: "kill", 7: "kill", 11: "kill", 13: "depose", 16: "crash"}
	var crashBehind int64
wait:
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			break wait
		case r := <-progress:
			switch faults[r] {
			case "kill":
				// Aim at the replay window: kill once a hand-off has committed beyond what the
				// slot confirmed (at most 5 s later; a slow build may not show it every time).
				pollUntil(ctx, 5*time.Second, 2*time.Millisecond, func() bool {
					c, cur, err := slotPositions(ctx, db.Pool, opts.slot)
					return err == nil && cur > c
				})
				sc = killAndRestart(ctx, t, sc, opts, db, &rp)
			case "depose":
				// A hot standby joins and the two race: freeze the leader while it holds
				// transactions beyond the cursor, until one hand-off is seen repeating the
				// other's (a few tries: a frozen leader may hold nothing complete).
				standby := startSidecarWith(t, opts)
				standby.waitRole("standby", 60*time.Second)
				for try := 0; try < 4 && replayed == 0; try++ {
					var n float64
					sc, standby, n = deposeLeader(ctx, t, sc, standby, opts.slot, db)
					replayed += n
				}
			case "crash":
				require.NoError(t, cluster.Restart(ctx))
				c, cur, err := slotPositions(ctx, db.Pool, opts.slot)
				require.NoError(t, err)
				crashBehind = int64(cur) - int64(c)
			}
		}
	}
	wrote := time.Since(start)
	t.Logf("workload committed in %s", wrote.Round(time.Second))
	waitCaughtUp(ctx, t, db.Pool, opts.slot)
	t.Logf("slot caught up after %s", time.Since(start).Round(time.Second))

	// Ground truth: what committed, from the domain tables.
	var msgs, statuses, bookings, inbox int
	require.NoError(t, db.Pool.QueryRow(ctx, `select
  (select count(*) from public.messages where body like 'chaos %'),
  (select count(*) from public.vendor_status_updates where note like 'chaos %'),
  (select count(*) from public.bookings where title like 'chaos %'),
  (select count(*) from vendorhub.webhook_inbox where provider_event_id like 'chaos-%')`).Scan(&msgs, &statuses, &bookings, &inbox))
	total := msgs + statuses + bookings + inbox
	require.GreaterOrEqual(t, total, 20_000)

	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	// 1. Every event handed off once: one probe job per event key, per type as many as
	//    committed.
	for typ, want := range map[string]int{"message.created": msgs, "vendor.status_changed": statuses,
		"booking.updated": bookings, "webhook.received": inbox} {
		require.Equal(t, want, count(`select count(distinct args->>'key') from river.river_job
			where kind = 'handoff.event' and args->>'type' = $1`, typ), "events of type %s handed off", typ)
	}
	// 1b. Stored broadcasts (VENDORHUB_REALTIME_STORE, on by default): one realtime.messages
	//     row per (event key, topic), none doubled by the kills, one per message on its
	//     conversation topic, and one key record per stored row.
	require.Zero(t, count(`select count(*) from (select payload->>'key', topic from realtime.messages
		where extension = 'broadcast' and payload ? 'key' group by 1, 2 having count(*) > 1) d`), "stored broadcasts doubled")
	require.Equal(t, msgs, count(`select count(distinct payload->>'key') from realtime.messages
		where event = 'message.created' and topic like 'conversation:%' and payload ? 'key'`), "messages stored for replay")
	// One statement, one snapshot: the sidecar still hands off the events of its own effects
	// (deliveries, notifications), and a hand-off committing between two counts would part them.
	var keyRecords, stored int
	require.NoError(t, db.Pool.QueryRow(ctx, `select (select count(*) from vendorhub.stored_broadcasts),
  (select count(*) from realtime.messages where extension = 'broadcast' and payload ? 'key')`).Scan(&keyRecords, &stored))
	require.Equal(t, keyRecords, stored, "a key record per stored broadcast")
	// 2. Connector: one inbox job per webhook.received key.
	require.Equal(t, inbox, count(`select count(*) from river.river_job where kind = 'integration.inbox'`), "connector inbox jobs")
	require.Zero(t, count(`select count(*) from (select args->>'event_key' from river.river_job
		where kind = 'integration.inbox' group by 1 having count(*) > 1) d`))
	// 3. Outbound webhooks: one delivery per (event, subscribed endpoint of a concerned
	//    vendor), computed from the rule: the subject's vendor, or for messages every vendor
	//    with a member in the conversation.
	wantOutbound := count(`
with ep as (select id, vendor_id, event_types from public.webhook_endpoints where enabled and connection_id is null),
m as (select count(*) as n from public.messages msg
      join public.conversation_participants cp on cp.conversation_id = msg.conversation_id
      join public.vendor_members vm on vm.user_id = cp.user_id
      join ep on ep.vendor_id = vm.vendor_id and (cardinality(ep.event_types) = 0 or 'message.created' = any (ep.event_types))
      where msg.body like 'chaos %'
      group by msg.id, ep.id),
s as (select count(*) as n from public.vendor_status_updates u
      join ep on ep.vendor_id = u.vendor_id and (cardinality(ep.event_types) = 0 or 'vendor.status_changed' = any (ep.event_types))
      where u.note like 'chaos %'),
b as (select count(*) as n from public.bookings b
      join ep on ep.vendor_id = b.vendor_id and (cardinality(ep.event_types) = 0 or 'booking.updated' = any (ep.event_types))
      where b.title like 'chaos %')
select (select count(*) from m) + (select n from s) + (select n from b)`)
	require.Positive(t, wantOutbound)
	require.Equal(t, wantOutbound, count(`select count(*) from public.webhook_deliveries`), "outbound deliveries")
	require.Zero(t, count(`select count(*) from public.webhook_deliveries d where not exists (
		select 1 from river.river_job j where j.kind = 'handoff.event' and j.args->>'key' = d.event_key)`),
		"deliveries of an event key never handed off")
	// 4. Notifications of status changes and bookings: one per recipient (the wedding's
	//    couple and the vendor's members) per event key.
	wantNotes := count(`
select (select count(*) from public.vendor_status_updates u
        join lateral (select user_id from public.wedding_couples where wedding_id = u.wedding_id
                      union select user_id from public.vendor_members where vendor_id = u.vendor_id) r on true
        where u.note like 'chaos %')
     + (select count(*) from public.bookings b
        join lateral (select user_id from public.wedding_couples where wedding_id = b.wedding_id
                      union select user_id from public.vendor_members where vendor_id = b.vendor_id) r on true
        where b.title like 'chaos %')`)
	require.Equal(t, wantNotes, count(`select count(*) from public.notifications n join river.river_job j
		on j.kind = 'handoff.event' and j.args->>'key' = n.event_key
		and j.args->>'type' in ('vendor.status_changed', 'booking.updated')`), "notifications of status changes and bookings")
	// Every message's recipients hear of the conversation: a notification or a held digest.
	require.Zero(t, count(`
select count(*) from (select distinct msg.conversation_id, cp.user_id from public.messages msg
  join public.conversation_participants cp on cp.conversation_id = msg.conversation_id and cp.user_id <> msg.sender_id
  where msg.body like 'chaos %') r
where not exists (select 1 from public.notifications n where n.user_id = r.user_id and n.data->'subject'->>'conversation_id' = r.conversation_id::text
                  and n.event_key is not null)`), "a message recipient heard of nothing")

	// 5. Every job ran: nothing left to work (the probe queue is never worked; deferred
	//    deliveries wait for the end of quiet hours), nothing discarded.
	require.Eventually(t, func() bool {
		return count(`select count(*) from river.river_job where queue <> 'handoff_probe'
			and state in ('available', 'running', 'retryable', 'pending')`) == 0
	}, 5*time.Minute, 200*time.Millisecond, "jobs left to work")
	require.Zero(t, count(`select count(*) from river.river_job where state = 'discarded' and kind <> 'integration.inbox'`), "discarded jobs")

	// 6. Providers (deliveries of this run's events: the seed has rows of its own): every sent email reached Resend exactly once by its Idempotency-Key;
	//    every push reached FCM at least once; every SMS reached Twilio; every outbound
	//    delivery reached its endpoint, exactly once by (endpoint, webhook-id).
	// (deliveries has one row per attempt: an attempt whose outcome was lost in a crash is
	// retried, and its Idempotency-Key makes Resend answer the first email's id again.)
	emails := count(`select count(distinct (notification_id, channel)) from public.deliveries
		where event_key is not null and provider = 'resend' and status in ('sent', 'delivered', 'opened')`)
	emailAttempts := count(`select count(*) from public.deliveries where event_key is not null and provider = 'resend' and status in ('sent', 'delivered', 'opened')`)
	require.Equal(t, emails, count(`select count(distinct provider_id) from public.deliveries
		where event_key is not null and provider = 'resend' and status in ('sent', 'delivered', 'opened')`), "one Resend id per email")
	require.Equal(t, emails, len(resend.Sent()), "emails sent once each (Idempotency-Key)")
	keyRequests := map[string]int{}
	for _, r := range resend.Requests() {
		keyRequests[r.Header.Get("Idempotency-Key")]++
	}
	emailRepeats := 0
	for _, n := range keyRequests {
		emailRepeats += n - 1
	}
	require.Len(t, keyRequests, emails, "one Idempotency-Key per email delivery")
	pushes := count(`select count(*) from public.deliveries where event_key is not null and provider = 'fcm' and status in ('sent', 'delivered', 'opened')`)
	require.GreaterOrEqual(t, len(fcm.Sent()), pushes, "every push reached FCM")
	sms := count(`select count(*) from public.deliveries where event_key is not null and provider = 'twilio' and status in ('sent', 'delivered')`)
	if sms == 0 {
		rows, _ := db.Pool.Query(ctx, `select coalesce(provider, ''), channel::text, status || ' ' || coalesce(error_code, '') || ' ' || coalesce(error, ''), count(*) from public.deliveries
			where user_id = $1 group by 1, 2, 3`, seed.VenueUserID)
		for rows.Next() {
			var p, c, st string
			var n int
			_ = rows.Scan(&p, &c, &st, &n)
			t.Logf("venue owner deliveries: %s %s %s %d", p, c, st, n)
		}
		rows.Close()
		t.Logf("venue owner notifications: %d; twilio requests %d", count(`select count(*) from public.notifications where user_id = $1`, seed.VenueUserID), len(twilio.Requests()))
	}
	require.Positive(t, sms, "no SMS was sent: Twilio was not exercised")
	require.GreaterOrEqual(t, len(twilio.Sent()), sms, "every SMS reached Twilio")
	require.Zero(t, count(`select count(*) from public.deliveries where event_key is not null and status = 'failed'`), "failed deliveries")
	require.Eventually(t, func() bool {
		return count(`select count(*) from public.webhook_deliveries where status <> 'succeeded'`) == 0
	}, time.Minute, 100*time.Millisecond, "outbound deliveries not succeeded")
	delivered := map[string]int{}
	for _, r := range receiver.Requests() {
		delivered[r.Path+" "+r.Header.Get("webhook-id")]++
	}
	webhookRepeats := 0
	for _, n := range delivered {
		webhookRepeats += n - 1
	}
	require.Len(t, delivered, wantOutbound, "one (endpoint, webhook-id) per outbound delivery")
	for _, w := range receiver.Received() {
		require.True(t, w.Verified, w.Problem)
	}

	// 7. Replays and acknowledgements.
	require.Equal(t, 3, rp.restarts)
	require.Positive(t, rp.behind, "no kill hit the replay window")
	require.Positive(t, replayed, "no transaction was handed off twice: the exact counts above were not tested against a replay")
	requireAcksDurable(t, opts.ackTrace)
	t.Logf("events %d (messages %d, status %d, bookings %d, inbound webhooks %d) written in %s with 3 SIGKILLs and 1 Postgres crash; "+
		"restarts behind the cursor %d (%d bytes), after the crash %d bytes; transactions handed off twice by a deposed leader and its successor %.0f; outbound deliveries %d (%d re-sent POSTs absorbed by webhook-id); "+
		"notifications of status/bookings %d; emails %d (%d attempts recorded sent, %d re-sent requests absorbed by Idempotency-Key); pushes %d (FCM accepted %d); SMS %d (Twilio accepted %d); total %s",
		total, msgs, statuses, bookings, inbox, wrote.Round(time.Second), rp.behind, rp.behindBytes, crashBehind, replayed, wantOutbound, webhookRepeats,
		wantNotes, emails, emailAttempts, emailRepeats, pushes, len(fcm.Sent()), sms, len(twilio.Sent()), time.Since(start).Round(time.Second))
}
