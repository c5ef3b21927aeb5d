// Package edge_test serves the webhook-inbox edge function with the real Deno (node_modules,
// npm "deno") against `vendorhub dev`: a signed request reaches it over HTTP, it stores with
// the real supabase-js (rpc("webhook_inbox_insert"), from the repository's node_modules, the
// version pinned by the function's deno.json) through the dev PostgREST stand-in's
// /rest/v1/rpc endpoint, the row's webhook.received event flows through the WAL to the
// sidecar, a supabase-js error is a 500 that stores nothing, and its rejections match the
// sidecar's own ingress (internal/webhook).
package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/denotest"
	"github.com/wedsync/vendorhub/internal/integration"
	it "github.com/wedsync/vendorhub/internal/integration/integrationtest"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/proctest"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

var binary string

// seedDubsado is the seeded Dubsado connection (supabase/seed.sql).
const seedDubsado = "60000000-0000-4000-8000-000000000002"

func TestMain(m *testing.M) {
	dir := filepath.Join(os.TempDir(), "vendorhub-edge-test-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vendorhub")
	if err := proctest.Build(binary, "", false); err != nil {
		fmt.Fprintln(os.Stderr, "build vendorhub:", err)
		os.Exit(1)
	}
	pgtest.Main(m)
}

// startProc starts cmd, stops it (SIGINT, then SIGKILL) at cleanup and logs its output on failure.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proctest.Buffer {
	t.Helper()
	out := &proctest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return out
}

// waitLine waits until out holds a line containing s.
func waitLine(t *testing.T, out *proctest.Buffer, s string, timeout time.Duration) string {
	t.Helper()
	var line string
	found := func() bool {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), s) {
				line = sc.Text()
				return true
			}
		}
		return false
	}
	if !assert.Eventually(t, found, timeout, 20*time.Millisecond) {
		t.Fatalf("no %q within %s:\n%s", s, timeout, out.String())
	}
	return line
}

// diag describes what became of inbox row id, for a failure message.
func diag(pool *pgxpool.Pool, id string) string {
	var out string
	_ = pool.QueryRow(context.Background(), `select coalesce((select string_agg(kind || ' ' || state::text || ' ' || coalesce(errors::text, ''), '; ') from river.river_job where args->>'inbox_id' = $1::text), 'no job')
		|| ' / inbox ' || coalesce((select row_to_json(i)::text from vendorhub.webhook_inbox i where id = $1::uuid), 'no row')`, id).Scan(&out)
	return out
}

type answer struct {
	status int
	body   map[string]any
}

func post(t *testing.T, url string, h http.Header, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%d %s", resp.StatusCode, b)
	return answer{resp.StatusCode, m}
}

func signed(key []byte, id string, ts time.Time, body []byte) http.Header {
	return http.Header{
		"Content-Type": {"application/json"}, "Webhook-Id": {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)}, "Webhook-Signature": {signature.Sign(key, id, ts, body)},
	}
}

func TestEdgeFunctionServedByDeno(t *testing.T) {
	t.Parallel()
	// vendorhub dev: ephemeral Postgres, migrations, seed, sidecar, PostgREST stand-in.
	devAddr := proctest.Addr(t)
	dev := exec.Command(binary, "dev")
	dev.Env = append(os.Environ(), "VENDORHUB_HTTP_ADDR="+devAddr, "VENDORHUB_DEV_DB_PORT="+proctest.Port(t))
	devOut := startProc(t, "vendorhub dev", dev)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + devAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 120*time.Second, 100*time.Millisecond, "vendorhub dev ready")
	dbURL := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(waitLine(t, devOut, "DATABASE_URL=", time.Second)), "DATABASE_URL="))
	pool, err := pgxpool.New(t.Context(), dbURL)
	require.NoError(t, err)
	defer pool.Close()

	// The edge function under Deno, offline (supabase-js from node_modules, no remote
	// imports), env as on the platform; a second one misconfigured with the anon key.
	key := []byte("edge-secret-edge-secret-edge-se")
	secret := signature.FormatSecret(key)
	serve := func(name, apiKey string) (string, *proctest.Buffer) {
		addr := proctest.Addr(t)
		fn := denotest.Command(t, "webhook-inbox", "run", "--allow-net", "--allow-env", "index.ts")
		fn.Env = append(fn.Env, "DENO_SERVE_ADDRESS=tcp:"+addr, "SUPABASE_URL=http://"+devAddr, "SUPABASE_SERVICE_ROLE_KEY="+apiKey,
			"WEBHOOK_SECRET="+secret, "WEBHOOK_SOURCE=dubsado", "WEBHOOK_CONNECTION_ID="+seedDubsado)
		return "http://" + addr + "/", startProc(t, name, fn)
	}
	edgeURL, edgeOut := serve("deno", auth.DevServiceRoleKey)
	anonURL, anonOut := serve("deno (anon key)", auth.DevAnonKey)
	waitLine(t, edgeOut, "Listening on", 60*time.Second)
	waitLine(t, anonOut, "Listening on", 60*time.Second)

	// A signed request is stored once; a retry is a duplicate.
	id := fmt.Sprintf("msg_edge_%d", time.Now().UnixNano())
	body := []byte(`{"trigger":"New Project as Lead","project_id":"` + id + `","project_name":"Edge lead","client_email":"ava@example.com"}`)
	now := time.Now()
	got := post(t, edgeURL, signed(key, id, now, body), body)
	require.Equal(t, answer{200, map[string]any{"status": "stored"}}, got)
	got = post(t, edgeURL, signed(key, id, now, body), body)
	require.Equal(t, answer{200, map[string]any{"status": "duplicate"}}, got)
	var inboxID, source string
	var payload map[string]any
	require.NoError(t, pool.QueryRow(t.Context(), `select id::text, source, payload from vendorhub.webhook_inbox where provider_event_id = $1`, id).
		Scan(&inboxID, &source, &payload))
	require.Equal(t, "dubsado", source)
	require.Equal(t, "ava@example.com", payload["client_email"])

	// supabase-js's error (anon may not call webhook_inbox_insert: 401, 42501) is a server
	// error: 500, nothing stored, the sender retries.
	failID := fmt.Sprintf("msg_edge_fail_%d", time.Now().UnixNano())
	got = post(t, anonURL, signed(key, failID, now, body), body)
	require.Equal(t, answer{500, map[string]any{"error": "Internal Server Error"}}, got)
	waitLine(t, anonOut, "store failed: webhook_inbox_insert: HTTP 401 42501", 10*time.Second)
	var failed int
	require.NoError(t, pool.QueryRow(t.Context(), `select count(*) from vendorhub.webhook_inbox where provider_event_id = $1`, failID).Scan(&failed))
	require.Zero(t, failed)

	// Downstream: the insert's webhook.received event reaches the sidecar through the WAL; its
	// hand-off enqueues the connector's inbox job, which processes the row once.
	require.Eventually(t, func() bool {
		var jobs int
		var processed bool
		err := pool.QueryRow(context.Background(), `select (select count(*) from river.river_job where args->>'inbox_id' = $1),
			(select processed_at is not null from vendorhub.webhook_inbox where id = $1::uuid)`, inboxID).Scan(&jobs, &processed)
		return err == nil && jobs == 1 && processed
	}, 60*time.Second, 100*time.Millisecond, "the sidecar processed the stored row")
	t.Logf("downstream: %s", diag(pool, inboxID))

	// The sidecar's own ingress on the same database, for a Standard Webhooks connection with
	// the same secret: bad signatures and oversize bodies get the same answers from both.
	ctx := t.Context()
	keyring := it.Keyring(t)
	vendor := it.Vendor(t, pool, "Edge", "UTC")
	conn := it.Connection(t, pool, keyring, vendor, integration.Kind("standard_webhooks"), nil, integration.Credential{Secret: secret})
	ab := audit.NewBuffer(pool, audit.BufferConfig{})
	defer ab.Close()
	h, err := webhook.New(pool, keyring, ab, webhook.Config{})
	require.NoError(t, err)
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}/{connection}", h)
	ingress := httptest.NewServer(mux)
	defer ingress.Close()
	ingressURL := ingress.URL + "/webhooks/standard/" + conn

	cases := map[string]func() (http.Header, []byte){
		"wrong secret": func() (http.Header, []byte) {
			return signed([]byte("another-secret-another-secret-a"), "msg_bad_1", time.Now(), body), body
		},
		"stale timestamp": func() (http.Header, []byte) {
			old := time.Now().Add(-time.Hour)
			return signed(key, "msg_bad_2", old, body), body
		},
		"no signature": func() (http.Header, []byte) {
			return http.Header{"Content-Type": {"application/json"}}, body
		},
		"oversize": func() (http.Header, []byte) {
			big := []byte(`{"pad":"` + strings.Repeat("x", webhook.MaxBodyBytesDefault) + `"}`)
			return signed(key, "msg_big", time.Now(), big), big
		},
	}
	for name, mk := range cases {
		h1, b1 := mk()
		fromEdge := post(t, edgeURL, h1, b1)
		h2, b2 := mk()
		fromSidecar := post(t, ingressURL, h2, b2)
		require.Equal(t, fromSidecar, fromEdge, name)
		want := http.StatusUnauthorized
		if name == "oversize" {
			want = http.StatusRequestEntityTooLarge
		}
		require.Equal(t, want, fromEdge.status, name)
	}
	var stored int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from vendorhub.webhook_inbox where provider_event_id like 'msg_bad_%' or provider_event_id = 'msg_big'`).Scan(&stored))
	require.Zero(t, stored, "nothing rejected was stored")
}
