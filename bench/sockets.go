package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"github.com/wedsync/vendorhub/bench/load"
	"github.com/wedsync/vendorhub/bench/results"
	"github.com/wedsync/vendorhub/internal/auth"
)

// Shape of the socket figures.
const (
	sockFanout     = 5000
	sockBroadcasts = 10
	sockIdle       = 10_000
	// sockPerIP stays under the gateway's default per-address limit (500): clients dial from
	// 127.0.0.2, 127.0.0.3, … as that many users behind different addresses would.
	sockPerIP = 450
)

// rawSocket is a bare WebSocket client on a raw TCP socket: it reads every frame as soon as
// the socket yields it and signals the ones holding marker; it sends a Phoenix heartbeat every
// 20 s so the gateway keeps it (its idle timeout is 60 s).
type rawSocket struct {
	conn net.Conn
	got  chan time.Time
	mu   sync.Mutex
}

// localIP is the loopback source address of client i.
func localIP(i int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i/sockPerIP))}
}

// dialRaw upgrades a socket to path on addr from local; join, when set, is sent as the first
// text frame and must be answered with status ok.
func dialRaw(ctx context.Context, addr, path string, local *net.TCPAddr, join []byte, marker []byte) (*rawSocket, error) {
	d := net.Dialer{LocalAddr: local}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*rawSocket, error) { conn.Close(); return nil, err }
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	br, err := upgradeRaw(conn, addr, path, join)
	if err != nil {
		return fail(err)
	}
	_ = conn.SetDeadline(time.Time{})
	s := &rawSocket{conn: conn, got: make(chan time.Time, 16)}
	go func() {
		for {
			at, p, err := readFrame(br, true)
			if err != nil {
				close(s.got)
				return
			}
			if bytes.Contains(p, marker) {
				s.got <- at
			}
		}
	}()
	if join != nil {
		go func() {
			hb := maskedTextFrame([]byte(`[null,"hb","phoenix","heartbeat",{}]`))
			t := time.NewTicker(20 * time.Second)
			defer t.Stop()
			for range t.C {
				s.mu.Lock()
				_, err := s.conn.Write(hb)
				s.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	return s, nil
}

func closeAll(socks []*rawSocket) {
	for _, s := range socks {
		if s != nil {
			s.conn.Close()
		}
	}
}

// dialMany dials n raw sockets, 32 at a time.
func dialMany(ctx context.Context, n int, dial func(ctx context.Context, i int) (*rawSocket, error)) ([]*rawSocket, error) {
	socks := make([]*rawSocket, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range socks {
		g.Go(func() error {
			s, err := dial(gctx, i)
			if err != nil {
				return fmt.Errorf("socket %d: %w", i, err)
			}
			socks[i] = s
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		closeAll(socks)
		return nil, err
	}
	return socks, nil
}

// broadcastRounds triggers rounds broadcasts (trigger returns when the request was accepted)
// and collects trigger start → each socket's receipt.
func broadcastRounds(ctx context.Context, socks []*rawSocket, rounds int, trigger func(round int) error) ([]float64, error) {
	var s load.Samples
	for r := range rounds {
		start := time.Now()
		if err := trigger(r); err != nil {
			return nil, err
		}
		for i, c := range socks {
			select {
			case at, ok := <-c.got:
				if !ok {
					return nil, fmt.Errorf("socket %d disconnected", i)
				}
				s.Add(at.Sub(start))
			case <-time.After(60 * time.Second):
				return nil, fmt.Errorf("socket %d got nothing in 60 s", i)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s.Sorted(), nil
}

// sysSockets measures, on a fresh `vendorhub run` (defaults), one broadcast to sockFanout
// private-channel subscribers against the same frame written to sockFanout plain WebSocket
// sockets (floor), then the resident memory with sockIdle idle private-channel sockets.
func sysSockets(ctx context.Context, env *Env, sc *rtSidecar, topic string, tokens []string) error {
	run := env.Run
	join := func(i int) []byte {
		b, _ := json.Marshal([]any{"1", "1", "realtime:" + topic, "phx_join",
			map[string]any{"config": map[string]any{"private": true}, "access_token": tokens[i%len(tokens)]}})
		return b
	}
	marker := []byte(`"bench-fanout"`)
	socks, err := dialMany(ctx, sockFanout, func(ctx context.Context, i int) (*rawSocket, error) {
		return dialRaw(ctx, sc.addr, "/realtime/v1/websocket?vsn=2.0.0&apikey="+auth.DevAnonKey, localIP(i), join(i), marker)
	})
	if err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}
	gw, err := broadcastRounds(ctx, socks, sockBroadcasts, func(r int) error {
		body, _ := json.Marshal(map[string]any{"messages": []map[string]any{{"topic": topic, "event": "bench-fanout", "payload": map[string]int{"n": r}, "private": true}}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+sc.addr+"/realtime/v1/api/broadcast", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("apikey", auth.DevServiceRoleKey)
		req.Header.Set("Authorization", "Bearer "+auth.DevServiceRoleKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("broadcast answered %d", resp.StatusCode)
		}
		return nil
	})
	closeAll(socks)
	if err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}

	floor, err := bareFanout(ctx, topic, marker)
	if err != nil {
		return fmt.Errorf("fan-out floor: %w", err)
	}
	gwL := latency(fmt.Sprintf("fanout_%d.gateway", sockFanout), "broadcast request sent", gw)
	flL := latency(fmt.Sprintf("fanout_%d.bare_sockets", sockFanout), "broadcast request sent", floor)
	run.AddLatency(gwL)
	run.AddLatency(flL)
	run.Add(results.NewFigure(fmt.Sprintf("realtime.fanout_%d_private.p99", sockFanout), gwL.P99, "ms",
		"the same frame written to 5,000 plain WebSocket sockets (coder/websocket, one writer per socket), p99", flL.P99,
		&results.Goal{Of: "ratio", AtMost: true, Limit: 2}, fmt.Sprintf("one broadcast to %d private-channel subscribers (user JWTs), REST request → each socket's receipt, %d rounds", sockFanout, sockBroadcasts)))
	env.Logf("fan-out: gateway p50 %.1f p99 %.1f ms; bare sockets p50 %.1f p99 %.1f ms", gwL.P50, gwL.P99, flL.P50, flL.P99)

	// Idle memory: sockIdle private-channel sockets on the same sidecar.
	time.Sleep(2 * time.Second)
	base, err := rssMiB(sc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	idle, err := dialMany(ctx, sockIdle, func(ctx context.Context, i int) (*rawSocket, error) {
		return dialRaw(ctx, sc.addr, "/realtime/v1/websocket?vsn=2.0.0&apikey="+auth.DevAnonKey, localIP(i), join(i), marker)
	})
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	defer closeAll(idle)
	time.Sleep(3 * time.Second)
	rss, err := rssMiB(sc.cmd.Process.Pid)
	if err != nil {
		return err
	}
	run.Add(results.NewFigure(fmt.Sprintf("realtime.idle_%d_private.rss", sockIdle), rss, "MiB", "", 0,
		&results.Goal{Of: "value", AtMost: true, Limit: 512},
		fmt.Sprintf("resident memory of the sidecar holding %d idle sockets, each joined to a private channel with a user JWT (%.0f MiB before them)", sockIdle, base)))
	env.Logf("idle: %d private sockets: RSS %.0f MiB (%.0f before)", sockIdle, rss, base)
	return nil
}

// bareFanout is the fan-out floor: a plain WebSocket server (no protocol) holding sockFanout
// sockets, each with its own writer goroutine, writing one Phoenix-shaped frame to all of them
// per POST.
func bareFanout(ctx context.Context, topic string, marker []byte) ([]float64, error) {
	var mu sync.Mutex
	var queues []chan []byte
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		q := make(chan []byte, 16)
		mu.Lock()
		queues = append(queues, q)
		mu.Unlock()
		cctx := c.CloseRead(context.Background())
		for {
			select {
			case f := <-q:
				if c.Write(cctx, websocket.MessageText, f) != nil {
					return
				}
			case <-cctx.Done():
				return
			}
		}
	})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, r *http.Request) {
		frame := []byte(`["null",null,"realtime:` + topic + `","broadcast",{"event":` + string(marker) + `,"payload":{"n":` + r.URL.Query().Get("n") + `},"type":"broadcast"}]`)
		mu.Lock()
		for _, q := range queues {
			q <- frame
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	addr := l.Addr().String()
	socks, err := dialMany(ctx, sockFanout, func(ctx context.Context, i int) (*rawSocket, error) {
		return dialRaw(ctx, addr, "/ws", localIP(i), nil, marker)
	})
	if err != nil {
		return nil, err
	}
	defer closeAll(socks)
	for {
		mu.Lock()
		n := len(queues)
		mu.Unlock()
		if n == sockFanout {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return broadcastRounds(ctx, socks, sockBroadcasts, func(r int) error {
		resp, err := http.Post("http://"+addr+"/broadcast?n="+fmt.Sprint(r), "text/plain", strings.NewReader(""))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// upgradeRaw upgrades conn to a WebSocket on path and, when join is set, sends it as the
// first (masked) text frame and requires a reply with status ok. It returns the reader of
// the frames that follow.
func upgradeRaw(conn net.Conn, addr, path string, join []byte) (*bufio.Reader, error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("upgrade answered %d", resp.StatusCode)
	}
	if join == nil {
		return br, nil
	}
	if _, err := conn.Write(maskedTextFrame(join)); err != nil {
		return nil, err
	}
	_, reply, err := readFrame(br, true)
	if err != nil || !bytes.Contains(reply, []byte(`"status":"ok"`)) {
		return nil, fmt.Errorf("join refused: %s %v", reply, err)
	}
	return br, nil
}
