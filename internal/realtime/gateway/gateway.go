package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/realtime"
)

// Paths served by Handler.
const (
	WebSocketPath    = "/realtime/v1/websocket"                            // what supabase-js derives from SUPABASE_URL
	SelfHostedWSPath = "/socket/websocket"                                 // self-hosted Realtime's path
	BroadcastPath    = "/realtime/v1/api/broadcast"                        // REST batch broadcast
	BroadcastOnePath = "/realtime/v1/api/broadcast/{topic}/events/{event}" // REST single broadcast (httpSend)
)

const (
	protocolV1         = "1.0.0"
	protocolV2         = "2.0.0"
	phoenixTopic       = "phoenix"
	topicPrefix        = realtime.TopicPrefix
	extensionBroadcast = "broadcast"
	extensionPresence  = "presence"
)

// Gateway is the embedded Realtime-compatible server.
type Gateway struct {
	cfg Config
	hub *hub

	mu      sync.Mutex
	perIP   map[string]int
	conns   map[*conn]struct{}
	closed  bool
	janitor sync.Once
	stop    chan struct{}

	// recheckGen counts re-checks; a join whose probe overlapped one is re-checked too.
	recheckGen atomic.Int64
	recheckXID atomic.Uint32 // the transaction of the latest re-check
	recheck    rechecker
}

// New returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Gateway{cfg: cfg, hub: newHub(), perIP: map[string]int{}, conns: map[*conn]struct{}{}, stop: make(chan struct{})}, nil
}

// sweep closes, every second, the sockets whose current write has been blocked for longer
// than WriteTimeout (a peer that stopped reading with a full TCP window).
func (g *Gateway) sweep() {
	t := time.NewTicker(min(time.Second, g.cfg.WriteTimeout))
	defer t.Stop()
	var stuck []*conn
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			stuck = stuck[:0]
			g.mu.Lock()
			for c := range g.conns {
				if c.stuck(now, g.cfg.WriteTimeout) {
					stuck = append(stuck, c)
				}
			}
			g.mu.Unlock()
			for _, c := range stuck {
				metricSlow.Inc()
				g.cfg.Logger.Warn("gateway: write timed out, socket closed", "ip", c.ip)
				c.closeNow()
			}
		}
	}
}

// Register adds the gateway's routes to mux.
func (g *Gateway) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+WebSocketPath, g.serveWS)
	mux.HandleFunc("GET "+SelfHostedWSPath, g.serveWS)
	mux.HandleFunc("POST "+BroadcastPath, g.serveBatch)
	mux.HandleFunc("POST "+BroadcastOnePath, g.serveSingle)
}

// Handler returns a handler serving only the gateway's routes.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	g.Register(mux)
	return mux
}

// Send delivers messages to subscribers in-process: the gateway is the sidecar's Transport
// in `vendorhub dev`. The sidecar is trusted (service role), so no RLS write check runs.
// A message's Actor does not get it back on channels that joined with self:false.
func (g *Gateway) Send(_ context.Context, msgs []realtime.Message) error {
	for _, m := range msgs {
		r := g.hub.lookup(roomKey{private: m.Private, topic: m.Topic})
		metricBroadcasts.WithLabelValues("sidecar").Inc()
		if r == nil {
			continue
		}
		d := &delivery{wireTopic: topicPrefix + m.Topic, user: &userBroadcast{event: m.Event, payload: m.Payload, json: true, meta: metaID(m.ID)}}
		r.broadcastExcept(d, m.Actor)
	}
	return nil
}

var _ realtime.Transport = (*Gateway)(nil)

func metaID(id string) json.RawMessage {
	if id == "" {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"id": id})
	return b
}

// deliver fans a broadcast out to the (topic, private) room.
func (g *Gateway) deliver(topic string, private bool, u *userBroadcast, preferBinary bool, from *channel, self bool) int {
	r := g.hub.lookup(roomKey{private: private, topic: topic})
	if r == nil {
		return 0
	}
	return r.broadcast(&delivery{wireTopic: topicPrefix + topic, user: u, preferBinary: preferBinary}, from, self)
}

// Close disconnects every socket (1001 going away) and refuses new ones.
func (g *Gateway) Close() {
	g.mu.Lock()
	if !g.closed {
		close(g.stop)
	}
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.StatusGoingAway, "server shutting down")
	}
}

// Conns is the number of open sockets.
func (g *Gateway) Conns() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// httpError writes Realtime's connect error shape {"error": "..."}.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(b)
}

// xHeaders are the request headers passed to policies as request.headers: only x-… headers,
// like Realtime, and never the API key.
func xHeaders(r *http.Request) json.RawMessage {
	h := map[string]string{}
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-") && lk != "x-api-key" && len(v) > 0 {
			h[lk] = v[0]
		}
	}
	b, _ := json.Marshal(h)
	return b
}

// authenticate reads the API key (x-api-key header wins over the apikey query parameter).
func (g *Gateway) authenticate(r *http.Request) (string, auth.Claims, error) {
	key := r.Header.Get("x-api-key")
	if key == "" {
		key = r.URL.Query().Get("apikey")
	}
	if key == "" {
		return "", auth.Claims{}, errors.New("You must provide an apikey")
	}
	tok, err := g.cfg.Verifier.ResolveAPIKey(key)
	if err != nil {
		return "", auth.Claims{}, err
	}
	c, err := g.cfg.Verifier.Verify(tok)
	if err != nil {
		return "", auth.Claims{}, err
	}
	return tok, c, nil
}

func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	vsn := r.URL.Query().Get("vsn")
	if vsn == "" {
		vsn = protocolV1 // Phoenix's default when absent
	}
	if vsn != protocolV1 && vsn != protocolV2 {
		httpError(w, http.StatusBadRequest, "unsupported vsn "+vsn+": use 1.0.0 or 2.0.0")
		return
	}
	tok, claims, err := g.authenticate(r)
	if err != nil {
		metricRefused.WithLabelValues("auth").Inc()
		httpError(w, http.StatusUnauthorized, err.Error())
		return
	}
	ip := edge.ClientAddr(r).String() // the forwarded client behind a trusted proxy
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	if g.perIP[ip] >= g.cfg.MaxConnsPerIP {
		g.mu.Unlock()
		metricRefused.WithLabelValues("too_many_per_ip").Inc()
		httpError(w, http.StatusTooManyRequests, "Too many connections")
		return
	}
	g.perIP[ip]++
	g.mu.Unlock()
	release := func() {
		g.mu.Lock()
		if g.perIP[ip]--; g.perIP[ip] <= 0 {
			delete(g.perIP, ip)
		}
		g.mu.Unlock()
	}

	// The socket outlives the server's request timeouts; IdleTimeout and the write janitor
	// bound it instead.
	edge.ClearDeadlines(w)
	// Realtime authorizes with the apikey and the tokens, never with cookies, so any origin
	// may connect (a Next.js dev server on another port, for one).
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		release()
		return
	}
	ws.SetReadLimit(int64(g.cfg.MaxFrameBytes))
	c := newConn(g, ws, vsn == protocolV2, ip, tok, claims, xHeaders(r))
	g.janitor.Do(func() { go g.sweep() })
	g.mu.Lock()
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	metricConns.Inc()
	defer func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
		release()
		metricConns.Dec()
	}()
	c.serve(r.Context())
}
