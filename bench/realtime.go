package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
)

func init() { register("realtime", benchRealtime) }

// Shape of the realtime benchmark.
const (
	rtConversations    = 20   // e2e: conversations, each with rtMembers subscribed participants
	rtMembers          = 10   // e2e: 20 × 10 = 200 subscribed clients
	rtNodePerConv      = 2    // e2e: of which supabase-js clients (the rest: Go clients)
	rtEventsPerSecond  = 1000 // e2e: committed messages per second, spread over the conversations
	rtWarmup           = 2 * time.Second
	rtMeasure          = 15 * time.Second
	rtFanoutClients    = 5000
	rtFanoutBroadcasts = 20
	rtIdleClients      = 10_000
	rtWriters          = 16 // generator connections
)

// realtimeParts selects the parts of the realtime benchmark, for iterating on one of them.
var realtimeParts = flag.String("realtime-parts", "e2e,fanout,idle", "realtime: parts to run (e2e, fanout, idle)")

// benchRealtime measures the embedded gateway of the real `vendorhub run` binary (realtime
// stage only, gateway on) on a seeded database:
//
//   - realtime.e2e_p50_ms / _p99_ms: commit of a message INSERT → receipt by a real supabase-js
//     client, with 200 subscribed clients (20 conversations × 10 participants; 40 supabase-js
//     clients in one Node process, 160 Go clients) and 1,000 messages/s committed (each
//     delivered to the 10 participants of its conversation: 10,000 deliveries/s). The same
//     figures for the Go clients are realtime.e2e_go_p50_ms / _p99_ms. Every process (Postgres,
//     sidecar, Node, generator, Go clients) shares the machine's 2 cores.
//   - realtime.fanout_5000_p99_ms: one broadcast (REST batch, service role) on a private topic
//     with 5,000 subscribed WebSocket clients (raw sockets, see fanoutClient) → each receipt;
//     p99 over 20 broadcasts.
//   - realtime.idle_10k_rss_mib: resident memory of a fresh sidecar process holding 10,000
//     idle sockets, each joined to one channel (realtime.idle_baseline_rss_mib: before them).
func benchRealtime(ctx context.Context, env *Env) error {
	raiseNoFile(env)
	bin, err := buildVendorhub(ctx)
	if err != nil {
		return err
	}
	db, err := env.NewDB(ctx, true)
	if err != nil {
		return err
	}
	convs, err := rtFixture(ctx, db.Pool)
	if err != nil {
		return err
	}
	slot := fmt.Sprintf("bench_rt_%d", time.Now().UnixNano())

	parts := map[string]bool{}
	for _, p := range strings.Split(*realtimeParts, ",") {
		parts[strings.TrimSpace(p)] = true
	}
	if parts["e2e"] || parts["fanout"] {
		srv, err := startRealtimeSidecar(ctx, bin, db.URL, slot)
		if err != nil {
			return err
		}
		if parts["e2e"] {
			err = rtE2E(ctx, env, srv.addr, db.URL, convs)
		}
		if err == nil && parts["fanout"] {
			err = rtFanout(ctx, env, srv.addr, convs[0])
		}
		srv.stop()
		if err != nil {
			return err
		}
	}
	if !parts["idle"] {
		return nil
	}
	srv, err := startRealtimeSidecar(ctx, bin, db.URL, slot)
	if err != nil {
		return err
	}
	defer srv.stop()
	return rtIdle(ctx, env, srv)
}

// raiseNoFile lifts the open-files limit for 10,000+ sockets (as root beyond the hard limit).
func raiseNoFile(env *Env) {
	want := uint64(65536)
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: max(want, lim.Max)}); err != nil {
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lim.Max, Max: lim.Max})
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	env.Logf("open files limit %d", lim.Cur)
}

type rtMember struct{ id, token string }

type rtConv struct {
	id      string
	members []rtMember
}

// rtFixture adds bench users and conversations to wedding 1 of the seed.
func rtFixture(ctx context.Context, pool *pgxpool.Pool) ([]rtConv, error) {
	const wedding = "30000000-0000-4000-8000-000000000001"
	var convs []rtConv
	for c := range rtConversations {
		var conv rtConv
		if err := pool.QueryRow(ctx, `insert into public.conversations (wedding_id, subject) values ($1, $2) returning id::text`,
			wedding, fmt.Sprintf("bench %d", c)).Scan(&conv.id); err != nil {
			return nil, fmt.Errorf("bench fixture: %w", err)
		}
		for m := range rtMembers {
			var id string
			email := fmt.Sprintf("bench-%d-%d@example.com", c, m)
			if err := pool.QueryRow(ctx, `with u as (insert into auth.users (id, email) values (gen_random_uuid(), $1) returning id),
				p as (insert into public.conversation_participants (conversation_id, user_id) select $2::uuid, id from u)
				select id::text from u`, email, conv.id).Scan(&id); err != nil {
				return nil, fmt.Errorf("bench fixture: %w", err)
			}
			tok, err := auth.MintUser(auth.DevJWTSecret, auth.UserToken{UserID: id, Email: email, TTL: 2 * time.Hour})
			if err != nil {
				return nil, err
			}
			conv.members = append(conv.members, rtMember{id: id, token: tok})
		}
		convs = append(convs, conv)
	}
	return convs, nil
}

type rtSidecar struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func startRealtimeSidecar(ctx context.Context, bin, dbURL, slot string) (*rtSidecar, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &rtSidecar{addr: addr, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "run")
	s.cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "VENDORHUB_HTTP_ADDR="+addr, "VENDORHUB_SLOT="+slot,
		"VENDORHUB_STAGES=realtime", "VENDORHUB_GATEWAY=on", "SUPABASE_JWT_SECRET="+auth.DevJWTSecret,
		"VENDORHUB_GATEWAY_MAX_CONNS_PER_IP=20000", "VENDORHUB_DB_MAX_CONNS=20", "VENDORHUB_SHUTDOWN_TIMEOUT=5s")
	var log lockedLog
	s.cmd.Stdout, s.cmd.Stderr = &log, &log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("vendorhub run exited: %s", log.String())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("vendorhub run not ready in 60s: %s", log.String())
		}
	}
}

func (s *rtSidecar) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

type receipt struct {
	id string
	at time.Time
}

type receipts struct {
	mu   sync.Mutex
	list []receipt
}

func (r *receipts) add(id string, at time.Time) {
	r.mu.Lock()
	r.list = append(r.list, receipt{id, at})
	r.mu.Unlock()
}

func (r *receipts) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

// dialJoin connects a Go client and joins topic (private with token, or public).
func dialJoin(ctx context.Context, addr, topic, token string, buffer int) (*rtclient.Client, *rtclient.Channel, error) {
	c, err := rtclient.Dial(ctx, rtclient.Options{URL: "http://" + addr, APIKey: auth.DevAnonKey, Buffer: buffer})
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.Join(ctx, topic, rtclient.JoinConfig{Private: token != "", AccessToken: token})
	if err != nil {
		c.CloseNow()
		return nil, nil, err
	}
	return c, ch, nil
}

func rtE2E(ctx context.Context, env *Env, addr, dbURL string, convs []rtConv) error {
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	pcfg.MaxConns = rtWriters
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	goRecv, nodeRecv := &receipts{}, &receipts{}

	// Go clients.
	var clients []*rtclient.Client
	defer func() {
		for _, c := range clients {
			c.CloseNow()
		}
	}()
	for _, conv := range convs {
		for _, m := range conv.members[rtNodePerConv:] {
			c, ch, err := dialJoin(ctx, addr, "conversation:"+conv.id, m.token, 1024)
			if err != nil {
				return fmt.Errorf("e2e: go client: %w", err)
			}
			clients = append(clients, c)
			go func() {
				for {
					msg, err := ch.Next(ctx, "broadcast")
					if err != nil {
						return
					}
					at := time.Now()
					var p struct {
						Data struct {
							MessageID string `json:"message_id"`
						}
					}
					if json.Unmarshal(msg.UserPayload, &p) == nil {
						goRecv.add(p.Data.MessageID, at)
					}
				}
			}()
		}
	}

	// supabase-js clients.
	type nodeClient struct {
		Token        string `json:"token"`
		Conversation string `json:"conversation"`
	}
	var ncs []nodeClient
	for _, conv := range convs {
		for _, m := range conv.members[:rtNodePerConv] {
			ncs = append(ncs, nodeClient{m.token, conv.id})
		}
	}
	cj, _ := json.Marshal(ncs)
	node := exec.CommandContext(ctx, "node", "bench/realtime_receivers.mjs")
	node.Env = append(os.Environ(), "SUPABASE_URL=http://"+addr, "SUPABASE_ANON_KEY="+auth.DevAnonKey, "CLIENTS="+string(cj))
	stdin, err := node.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := node.StdoutPipe()
	if err != nil {
		return err
	}
	var nodeErr lockedLog
	node.Stderr = &nodeErr
	if err := node.Start(); err != nil {
		return fmt.Errorf("e2e: node: %w", err)
	}
	defer func() { stdin.Close(); _ = node.Wait() }()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Ready int     `json:"ready"`
				ID    string  `json:"id"`
				T     float64 `json:"t"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if line.Ready > 0 {
				close(ready)
				continue
			}
			sec, frac := math.Modf(line.T / 1000)
			nodeRecv.add(line.ID, time.Unix(int64(sec), int64(frac*1e9)))
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("e2e: supabase-js clients not subscribed in 60s: %s", nodeErr.String())
	}
	env.Logf("e2e: %d Go + %d supabase-js clients subscribed", len(clients), len(ncs))

	// Generator: one message per transaction, rtEventsPerSecond in total.
	commits := sync.Map{}
	lim := rate.NewLimiter(rtEventsPerSecond, 20)
	began := time.Now()
	stopAt := began.Add(rtWarmup + rtMeasure)
	g, gctx := errgroup.WithContext(ctx)
	for w := range rtWriters {
		g.Go(func() error {
			for i := w; ; i += rtWriters {
				if err := lim.Wait(gctx); err != nil {
					return nil
				}
				if time.Now().After(stopAt) {
					return nil
				}
				conv := convs[i%len(convs)]
				var id string
				if err := pool.QueryRow(gctx, `insert into public.messages (conversation_id, sender_id, body) values ($1, $2, $3) returning id::text`,
					conv.id, conv.members[0].id, "bench message "+strconv.Itoa(i)).Scan(&id); err != nil {
					return err
				}
				commits.Store(id, time.Now())
			}
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("e2e: generator: %w", err)
	}
	elapsed := time.Since(began)
	var sent int
	commits.Range(func(_, _ any) bool { sent++; return true })
	want := sent * rtMembers
	deadline := time.Now().Add(20 * time.Second)
	for goRecv.len()+nodeRecv.len() < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}

	lat := func(r *receipts) []float64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		var ms []float64
		for _, x := range r.list {
			v, ok := commits.Load(x.id)
			if !ok {
				continue
			}
			at := v.(time.Time)
			if at.Sub(began) < rtWarmup {
				continue
			}
			ms = append(ms, float64(x.at.Sub(at).Microseconds())/1000)
		}
		slices.Sort(ms)
		return ms
	}
	nodeMs, goMs := lat(nodeRecv), lat(goRecv)
	if len(nodeMs) == 0 || len(goMs) == 0 {
		return errors.New("e2e: no receipts measured")
	}
	env.Record("realtime.e2e_p50_ms", pct(nodeMs, 0.50))
	env.Record("realtime.e2e_p99_ms", pct(nodeMs, 0.99))
	env.Record("realtime.e2e_go_p50_ms", pct(goMs, 0.50))
	env.Record("realtime.e2e_go_p99_ms", pct(goMs, 0.99))
	env.Record("realtime.e2e_events_per_s", float64(sent)/elapsed.Seconds())
	env.Record("realtime.e2e_delivered_ratio", float64(goRecv.len()+nodeRecv.len())/float64(want))
	env.Logf("e2e: %d messages, %d supabase-js and %d Go receipts measured", sent, len(nodeMs), len(goMs))
	return nil
}

func pct(sorted []float64, q float64) float64 {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// connectMany connects n Go clients concurrently, each joined via join(i).
func connectMany(ctx context.Context, n int, join func(ctx context.Context, i int) (*rtclient.Client, *rtclient.Channel, error)) ([]*rtclient.Client, []*rtclient.Channel, error) {
	clients := make([]*rtclient.Client, n)
	chans := make([]*rtclient.Channel, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			c, ch, err := join(gctx, i)
			if err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
			clients[i], chans[i] = c, ch
			return nil
		})
	}
	err := g.Wait()
	if err != nil {
		for _, c := range clients {
			if c != nil {
				c.CloseNow()
			}
		}
		return nil, nil, err
	}
	return clients, chans, nil
}

// fanoutClient is a bare WebSocket client for the fan-out figure, on a raw TCP socket: it
// joins with one masked text frame and then timestamps the header of every frame as soon as
// the socket yields it, skipping the payload. The clients share the machine's two cores with
// the server, so a full client library's per-message work (reader setup, allocation, decoding)
// would be measured as fan-out latency; reading the bytes off the socket is what receipt means.
type fanoutClient struct {
	conn net.Conn
	got  chan time.Time
}

func dialFanout(ctx context.Context, addr, topic, token string) (*fanoutClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*fanoutClient, error) { conn.Close(); return nil, err }
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	join, _ := json.Marshal([]any{"1", "1", "realtime:" + topic, "phx_join", map[string]any{"config": map[string]any{"private": true}, "access_token": token}})
	br, err := upgradeRaw(conn, addr, "/realtime/v1/websocket?vsn=2.0.0&apikey="+auth.DevAnonKey, join)
	if err != nil {
		return fail(err)
	}
	_ = conn.SetDeadline(time.Time{})
	c := &fanoutClient{conn: conn, got: make(chan time.Time, 4)}
	go func() {
		for {
			at, _, err := readFrame(br, false)
			if err != nil {
				close(c.got)
				return
			}
			c.got <- at
		}
	}()
	return c, nil
}

// readFrame reads one unmasked server frame: when its first byte arrived and, if keep, its payload.
func readFrame(br *bufio.Reader, keep bool) (time.Time, []byte, error) {
	if _, err := br.ReadByte(); err != nil { // FIN and opcode
		return time.Time{}, nil, err
	}
	at := time.Now()
	b1, err := br.ReadByte()
	if err != nil {
		return at, nil, err
	}
	n := uint64(b1 & 0x7f)
	switch n {
	case 126, 127:
		ext := make([]byte, 2)
		if n == 127 {
			ext = make([]byte, 8)
		}
		if _, err := io.ReadFull(br, ext); err != nil {
			return at, nil, err
		}
		n = 0
		for _, b := range ext {
			n = n<<8 | uint64(b)
		}
	}
	if !keep {
		_, err = br.Discard(int(n))
		return at, nil, err
	}
	p := make([]byte, n)
	_, err = io.ReadFull(br, p)
	return at, p, err
}

// maskedTextFrame is p as one client text frame (clients must mask; a zero key is a valid key).
func maskedTextFrame(p []byte) []byte {
	f := []byte{0x81}
	switch n := len(p); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		panic("join frame too large")
	}
	f = append(f, 0, 0, 0, 0)
	return append(f, p...)
}

func rtFanout(ctx context.Context, env *Env, addr string, conv rtConv) error {
	topic := "conversation:" + conv.id
	clients := make([]*fanoutClient, rtFanoutClients)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range clients {
		g.Go(func() error {
			c, err := dialFanout(gctx, addr, topic, conv.members[i%len(conv.members)].token)
			clients[i] = c
			return err
		})
	}
	err := g.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("fanout: %w", err)
	}
	env.Logf("fanout: %d clients joined %s", len(clients), topic)

	var samples []float64
	for b := range rtFanoutBroadcasts {
		body, _ := json.Marshal(map[string]any{"messages": []map[string]any{{"topic": topic, "event": "bench", "payload": map[string]int{"n": b}, "private": true}}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/realtime/v1/api/broadcast", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("apikey", auth.DevServiceRoleKey)
		req.Header.Set("Authorization", "Bearer "+auth.DevServiceRoleKey)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("fanout: broadcast: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("fanout: broadcast answered %d", resp.StatusCode)
		}
		for i, c := range clients {
			select {
			case at, ok := <-c.got:
				if !ok {
					return fmt.Errorf("fanout: client %d disconnected", i)
				}
				samples = append(samples, float64(at.Sub(start).Microseconds())/1000)
			case <-time.After(30 * time.Second):
				return fmt.Errorf("fanout: client %d got nothing in 30s", i)
			}
		}
		time.Sleep(100 * time.Millisecond) // let the machine settle between broadcasts
	}
	slices.Sort(samples)
	env.Record("realtime.fanout_5000_p50_ms", pct(samples, 0.50))
	env.Record("realtime.fanout_5000_p99_ms", pct(samples, 0.99))
	return nil
}

func rtIdle(ctx context.Context, env *Env, srv *rtSidecar) error {
	base, err := rssMiB(srv.cmd.Process.Pid)
	if err != nil {
		return err
	}
	clients, _, err := connectMany(ctx, rtIdleClients, func(ctx context.Context, i int) (*rtclient.Client, *rtclient.Channel, error) {
		return dialJoin(ctx, srv.addr, fmt.Sprintf("lobby:%d", i%100), "", 4)
	})
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	defer func() {
		for _, c := range clients {
			c.CloseNow()
		}
	}()
	// One heartbeat round, as clients send every 25 s, then let the server settle.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for _, c := range clients {
		g.Go(func() error { return c.Heartbeat(gctx) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("idle: heartbeat: %w", err)
	}
	time.Sleep(2 * time.Second)
	rss, err := rssMiB(srv.cmd.Process.Pid)
	if err != nil {
		return err
	}
	env.Record("realtime.idle_baseline_rss_mib", base)
	env.Record("realtime.idle_10k_rss_mib", rss)
	env.Logf("idle: %d sockets: RSS %.0f MiB (%.1f KiB per socket over the baseline)", len(clients), rss, (rss-base)*1024/float64(len(clients)))
	return nil
}

// rssMiB reads the current resident set (VmRSS) of pid.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("VmRSS not found")
}
