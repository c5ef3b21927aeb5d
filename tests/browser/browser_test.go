// Package browser_test drives real Chromium (Debian's /usr/bin/chromium, through playwright-core
// from node_modules) against a real `vendorhub dev` process: the operator dashboard, the demo
// pages and the admin pages, each scenario a Node script in this folder (lib.mjs holds the
// browser flags and helpers). Every scenario prints what it saw; the tests here check it against
// the dev database. Screenshots land in tests/artifacts/browser (gitignored).
package browser_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/proctest"
)

// Seeded ids (supabase/seed.sql).
const (
	dayOfConversation = "40000000-0000-4000-8000-000000000004" // planner, photographer (Lena), florist (Sam), …
	lenaID            = "10000000-0000-4000-8000-000000000004"
	samID             = "10000000-0000-4000-8000-000000000005"
	honeybookConn     = "60000000-0000-4000-8000-000000000001"
)

var (
	root  string // repository root
	dev   *devProc
	dbURL string
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var err error
		if root, err = repoRoot(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		binary := filepath.Join(os.TempDir(), "vendorhub-browser-test-bin", "vendorhub")
		if err := proctest.Build(binary, "", false); err != nil {
			fmt.Fprintln(os.Stderr, "build vendorhub:", err)
			return 1
		}
		dev, err = startDev(binary)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer dev.stop()
		dbURL = dev.databaseURL
		code := m.Run()
		if code != 0 {
			fmt.Fprintf(os.Stderr, "vendorhub dev log (tail):\n%s\n", tail(dev.log.String(), 80))
		}
		return code
	}())
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// devProc is the `vendorhub dev` process every test shares.
type devProc struct {
	cmd         *exec.Cmd
	base        string
	databaseURL string
	log         *proctest.Buffer
	done        chan struct{}
}

// startDev runs `vendorhub dev` from the repository root (so it finds node_modules'
// supabase-js) on free ports, and waits for its database URL and for /readyz.
func startDev(binary string) (*devProc, error) {
	addr, err := proctest.FreeAddr()
	if err != nil {
		return nil, err
	}
	dbAddr, err := proctest.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, dbPort, _ := net.SplitHostPort(dbAddr)
	dataDir, err := os.MkdirTemp("", "vendorhub-browser-dev-")
	if err != nil {
		return nil, err
	}
	p := &devProc{base: "http://" + addr, log: &proctest.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, "dev", "-db-port", dbPort)
	p.cmd.Dir = root
	p.cmd.Env = append(os.Environ(), "VENDORHUB_HTTP_ADDR="+addr, "VENDORHUB_DEV_DATA_DIR="+dataDir,
		"VENDORHUB_HEALTH_POLL_INTERVAL=1s", "VENDORHUB_HEALTH_SAMPLE_INTERVAL=2s")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done); _ = os.RemoveAll(dataDir) }()

	deadline := time.After(3 * time.Minute)
	for p.databaseURL == "" {
		for _, line := range strings.Split(p.log.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "  DATABASE_URL="); ok {
				p.databaseURL = strings.TrimSpace(u)
			}
		}
		if p.databaseURL != "" {
			break
		}
		select {
		case <-p.log.Changed():
		case <-p.done:
			return nil, fmt.Errorf("vendorhub dev exited:\n%s", tail(p.log.String(), 60))
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("vendorhub dev printed no DATABASE_URL:\n%s", tail(p.log.String(), 60))
		}
	}
	c := http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := c.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-tick.C:
		case <-p.done:
			return nil, fmt.Errorf("vendorhub dev exited:\n%s", tail(p.log.String(), 60))
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("vendorhub dev never became ready:\n%s", tail(p.log.String(), 60))
		}
	}
}

func (p *devProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// scenario runs tests/browser/<name>.mjs and returns the JSON it printed.
func scenario(t *testing.T, name string, env ...string) map[string]any {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	require.NoError(t, err, "node is required (make deps)")
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, name+".mjs")
	cmd.Dir = filepath.Join(root, "tests", "browser")
	cmd.Env = append(os.Environ(), append(env, "BASE_URL="+dev.base,
		"ARTIFACTS="+filepath.Join(root, "tests", "artifacts", "browser"))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	require.NoError(t, err, "scenario %s failed:\n%s\n%s", name, stderr.String(), stdout.String())
	var last string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "{") {
			last = sc.Text()
		}
	}
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(last), &out), "scenario %s printed no result:\n%s", name, stdout.String())
	require.Equal(t, true, out["ok"])
	return out
}

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestDashboardLoadsWithoutConsoleErrorsAndShowsSeededIntegrations(t *testing.T) {
	res := scenario(t, "dashboard")
	require.Empty(t, res["errors"], "console errors on the dashboard")

	conn := connect(t)
	rows, err := conn.Query(t.Context(), `select display_name from public.integration_connections order by display_name`)
	require.NoError(t, err)
	seeded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, seeded)
	cards := strs(res["cards"])
	for _, name := range seeded {
		require.Contains(t, cards, name, "integration card of seeded connection %q", name)
	}
	require.Contains(t, []string{"healthy", "degraded", "down"}, res["level"])
	require.EqualValues(t, 1, res["chart"], "lag chart")
	// The refresh keeps every card and draws none twice; a provider card may join meanwhile.
	after := strs(res["cardsAfter"])
	require.Subset(t, after, cards, "cards after the live refresh")
	count := func(names []string) map[string]int {
		m := map[string]int{}
		for _, n := range names {
			m[n]++
		}
		return m
	}
	before, now := count(cards), count(after)
	for name, n := range before {
		require.Equal(t, n, now[name], "cards named %q after the live refresh", name)
	}
	require.EqualValues(t, 1, res["mailbox"], "dev mailbox section")
	require.EqualValues(t, http.StatusOK, res["riveruiStatus"], "River UI mounted under /riverui/")
}

func TestMessageSentInOneTabAppearsInTheOtherWithoutReloadButNotForAnOutsider(t *testing.T) {
	res := scenario(t, "chat", "CONVERSATION="+dayOfConversation)
	text := res["text"].(string)
	require.Equal(t, "still here", res["noReload"], "the florist's tab was reloaded")
	require.EqualValues(t, 0, res["outsiderCount"], "the outsider's tab showed the message")
	require.Equal(t, false, res["outsiderSawText"])
	require.Equal(t, "CHANNEL_ERROR", res["outsiderStatus"], "RLS must refuse the outsider's channel")
	require.Equal(t, "", res["outsiderTyping"], "the outsider's tab saw someone typing")

	// The message was written once, by the photographer, through rpc('send_message').
	conn := connect(t)
	var sender string
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `select count(*), min(sender_id::text) from public.messages
		where conversation_id = $1 and body = $2`, dayOfConversation, text).Scan(&n, &sender))
	require.Equal(t, 1, n)
	require.Equal(t, lenaID, sender)
	t.Logf("message reached the florist's tab %v ms after the click", res["receivedMs"])
}

func TestTabMissesMessagesDuringANetworkCutAndGetsThemBackWithoutReload(t *testing.T) {
	res := scenario(t, "reconnect", "CONVERSATION="+dayOfConversation)
	require.NotEqual(t, "SUBSCRIBED", res["offlineStatus"], "the cut was noticed")
	require.EqualValues(t, 1, res["shownWhileCut"], "nothing arrived while the network was cut")
	require.EqualValues(t, 4, res["shown"], "every message shown once")
	require.EqualValues(t, 3, res["replayed"], "the three missed messages came back by replay")
	require.Equal(t, []any{"before the cut", "missed 1", "missed 2", "missed 3"}, res["order"])
	require.Equal(t, "still here", res["noReload"], "the tab was reloaded")
}

func TestSettingsPageStoresWhatIsToggled(t *testing.T) {
	conn := connect(t)
	res := scenario(t, "settings", "AS=sam")
	require.Empty(t, res["errors"])
	require.Equal(t, "true", res["toggleOK"])
	before, after := res["before"].(bool), res["after"].(bool)
	require.NotEqual(t, before, after, "the switch did not change")

	// Every vendor category × channel of the switch is stored with the new value.
	var rowsN, matching int
	require.NoError(t, conn.QueryRow(t.Context(), `
select count(*), count(*) filter (where enabled = $2)
from public.notification_preferences
where user_id = $1 and category in ('new_message', 'status_change', 'booking', 'availability', 'task')
  and channel in ('push', 'email', 'in_app')`, samID, after).Scan(&rowsN, &matching))
	require.Equal(t, 15, rowsN)
	require.Equal(t, 15, matching)

	require.Equal(t, "true", res["pushOK"])
	var platform, user string
	var enabled bool
	require.NoError(t, conn.QueryRow(t.Context(), `select platform, user_id::text, enabled from public.devices where id = $1`,
		res["deviceId"]).Scan(&platform, &user, &enabled))
	require.Equal(t, "web", platform)
	require.Equal(t, samID, user)
	require.True(t, enabled)

	require.Equal(t, "true", res["quietOK"])
	var tz, qs, qe string
	require.NoError(t, conn.QueryRow(t.Context(), `select timezone::text, to_char(quiet_hours_start, 'HH24:MI'),
		to_char(quiet_hours_end, 'HH24:MI') from public.notification_settings where user_id = $1`, samID).Scan(&tz, &qs, &qe))
	require.Equal(t, []string{"Europe/Paris", "21:30", "07:15"}, []string{tz, qs, qe})
}

func TestSendTestWebhookStoresAnInboxRowAndReportsSuccess(t *testing.T) {
	conn := connect(t)
	var before int
	require.NoError(t, conn.QueryRow(t.Context(), `select count(*) from vendorhub.webhook_inbox where connection_id = $1`,
		honeybookConn).Scan(&before))
	res := scenario(t, "webhook")
	require.Empty(t, res["errors"])
	require.Equal(t, dev.base+"/webhooks/honeybook/"+honeybookConn, res["honeybookURL"])
	require.True(t, strings.HasPrefix(res["dubsadoURL"].(string), dev.base+"/webhooks/dubsado/"), res["dubsadoURL"])
	require.Equal(t, honeybookConn, res["connection"])
	require.Equal(t, "true", res["resultOK"], res["message"])
	require.Contains(t, res["message"], "delivered")

	var source, conn2 string
	var payload []byte
	require.NoError(t, conn.QueryRow(t.Context(), `select source, connection_id::text, payload::text::bytea
		from vendorhub.webhook_inbox where id = $1`, res["inboxId"]).Scan(&source, &conn2, &payload))
	require.Equal(t, "honeybook", source)
	require.Equal(t, honeybookConn, conn2)
	require.Contains(t, string(payload), `"vendorhub.test"`)
	var after int
	require.NoError(t, conn.QueryRow(t.Context(), `select count(*) from vendorhub.webhook_inbox where connection_id = $1`,
		honeybookConn).Scan(&after))
	require.Equal(t, before+1, after)
}

func rateOf(ok, settled int64) string {
	if settled == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(ok)/float64(settled), 'f', 6, 64)
}

func TestHealthPageShowsTheDatabasesFigures(t *testing.T) {
	conn := connect(t)
	ctx := t.Context()
	// Let the notification jobs of earlier scenarios settle, so no delivery row lands while
	// the page and this test read.
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(ctx, `select count(*) from river.river_job where state in ('available', 'running')`).Scan(&n)
		return err == nil && n == 0
	}, 60*time.Second, 100*time.Millisecond)

	res := scenario(t, "health")
	require.Empty(t, res["errors"])
	from, err := time.Parse(time.RFC3339Nano, res["from"].(string))
	require.NoError(t, err)
	to, err := time.Parse(time.RFC3339Nano, res["to"].(string))
	require.NoError(t, err)
	fig := func(id string) map[string]any { return res["figures"].(map[string]any)[id].(map[string]any) }

	var ok, settled int64
	require.NoError(t, conn.QueryRow(ctx, `select count(*) filter (where status in ('sent', 'delivered', 'opened')),
		count(*) filter (where status in ('sent', 'delivered', 'opened', 'failed', 'suppressed'))
		from public.deliveries where created_at >= $1 and created_at < $2`, from, to).Scan(&ok, &settled))
	require.Positive(t, settled, "the seed and the earlier scenarios delivered notifications")
	require.Equal(t, rateOf(ok, settled), fig("notification-success-rate")["value"])
	notif := float64(ok) / float64(settled)

	// Deliveries by channel and status, row for row.
	rows, err := conn.Query(ctx, `select channel::text, status, count(*) from public.deliveries
		where created_at >= $1 and created_at < $2 group by 1, 2 order by 1, 2`, from, to)
	require.NoError(t, err)
	var want []map[string]any
	var ch, st string
	var c int64
	_, err = pgx.ForEachRow(rows, []any{&ch, &st, &c}, func() error {
		want = append(want, map[string]any{"channel": ch, "status": st, "count": float64(c)})
		return nil
	})
	require.NoError(t, err)
	var got []map[string]any
	for _, d := range res["deliveries"].([]any) {
		got = append(got, d.(map[string]any))
	}
	require.Equal(t, want, got)

	var wok, wsettled int64
	require.NoError(t, conn.QueryRow(ctx, `select count(*) filter (where status = 'succeeded'),
		count(*) filter (where status in ('succeeded', 'failed', 'discarded'))
		from public.webhook_deliveries where occurred_at >= $1 and occurred_at < $2`, from, to).Scan(&wok, &wsettled))
	require.Equal(t, rateOf(wok, wsettled), fig("webhook-delivery-rate")["value"])

	var attempts int64
	require.NoError(t, conn.QueryRow(ctx, `select count(*) from public.webhook_delivery_attempts
		where started_at >= $1 and started_at < $2 and duration_ms is not null`, from, to).Scan(&attempts))
	require.Equal(t, strconv.FormatInt(attempts, 10), fig("webhook-response-time")["n"])

	var sent int64
	var p95 *float64
	require.NoError(t, conn.QueryRow(ctx, `
select count(*), percentile_cont(0.95) within group (order by extract(epoch from d.created_at - n.created_at) * 1000)
from public.deliveries d join public.notifications n on n.id = d.notification_id
where d.created_at >= $1 and d.created_at < $2 and d.status in ('sent', 'delivered', 'opened')`, from, to).Scan(&sent, &p95))
	require.Equal(t, strconv.FormatInt(sent, 10), fig("notification-delivery-time")["n"])
	if p95 != nil {
		v, err := strconv.ParseFloat(fig("notification-delivery-time")["value"].(string), 64)
		require.NoError(t, err)
		require.InDelta(t, math.Max(*p95, 0), v, 0.001)
	}

	var events int64
	require.NoError(t, conn.QueryRow(ctx, `select coalesce(sum(c), 0)::bigint from vendorhub.health_samples s,
		unnest(s.realtime_latency_counts) c where s.sampled_at >= $1 and s.sampled_at < $2`, from, to).Scan(&events))
	require.Equal(t, strconv.FormatInt(events, 10), fig("realtime-latency")["n"])
	require.Positive(t, events, "the chat scenario's messages were broadcast and measured")

	var transitions int
	require.NoError(t, conn.QueryRow(ctx, `select count(*) from vendorhub.breaker_transitions`).Scan(&transitions))
	require.Zero(t, transitions, "no breaker changed state in these scenarios")
	require.Equal(t, "1.000000", fig("integration-uptime")["value"])

	var cok, csettled int64
	require.NoError(t, conn.QueryRow(ctx, `select count(*) filter (where s.status in ('ok', 'not_modified')),
		count(*) filter (where s.status <> 'superseded')
		from public.sync_runs s join public.integration_connections c on c.id = s.connection_id
		where c.kind in ('honeybook', 'dubsado', 'lightblue') and s.started_at >= $1 and s.started_at < $2`, from, to).Scan(&cok, &csettled))
	parts := []float64{notif, 1} // notification success, mean uptime
	if wsettled > 0 {
		parts = append(parts, float64(wok)/float64(wsettled))
	}
	if csettled > 0 {
		parts = append(parts, float64(cok)/float64(csettled))
	}
	var sum float64
	for _, p := range parts {
		sum += p
	}
	require.Equal(t, strconv.FormatFloat(sum/float64(len(parts)), 'f', 6, 64), fig("overall-integration-health")["value"])

	// Realtime connections is the gateway's live socket count, as /metrics reports it.
	require.Equal(t, metric(t, "vendorhub_gateway_connections"), fig("realtime-connections")["value"])
}

// metric reads one unlabelled gauge from /metrics.
func metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get(dev.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("metric %s not found", name)
	return ""
}

func TestMobileViewportIsUsable(t *testing.T) {
	res := scenario(t, "mobile", "CONVERSATION="+dayOfConversation)
	require.Empty(t, res["errors"])
	require.Equal(t, true, res["inputOnScreen"], "message input on screen at 375×667")
	require.Equal(t, true, res["sendOnScreen"], "send button on screen at 375×667")
	require.Equal(t, true, res["toggleOnScreen"], "settings switch on screen at 375×667")
	pages := res["pages"].(map[string]any)
	names := make([]string, 0, len(pages))
	for name, v := range pages {
		names = append(names, name)
		p := v.(map[string]any)
		require.LessOrEqual(t, p["scrollWidth"].(float64), p["innerWidth"].(float64)+1, "%s scrolls sideways at 375 px", name)
	}
	slices.Sort(names)
	require.Equal(t, []string{"chat", "dashboard", "health", "integrations", "settings"}, names)

	conn := connect(t)
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `select count(*) from public.messages where body = $1 and sender_id = $2`,
		res["text"], samID).Scan(&n))
	require.Equal(t, 1, n, "the message sent from the phone-sized page was stored")
}
