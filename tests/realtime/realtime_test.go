// Package realtime_test holds the end-to-end tests: the real @supabase/supabase-js
// 2.119 (Node, `ws` transport) against the real `vendorhub` binary's embedded Realtime
// gateway, with messages inserted through SQL as authenticated users and carried by the
// replication pipeline. Each scenario is a Node script in this folder (see lib.mjs for the
// line protocol between the script and this driver).
package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/proctest"
)

// binary is the vendorhub binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir := filepath.Join(os.TempDir(), "vendorhub-realtime-test-bin")
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

// Seeded ids (supabase/seed.sql): wedding 1, its first conversation, and people by email.
const (
	seedWedding      = "30000000-0000-4000-8000-000000000001"
	seedConversation = "40000000-0000-4000-8000-000000000001" // Ava, Noah (couple), Lena (photographer), Priya (planner)
)

var seedEmails = map[string]string{
	"ava": "ava@example.com", "noah": "noah@example.com", "lena": "lena@lumenandlace.example.com",
	"priya": "priya@harborandvine.example.com", "sam": "sam@wildstem.example.com", "oscar": "oscar@elsewhere.example.com",
}

type person struct{ id, email, vendor string }

// people looks the seeded people up by email.
func people(t *testing.T, dbURL string) map[string]person {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	out := map[string]person{}
	for name, email := range seedEmails {
		var p person
		err := conn.QueryRow(t.Context(), `select u.id::text, u.email, coalesce((select m.vendor_id::text from public.vendor_members m where m.user_id = u.id limit 1), '')
			from auth.users u where u.email = $1`, email).Scan(&p.id, &p.email, &p.vendor)
		require.NoError(t, err, "seeded user %s", email)
		out[name] = p
	}
	return out
}

func token(t *testing.T, p person, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: p.id, Email: p.email, TTL: ttl})
	require.NoError(t, err)
	return tok
}

// sendMessage posts a message as user through the send_message RPC, as PostgREST would for
// that user's JWT (role authenticated + claims), and returns its id.
func sendMessage(t *testing.T, dbURL, userID, conversation, body string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, pgtest.AsUser(ctx, tx, userID))
	var id string
	require.NoError(t, tx.QueryRow(ctx, `select (public.send_message($1::uuid, $2)).id::text`, conversation, body).Scan(&id))
	require.NoError(t, tx.Commit(ctx))
	return id
}

// storedBroadcasts counts the message.created broadcasts stored in realtime.messages for
// these message ids.
func storedBroadcasts(t *testing.T, dbURL string, messageIDs []string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `select count(*) from realtime.messages
where extension = 'broadcast' and event = 'message.created' and payload->'data'->>'message_id' = any($1)`, messageIDs).Scan(&n))
	return n
}

// proc is a vendorhub process.
type proc struct {
	cmd  *exec.Cmd
	addr string
	log  *proctest.Buffer
	done chan struct{}
}

func start(t *testing.T, addr string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{addr: addr, log: &proctest.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), append(env, "VENDORHUB_HTTP_ADDR="+addr)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(syscall.SIGINT)
		if t.Failed() {
			t.Logf("vendorhub %s log:\n%s", strings.Join(args, " "), tail(p.log.String(), 60))
		}
	})
	return p
}

// stop sends sig and waits for the process to end (SIGKILL after 30 s).
func (p *proc) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitReady waits for /readyz to answer 200 (the replication stream is the leader).
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	c := http.Client{Timeout: time.Second}
	require.Eventually(t, func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		resp, err := c.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 90*time.Second, 50*time.Millisecond)
	select {
	case <-p.done:
		t.Fatalf("vendorhub exited:\n%s", tail(p.log.String(), 60))
	default:
	}
}

var devURLLine = "  DATABASE_URL="

// databaseURL returns the DATABASE_URL `vendorhub dev` printed.
func (p *proc) databaseURL(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(p.log.String(), "\n") {
		if u, ok := strings.CutPrefix(line, devURLLine); ok {
			return strings.TrimSpace(u)
		}
	}
	t.Fatalf("vendorhub dev printed no DATABASE_URL:\n%s", p.log.String())
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// node runs one scenario script and exchanges line messages with it.
type node struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan map[string]any
	stderr *proctest.Buffer
	done   chan error
}

func runNode(t *testing.T, script string, env map[string]string) *node {
	t.Helper()
	bin, err := exec.LookPath("node")
	require.NoError(t, err, "node is required for the end-to-end tests (make deps)")
	n := &node{t: t, events: make(chan map[string]any, 64), stderr: &proctest.Buffer{}, done: make(chan error, 1)}
	n.cmd = exec.Command(bin, script)
	n.cmd.Dir = "."
	n.cmd.Env = os.Environ()
	for k, v := range env {
		n.cmd.Env = append(n.cmd.Env, k+"="+v)
	}
	n.cmd.Stderr = n.stderr
	n.stdin, err = n.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := n.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, n.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				ev = map[string]any{"event": "output", "line": sc.Text()}
			}
			n.events <- ev
		}
		close(n.events)
		n.done <- n.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("node %s stderr:\n%s", script, tail(n.stderr.String(), 40))
		}
	})
	return n
}

// expect waits for the scenario's next event, which must be want.
func (n *node) expect(want string) map[string]any {
	n.t.Helper()
	timer := time.NewTimer(120 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-n.events:
			if !ok {
				n.t.Fatalf("scenario ended before %q: %v", want, <-n.done)
			}
			switch ev["event"] {
			case want:
				return ev
			case "output":
				n.t.Logf("node: %s", ev["line"])
				continue
			case "error":
				n.t.Fatalf("scenario failed waiting for %q:\n%s", want, ev["message"])
			default:
				n.t.Fatalf("scenario sent %v, want %q", ev, want)
			}
		case <-timer.C:
			n.t.Fatalf("no %q from the scenario within 120s", want)
		}
	}
}

// reply answers the scenario's last question.
func (n *node) reply(v any) {
	n.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(n.t, err)
	_, err = n.stdin.Write(append(b, '\n'))
	require.NoError(n.t, err)
}

// finish waits for "done" and a zero exit.
func (n *node) finish() map[string]any {
	n.t.Helper()
	ev := n.expect("done")
	require.NoError(n.t, <-n.done, "scenario exit status")
	return ev
}

// TestSupabaseJSAgainstVendorhubDev runs the scenarios against one `vendorhub dev`.
func TestSupabaseJSAgainstVendorhubDev(t *testing.T) {
	t.Parallel()
	dev := start(t, proctest.Addr(t), []string{"VENDORHUB_DEV_DB_PORT=" + proctest.Port(t)}, "dev")
	dev.waitReady(t)
	dbURL := dev.databaseURL(t)
	require.Contains(t, dev.log.String(), "SUPABASE_ANON_KEY="+auth.DevAnonKey, "dev prints the anon key")
	require.Contains(t, dev.log.String(), "createClient('http://"+dev.addr+"'", "dev prints a createClient snippet")
	who := people(t, dbURL)
	base := map[string]string{
		"SUPABASE_URL": "http://" + dev.addr, "SUPABASE_ANON_KEY": auth.DevAnonKey,
		"CONVERSATION_ID": seedConversation, "WEDDING_ID": seedWedding,
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	t.Run("conversation", func(t *testing.T) {
		n := runNode(t, "conversation.mjs", with(
			"AVA_TOKEN", token(t, who["ava"], time.Hour), "NOAH_TOKEN", token(t, who["noah"], time.Hour),
			"LENA_TOKEN", token(t, who["lena"], time.Hour), "OSCAR_TOKEN", token(t, who["oscar"], time.Hour),
			"LENA_ID", who["lena"].id))
		n.expect("subscribed")
		body := "Shot list attached — see you Saturday!"
		n.reply(map[string]string{"message_id": sendMessage(t, dbURL, who["lena"].id, seedConversation, body), "body": body})
		n.expect("received")
		n.reply(map[string]string{"message_id": sendMessage(t, dbURL, who["ava"].id, seedConversation, "Thanks Lena")})
		n.finish()
	})

	t.Run("presence", func(t *testing.T) {
		var vendors []map[string]string
		for _, name := range []string{"lena", "sam", "priya"} {
			p := who[name]
			require.NotEmpty(t, p.vendor, "%s is a vendor member", name)
			vendors = append(vendors, map[string]string{"name": name, "token": token(t, p, time.Hour), "vendor_id": p.vendor, "user_id": p.id})
		}
		b, err := json.Marshal(vendors)
		require.NoError(t, err)
		runNode(t, "presence.mjs", with("VENDORS", string(b))).finish()
	})

	t.Run("broadcast-ack", func(t *testing.T) {
		runNode(t, "broadcast.mjs", with(
			"AVA_TOKEN", token(t, who["ava"], time.Hour), "NOAH_TOKEN", token(t, who["noah"], time.Hour),
			"LENA_TOKEN", token(t, who["lena"], time.Hour))).finish()
	})

	t.Run("replay", func(t *testing.T) {
		n := runNode(t, "replay.mjs", with(
			"AVA_TOKEN", token(t, who["ava"], time.Hour), "NOAH_TOKEN", token(t, who["noah"], time.Hour),
			"LENA_TOKEN", token(t, who["lena"], time.Hour), "OSCAR_TOKEN", token(t, who["oscar"], time.Hour),
			"CHATTER_TOPIC", "conversation:"+seedConversation+":chatter"))
		// write sends n messages as lena and waits until the sidecar stored their broadcasts:
		// what a client missed is what was stored while it was away.
		write := func(n int, what string, author ...string) []string {
			from := who["lena"].id
			if len(author) > 0 {
				from = who[author[0]].id
			}
			ids := make([]string, n)
			for i := range ids {
				ids[i] = sendMessage(t, dbURL, from, seedConversation, fmt.Sprintf("%s %d", what, i+1))
			}
			require.Eventually(t, func() bool { return storedBroadcasts(t, dbURL, ids) == n }, 30*time.Second, 5*time.Millisecond)
			return ids
		}
		n.expect("subscribed")
		n.reply(map[string]string{"message_id": write(1, "before")[0]})
		n.expect("disconnected")
		n.reply(map[string][]string{"message_ids": write(10, "missed")})
		n.expect("replayed")
		n.reply(map[string]string{"message_id": write(1, "live")[0]})
		n.expect("live-seen")
		n.reply(map[string][]string{"message_ids": write(15, "more")})
		n.expect("capped")
		n.reply(map[string]string{"message_id": write(1, "marker", "noah")[0]}) // lena joined with self: false
		ev := n.finish()
		require.EqualValues(t, 10, ev["replayed"])
	})

	t.Run("forgery", func(t *testing.T) {
		n := runNode(t, "forgery.mjs", with(
			"LENA_TOKEN", token(t, who["lena"], time.Hour), "AVA_TOKEN", token(t, who["ava"], time.Hour),
			"LENA_ID", who["lena"].id, "LENA_VENDOR_ID", who["lena"].vendor))
		n.expect("forged")
		var task, notification string
		dbExec(t, dbURL, `update public.tasks set status = case when status = 'done' then 'todo' else 'done' end
			where id = (select id from public.tasks where wedding_id = $1 order by id limit 1) returning id::text`, []any{seedWedding}, &task)
		dbExec(t, dbURL, `insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ($1, '2027-08-01 10:00Z', '2027-08-01 12:00Z') returning id::text`, []any{who["lena"].vendor}, new(string))
		dbExec(t, dbURL, `insert into public.notifications (user_id, wedding_id, category, title) values ($1, $2, 'new_message', 'Forgery test') returning id::text`, []any{who["lena"].id, seedWedding}, &notification)
		n.reply(map[string]string{"message_id": sendMessage(t, dbURL, who["noah"].id, seedConversation, "the real message"), "task_id": task, "notification_id": notification})
		ev := n.finish()
		t.Logf("forgery: %v", ev)
	})

	t.Run("bookings", func(t *testing.T) {
		n := runNode(t, "bookings.mjs", with(
			"LENA_TOKEN", token(t, who["lena"], time.Hour), "AVA_TOKEN", token(t, who["ava"], time.Hour),
			"PRIYA_TOKEN", token(t, who["priya"], time.Hour), "LENA_VENDOR_ID", who["lena"].vendor, "PRIYA_VENDOR_ID", who["priya"].vendor))
		n.expect("subscribed")
		var booking, task string
		dbExec(t, dbURL, `update public.bookings set title = title || ' (updated)' where vendor_id = $1 and wedding_id = $2 returning id::text`, []any{who["lena"].vendor, seedWedding}, &booking)
		dbExec(t, dbURL, `update public.tasks set title = title || '.' where id = (select id from public.tasks where wedding_id = $1 order by id limit 1) returning id::text`, []any{seedWedding}, &task)
		n.reply(map[string]string{"booking_id": booking, "task_id": task})
		t.Logf("bookings: %v", n.finish())
	})

	t.Run("tokens", func(t *testing.T) {
		expired, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: who["ava"].id, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour})
		require.NoError(t, err)
		n := runNode(t, "tokens.mjs", with("EXPIRED_TOKEN", expired))
		n.expect("need-tokens")
		now := time.Now()
		short, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: who["ava"].id, IssuedAt: now, TTL: 4 * time.Second})
		require.NoError(t, err)
		n.reply(map[string]any{"short": short, "exp": now.Add(4 * time.Second).Unix(), "long": token(t, who["ava"], time.Hour)})
		n.expect("expired")
		n.reply(map[string]string{"message_id": sendMessage(t, dbURL, who["noah"].id, seedConversation, "still there?")})
		n.finish()
	})

	// Last: it removes lena from the seeded conversation.
	t.Run("removal", func(t *testing.T) {
		n := runNode(t, "removal.mjs", with("LENA_TOKEN", token(t, who["lena"], time.Hour), "AVA_TOKEN", token(t, who["ava"], time.Hour)))
		n.expect("subscribed")
		var gone string
		dbExec(t, dbURL, `delete from public.conversation_participants where conversation_id = $1 and user_id = $2 returning id::text`, []any{seedConversation, who["lena"].id}, &gone)
		n.reply(map[string]int64{"committed_at_ms": time.Now().UnixMilli()})
		n.expect("closed")
		n.reply(map[string]string{"message_id": sendMessage(t, dbURL, who["noah"].id, seedConversation, "after lena left")})
		ev := n.finish()
		t.Logf("removal: closed %v ms after the commit", ev["lag_ms"])
	})
}

// dbExec runs one statement as the database owner (a backend), committed, scanning one row
// into dst.
func dbExec(t *testing.T, dbURL, sql string, args []any, dst ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.NoError(t, conn.QueryRow(t.Context(), sql, args...).Scan(dst...), sql)
}

// TestClientsReconnectAfterSidecarRestart kills `vendorhub run` (gateway on) under connected
// supabase-js clients and starts it again on the same address.
func TestClientsReconnectAfterSidecarRestart(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSeededDB(t)
	addr := proctest.Addr(t)
	env := []string{
		"DATABASE_URL=" + db.URL, "VENDORHUB_GATEWAY=on", "SUPABASE_JWT_SECRET=" + auth.DevJWTSecret,
		"VENDORHUB_STAGES=realtime", fmt.Sprintf("VENDORHUB_SLOT=rt_e2e_%d", time.Now().UnixNano()),
		"VENDORHUB_STATUS_INTERVAL=1s", "VENDORHUB_RECONNECT_MAX=1s", "VENDORHUB_SHUTDOWN_TIMEOUT=5s",
	}
	sc := start(t, addr, env, "run")
	sc.waitReady(t)
	who := people(t, db.URL)
	n := runNode(t, "restart.mjs", map[string]string{
		"SUPABASE_URL": "http://" + addr, "SUPABASE_ANON_KEY": auth.DevAnonKey, "CONVERSATION_ID": seedConversation,
		"AVA_TOKEN": token(t, who["ava"], time.Hour), "NOAH_TOKEN": token(t, who["noah"], time.Hour),
	})
	n.expect("subscribed")
	n.reply(map[string]string{"message_id": sendMessage(t, db.URL, who["lena"].id, seedConversation, "before the restart")})
	n.expect("ready-for-restart")
	sc.stop(syscall.SIGKILL)
	sc = start(t, addr, env, "run")
	sc.waitReady(t)
	n.reply(map[string]string{})
	n.expect("rejoined")
	n.reply(map[string]string{"message_id": sendMessage(t, db.URL, who["lena"].id, seedConversation, "after the restart")})
	n.finish()
}

// TestShapedSupabaseJSMessage runs `vendorhub run` (gateway on) as the demoted postgres role of a
// Supabase-shaped database migrated and seeded by the Supabase CLI, and carries one
// conversation message from SQL through the WAL to supabase-js clients on a private channel.
func TestShapedSupabaseJSMessage(t *testing.T) {
	t.Parallel()
	db := pgtest.NewShapedDB(t, true)
	var super bool
	require.NoError(t, db.Pool.QueryRow(t.Context(), "select rolsuper from pg_roles where rolname = current_user").Scan(&super))
	require.False(t, super, "the sidecar must run as the non-superuser postgres")
	addr := proctest.Addr(t)
	sc := start(t, addr, []string{
		"DATABASE_URL=" + db.URL, "VENDORHUB_GATEWAY=on", "SUPABASE_JWT_SECRET=" + auth.DevJWTSecret,
		"VENDORHUB_STAGES=realtime", fmt.Sprintf("VENDORHUB_SLOT=rt_shaped_%d", time.Now().UnixNano()),
		"VENDORHUB_STATUS_INTERVAL=1s",
	}, "run")
	sc.waitReady(t)
	who := people(t, db.URL)
	n := runNode(t, "conversation.mjs", map[string]string{
		"SUPABASE_URL": "http://" + addr, "SUPABASE_ANON_KEY": auth.DevAnonKey,
		"CONVERSATION_ID": seedConversation, "WEDDING_ID": seedWedding,
		"AVA_TOKEN": token(t, who["ava"], time.Hour), "NOAH_TOKEN": token(t, who["noah"], time.Hour),
		"LENA_TOKEN": token(t, who["lena"], time.Hour), "OSCAR_TOKEN": token(t, who["oscar"], time.Hour),
		"LENA_ID": who["lena"].id,
	})
	n.expect("subscribed")
	body := "Shaped: running as postgres, not a superuser"
	n.reply(map[string]string{"message_id": sendMessage(t, db.URL, who["lena"].id, seedConversation, body), "body": body})
	n.expect("received")
	n.reply(map[string]string{"message_id": sendMessage(t, db.URL, who["ava"].id, seedConversation, "Thanks Lena")})
	n.finish()
}
