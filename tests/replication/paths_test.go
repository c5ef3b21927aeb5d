package replication_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

// series returns the value of one exposition line of /metrics, e.g.
// `vendorhub_handoff_batch_transactions_bucket{le="4"}`.
func (s *sidecar) series(lines ...string) ([]float64, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + s.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	want := make(map[string]int, len(lines))
	for i, l := range lines {
		want[l] = i
	}
	values, found := make([]float64, len(lines)), 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), " ")
		i, wanted := want[name]
		if !ok || !wanted {
			continue
		}
		if values[i], err = strconv.ParseFloat(strings.TrimSpace(rest), 64); err != nil {
			return nil, err
		}
		found++
	}
	if found != len(lines) {
		return nil, fmt.Errorf("%d of %v not exposed", len(lines)-found, lines)
	}
	return values, nil
}

// exitCode waits for the process to end (at most within) and returns its exit code.
func (s *sidecar) exitCode(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("sidecar did not exit within %s; log:\n%s", within, tail(s.log.String(), 30))
	}
	return s.cmd.ProcessState.ExitCode()
}

// emitEvents commits n transactions of perTx events each (chaos_events rows and messages).
func emitEvents(ctx context.Context, t *testing.T, g *generator, n, perTx int) {
	t.Helper()
	for range n {
		_, err := g.pool.Exec(ctx, `
with ids as (insert into public.chaos_events select gen_random_uuid() from generate_series(1, $1) returning id)
select count(pg_logical_emit_message(true, 'vendorhub', json_build_object(
  'id', id, 'type', 'task.updated', 'occurred_at', now(), 'wedding_id', id,
  'subject', json_build_object('table', 'tasks', 'id', id))::text)) from ids`, perTx)
		require.NoError(t, err)
	}
}

func probeJobs(ctx context.Context, t *testing.T, db *pgtest.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from river.river_job where kind = 'handoff.event'`).Scan(&n))
	return n
}

// A graceful stop (SIGTERM) ends with a final acknowledgement: after the process exited, the
// slot's confirmed_flush_lsn equals the cursor row, the end of the last hand-off. Periodic
// updates are 25 s apart and extra ones at most one per second, so the second burst, handed
// off and followed at once by SIGTERM, is confirmed by the final acknowledgement alone.
func TestSIGTERMEndsWithAFinalAcknowledgement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	gen := newGenerator(ctx, t, db.URL)
	o := sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t), ackTrace: ackTraceFile(t), env: []string{
		"VENDORHUB_STATUS_INTERVAL=25s", "VENDORHUB_RECEIVE_TIMEOUT=60s", "VENDORHUB_HEARTBEAT_INTERVAL=1h"}}
	sc := startSidecarWith(t, o)
	sc.waitRole("leader", 30*time.Second)
	emitEvents(ctx, t, gen, 1, 3)
	require.Eventually(t, func() bool { return probeJobs(ctx, t, db) == 3 }, 30*time.Second, 5*time.Millisecond)
	emitEvents(ctx, t, gen, 1, 4)
	require.Eventually(t, func() bool { return probeJobs(ctx, t, db) == 7 }, 30*time.Second, 2*time.Millisecond)
	confirmedBefore, cursor, err := slotPositions(ctx, db.Pool, o.slot)
	require.NoError(t, err)
	require.NoError(t, sc.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, sc.exitCode(30*time.Second), "a graceful stop exits 0; log:\n%s", tail(sc.log.String(), 20))
	require.Eventually(t, func() bool {
		var active bool
		return db.Pool.QueryRow(ctx, `select active_pid is not null from pg_replication_slots where slot_name = $1`, o.slot).Scan(&active) == nil && !active
	}, 10*time.Second, 5*time.Millisecond)
	confirmed, cursorAfter, err := slotPositions(ctx, db.Pool, o.slot)
	require.NoError(t, err)
	t.Logf("before SIGTERM: confirmed %d bytes behind the cursor; after exit: %d", int64(cursor)-int64(confirmedBefore), int64(cursorAfter)-int64(confirmed))
	require.Equal(t, cursorAfter, confirmed, "the final acknowledgement confirms the end of the last hand-off")
	require.GreaterOrEqual(t, cursorAfter, cursor)
	require.Contains(t, sc.log.String(), "replication: stopped")
	requireAcksDurable(t, o.ackTrace)
}

// batchHistogram returns how many hand-offs had at most le source transactions, and how many
// hand-offs there were, from one scrape once they held txs transactions in all. The histogram
// is observed after the hand-off commits, so its last batch can trail the jobs it made visible.
func batchHistogram(t *testing.T, sc *sidecar, le string, txs float64) (atMost, total float64) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, err := sc.series(`vendorhub_handoff_batch_transactions_bucket{le="`+le+`"}`,
			`vendorhub_handoff_batch_transactions_count`, `vendorhub_handoff_batch_transactions_sum`)
		if err != nil {
			return false
		}
		atMost, total = v[0], v[1]
		return v[2] >= txs
	}, 10*time.Second, 5*time.Millisecond, "the hand-offs observed hold fewer than %v transactions", txs)
	return atMost, total
}

// The hand-off batch limits, observed on vendorhub_handoff_batch_transactions: a backlog of 300
// one-event transactions is handed off in batches of at most VENDORHUB_HANDOFF_MAX_TRANSACTIONS
// (or as many as VENDORHUB_HANDOFF_MAX_EVENTS allows), larger batches without a limit, and
// VENDORHUB_HANDOFF_WAIT gathers a trickle into batches.
func TestHandoffBatchLimits(t *testing.T) {
	t.Parallel()
	backlog := func(t *testing.T, env []string, perTx int) *sidecar {
		ctx := context.Background()
		db := pgtest.NewDB(t)
		gen := newGenerator(ctx, t, db.URL)
		o := sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t), env: append(env, "VENDORHUB_HEARTBEAT_INTERVAL=1h")}
		sc := startSidecarWith(t, o)
		sc.waitRole("leader", 30*time.Second) // the slot exists
		sc.kill()
		emitEvents(ctx, t, gen, 300, perTx)
		sc = startSidecarWith(t, o)
		require.Eventually(t, func() bool { return probeJobs(ctx, t, db) == 300*perTx }, 60*time.Second, 10*time.Millisecond)
		return sc
	}
	t.Run("max transactions", func(t *testing.T) {
		t.Parallel()
		sc := backlog(t, []string{"VENDORHUB_HANDOFF_MAX_TRANSACTIONS=4"}, 1)
		atMost, total := batchHistogram(t, sc, "4", 300)
		require.GreaterOrEqual(t, total, 75.0, "300 transactions in batches of at most 4")
		require.Equal(t, total, atMost, "a hand-off took more than 4 transactions")
	})
	t.Run("max events", func(t *testing.T) {
		t.Parallel()
		// Two events per transaction, at most 3 events: a batch stops once it holds 3 or more,
		// so 2 transactions.
		sc := backlog(t, []string{"VENDORHUB_HANDOFF_MAX_EVENTS=3"}, 2)
		atMost, total := batchHistogram(t, sc, "4", 300)
		require.GreaterOrEqual(t, total, 150.0)
		require.Equal(t, total, atMost, "a hand-off took more than 4 transactions")
	})
	t.Run("no limit", func(t *testing.T) {
		t.Parallel()
		sc := backlog(t, nil, 1)
		atMost, total := batchHistogram(t, sc, "4", 300)
		require.Less(t, atMost, total, "a backlog is handed off in batches larger than 4 (else the limits above prove nothing)")
	})
	t.Run("wait", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		db := pgtest.NewDB(t)
		gen := newGenerator(ctx, t, db.URL)
		sc := startSidecarWith(t, sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t),
			env: []string{"VENDORHUB_HANDOFF_WAIT=500ms", "VENDORHUB_HEARTBEAT_INTERVAL=1h"}})
		sc.waitRole("leader", 30*time.Second)
		trickle := time.NewTicker(25 * time.Millisecond) // the arrival schedule: one transaction every 25 ms
		for range 40 {
			emitEvents(ctx, t, gen, 1, 1)
			<-trickle.C
		}
		trickle.Stop()
		require.Eventually(t, func() bool { return probeJobs(ctx, t, db) == 40 }, 30*time.Second, 10*time.Millisecond)
		atMost, total := batchHistogram(t, sc, "4", 40)
		require.Less(t, atMost, total, "a 500 ms wait gathers more than 4 transactions of a 25 ms trickle")
	})
}

// A slot lost while the sidecar streams (invalidated by max_slot_wal_keep_size: an open
// transaction holds its restart_lsn while WAL grows) ends the process with a non-zero exit
// code and an error that names the slot and the fix.
func TestSlotLostExitsNonZero(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := pgtest.NewCluster(t)
	db := pgtest.NewDBOn(t, cluster, false)
	_, err := db.Pool.Exec(ctx, `alter system set max_slot_wal_keep_size = '1MB'`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `select pg_reload_conf()`)
	require.NoError(t, err)
	o := sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t)}
	sc := startSidecarWith(t, o)
	sc.waitRole("leader", 30*time.Second)

	// An open transaction with an xid keeps the slot's restart_lsn behind it.
	holder, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer holder.Rollback(ctx) //nolint:errcheck
	_, err = holder.Exec(ctx, `create table public.hold_slot (x int)`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `create table public.wal_filler (x text)`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for range 4 {
			_, err := db.Pool.Exec(ctx, `insert into public.wal_filler select repeat('x', 1000) from generate_series(1, 2000)`)
			require.NoError(t, err)
			_, err = db.Pool.Exec(ctx, `select pg_switch_wal()`)
			require.NoError(t, err)
		}
		_, err := db.Pool.Exec(ctx, `checkpoint`)
		require.NoError(t, err)
		var status string
		require.NoError(t, db.Pool.QueryRow(ctx, `select coalesce(wal_status, '') from pg_replication_slots where slot_name = $1`, o.slot).Scan(&status))
		return status == "lost"
	}, 60*time.Second, 10*time.Millisecond, "the slot was not invalidated")
	code := sc.exitCode(60 * time.Second)
	log := sc.log.String()
	require.NotEqual(t, 0, code, "a lost slot must end the process with an error; log:\n%s", tail(log, 20))
	require.Contains(t, log, fmt.Sprintf("replication slot %q is lost", o.slot))
	require.Contains(t, log, "max_slot_wal_keep_size")
	require.Contains(t, log, "pg_drop_replication_slot")
}

// No secret ever reaches the log: the binary runs with every secret variable set to a
// distinctive marker, debug logs on, and is exercised (events through every stage to
// providers that reject its credentials, bad inbound webhooks, dashboard and realtime with
// wrong tokens, a graceful stop); no log line contains any marker.
func TestSecretsAreNeverLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewSeededDB(t)
	fcm := providerfake.NewFCM()
	resend := providerfake.NewResend("re_the_right_key") // the marker key is refused: errors get logged
	twilio := providerfake.NewTwilio("ACmarker", "the-right-token")
	receiver := providerfake.NewWebhookReceiver()
	for _, c := range []interface{ Close() }{fcm, resend, twilio, receiver} {
		t.Cleanup(c.Close)
	}
	key := bytes.Repeat([]byte("SECRETK1"), 4) // 32 bytes
	markers := map[string]string{
		"SUPABASE_SERVICE_ROLE_KEY":         "MARKERservicerole7c1f",
		"SUPABASE_JWT_SECRET":               "MARKERjwtsecret8d2e-long-enough-for-hs256-0123456789",
		"RESEND_API_KEY":                    "re_MARKERresend9e3d",
		"RESEND_WEBHOOK_SECRET":             "whsec_" + base64.StdEncoding.EncodeToString([]byte("MARKERresendwebhook0a4c")),
		"TWILIO_AUTH_TOKEN":                 "MARKERtwiliotoken1b5b",
		"VENDORHUB_ENCRYPTION_KEYS":         "k1:" + base64.StdEncoding.EncodeToString(key),
		"VENDORHUB_GOOGLE_CLIENT_SECRET":    "MARKERgoogleclient2c6a",
		"VENDORHUB_MICROSOFT_CLIENT_SECRET": "MARKERmicrosoft3d79",
		"VENDORHUB_ALERT_WEBHOOK_SECRET":    "whsec_" + base64.StdEncoding.EncodeToString([]byte("MARKERalertwebhook4e80")),
		"VENDORHUB_OPERATOR_TOKEN":          "MARKERoperatortoken5f91",
	}
	env := []string{"VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS=on", "FCM_PROJECT_ID=marker-project",
		"VENDORHUB_FCM_ENDPOINT=" + fcm.URL(), "VENDORHUB_RESEND_BASE_URL=" + resend.URL(), "TWILIO_ACCOUNT_SID=ACmarker",
		"TWILIO_FROM=+15005550006", "VENDORHUB_TWILIO_BASE_URL=" + twilio.URL(), "VENDORHUB_ALERT_WEBHOOK_URL=" + receiver.URL(),
		"SUPABASE_URL=http://127.0.0.1:1", "VENDORHUB_GOOGLE_CLIENT_ID=marker-google-id", "VENDORHUB_MICROSOFT_CLIENT_ID=marker-ms-id",
		"VENDORHUB_NOTIFY_RETRY_BASE=100ms", "VENDORHUB_NOTIFY_MAX_ATTEMPTS=2"}
	for k, v := range markers {
		env = append(env, k+"="+v)
	}
	o := sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t), allStages: true, env: env, args: []string{"-v"}}
	sc := startSidecarWith(t, o)
	sc.waitRole("leader", 60*time.Second)

	// Events through every stage: a message (push, email to a provider refusing the key) and
	// status changes (outbound webhooks, CRM).
	_, err := db.Pool.Exec(ctx, `insert into public.messages (conversation_id, sender_id, body)
		values ('40000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000004', 'marker test')`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `insert into public.vendor_status_updates (wedding_id, vendor_id, status, note)
		values ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001', 'delayed', 'marker test')`)
	require.NoError(t, err)
	// Requests with wrong credentials.
	c := http.Client{Timeout: 5 * time.Second}
	for _, r := range []struct{ method, path, auth string }{
		{"POST", "/webhooks/resend/default", ""},
		{"POST", "/webhooks/twilio/default", ""},
		{"POST", "/webhooks/honeybook/60000000-0000-4000-8000-000000000001", ""},
		{"GET", "/dashboard", "Bearer wrong"},
		{"GET", "/readyz", ""},
		{"GET", "/metrics", ""},
		{"GET", "/realtime/v1/websocket?apikey=wrong", ""},
	} {
		req, err := http.NewRequest(r.method, "http://"+sc.addr+r.path, strings.NewReader(`{"type":"email.delivered"}`))
		require.NoError(t, err)
		if r.auth != "" {
			req.Header.Set("Authorization", r.auth)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	// Resend refused the key at least once, and the delivery worker logged it.
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err = resend.WaitFor(wctx, 1)
	require.NoError(t, err, "no email was attempted")
	require.Eventually(t, func() bool {
		var n int
		_ = db.Pool.QueryRow(ctx, `select count(*) from public.deliveries where provider = 'resend' and status <> 'queued'`).Scan(&n)
		return n > 0
	}, 60*time.Second, 50*time.Millisecond)
	require.NoError(t, sc.cmd.Process.Signal(syscall.SIGTERM))
	sc.exitCode(60 * time.Second)

	log := sc.log.String()
	require.Greater(t, strings.Count(log, "\n"), 20, "the exercise produced too little log to prove anything")
	forms := map[string]string{}
	for k, v := range markers {
		forms[k] = v
		if _, b64, ok := strings.Cut(v, ":"); ok && k == "VENDORHUB_ENCRYPTION_KEYS" {
			forms[k+" (base64)"] = b64
		}
	}
	forms["VENDORHUB_ENCRYPTION_KEYS (raw)"] = string(key)
	for name, m := range forms {
		for i, line := range strings.Split(log, "\n") {
			require.NotContains(t, line, m, "log line %d contains %s", i+1, name)
		}
	}
	require.NotContains(t, log, "MARKER")
}

// Health samples older than VENDORHUB_HEALTH_RETENTION are pruned when the monitor writes its
// first sample; younger ones stay, and with the default retention (7 days) both stay.
func TestHealthSamplesArePrunedAfterTheRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		retention string
		wantOld   int
	}{{"retention 1h", "1h", 0}, {"default retention", "", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := pgtest.NewDB(t)
			_, err := db.Pool.Exec(ctx, `insert into vendorhub.health_samples (sampled_at, instance) values
				(now() - interval '2 hours', 'old'), (now() - interval '30 minutes', 'recent')`)
			require.NoError(t, err)
			env := []string{"VENDORHUB_STAGES=health", "VENDORHUB_HEALTH_SAMPLE_INTERVAL=200ms", "VENDORHUB_HEALTH_POLL_INTERVAL=200ms"}
			if tc.retention != "" {
				env = append(env, "VENDORHUB_HEALTH_RETENTION="+tc.retention)
			}
			sc := startSidecarWith(t, sidecarOpts{bin: binary, dbURL: db.URL, slot: slotFor(t), env: env})
			sc.waitRole("leader", 30*time.Second)
			count := func(instance string) int {
				var n int
				require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.health_samples where instance = $1`, instance).Scan(&n))
				return n
			}
			// Wait for the second sample of the process: the first one's prune has committed.
			require.Eventually(t, func() bool {
				var n int
				_ = db.Pool.QueryRow(ctx, `select count(*) from vendorhub.health_samples where instance not in ('old', 'recent')`).Scan(&n)
				return n >= 2
			}, 30*time.Second, 20*time.Millisecond, "the monitor wrote no samples; log:\n%s", tail(sc.log.String(), 20))
			require.Equal(t, tc.wantOld, count("old"))
			require.Equal(t, 1, count("recent"), "a sample younger than the retention is kept")
		})
	}
}
