package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/wedsync/vendorhub/internal/auth"
)

// frame is one encoded server message, shared by every socket it goes to.
type frame struct {
	data   []byte
	binary bool
}

// conn is one socket.
type conn struct {
	gw      *Gateway
	ws      *websocket.Conn
	v2      bool
	ip      string
	token   string // the connect apikey JWT
	claims  auth.Claims
	headers json.RawMessage

	// mu guards channels and the channels' mutable fields.
	mu       sync.Mutex
	channels map[string]*channel // by wire topic
	presence *rate.Limiter
	// persists bounds the client broadcasts this socket stores (persist): each is a row.
	persists *rate.Limiter

	// qmu guards the send queue.
	qmu     sync.Mutex
	queue   []frame
	spare   []frame // the previous batch's backing array, reused
	writing bool
	dead    bool
	// writingSince is when the write in progress began (Unix ns), 0 when none: the
	// gateway's janitor closes a socket whose write is stuck longer than WriteTimeout.
	writingSince atomic.Int64

	idle      *time.Timer
	closeOnce sync.Once
	done      chan struct{}
}

func newConn(g *Gateway, ws *websocket.Conn, v2 bool, ip, token string, claims auth.Claims, headers json.RawMessage) *conn {
	c := &conn{gw: g, ws: ws, v2: v2, ip: ip, token: token, claims: claims, headers: headers,
		channels: map[string]*channel{}, done: make(chan struct{}),
		presence: rate.NewLimiter(rate.Every(g.cfg.PresenceWindow/time.Duration(g.cfg.PresenceCalls)), g.cfg.PresenceCalls),
		persists: rate.NewLimiter(rate.Limit(g.cfg.PersistPerSecond), g.cfg.PersistPerSecond)}
	return c
}

// serve reads until the socket ends, then leaves every channel. Reads and writes use a
// context without deadline (no per-frame timer); the idle timer and the janitor bound them.
func (c *conn) serve(ctx context.Context) {
	c.idle = time.AfterFunc(c.gw.cfg.IdleTimeout, func() { c.close(websocket.StatusNormalClosure, "idle timeout") })
	defer c.cleanup()
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		c.idle.Reset(c.gw.cfg.IdleTimeout)
		var in inbound
		if typ == websocket.MessageBinary {
			if !c.v2 {
				c.gw.cfg.Logger.Debug("gateway: binary frame on a 1.0.0 socket ignored", "ip", c.ip)
				continue
			}
			in, err = decodeBinary(data)
		} else {
			in, err = decodeText(c.v2, data)
		}
		if err != nil {
			// Phoenix drops frames it cannot decode; the socket stays up.
			c.gw.cfg.Logger.Debug("gateway: undecodable frame", "ip", c.ip, "err", err)
			continue
		}
		c.handle(ctx, in)
	}
}

func (c *conn) cleanup() {
	c.idle.Stop()
	c.mu.Lock()
	chans := make([]*channel, 0, len(c.channels))
	for _, ch := range c.channels {
		chans = append(chans, ch)
	}
	c.channels = map[string]*channel{}
	c.mu.Unlock()
	for _, ch := range chans {
		c.detach(ch)
	}
	c.close(websocket.StatusNormalClosure, "")
}

// push queues f for writing. It never blocks: a full queue marks a slow consumer, which is
// disconnected. It reports whether f was queued.
func (c *conn) push(f frame) bool {
	c.qmu.Lock()
	if c.dead {
		c.qmu.Unlock()
		return false
	}
	if len(c.queue) >= c.gw.cfg.SendQueue {
		c.dead = true
		c.queue = nil
		c.qmu.Unlock()
		metricSlow.Inc()
		c.gw.cfg.Logger.Warn("gateway: slow consumer disconnected", "ip", c.ip)
		go c.closeNow() // it does not read: a close handshake would wait in vain
		return false
	}
	if c.queue == nil && c.spare != nil {
		c.queue, c.spare = c.spare[:0], nil
	}
	c.queue = append(c.queue, f)
	start := !c.writing
	c.writing = true
	c.qmu.Unlock()
	metricOut.Inc()
	if start {
		go c.writeLoop()
	}
	return true
}

// writeLoop writes queued frames and exits when the queue is empty, so an idle socket costs
// no writer goroutine.
func (c *conn) writeLoop() {
	for {
		c.qmu.Lock()
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 || c.dead {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		c.qmu.Unlock()
		for i, f := range batch {
			typ := websocket.MessageText
			if f.binary {
				typ = websocket.MessageBinary
			}
			c.writingSince.Store(time.Now().UnixNano())
			err := c.ws.Write(context.Background(), typ, f.data)
			c.writingSince.Store(0)
			batch[i] = frame{}
			if err != nil {
				c.qmu.Lock()
				c.dead = true
				c.queue = nil
				c.writing = false
				c.qmu.Unlock()
				c.close(websocket.StatusInternalError, "write failed")
				return
			}
		}
		c.qmu.Lock()
		c.spare = batch[:0]
		c.qmu.Unlock()
	}
}

// stuck reports a write in progress for longer than d.
func (c *conn) stuck(now time.Time, d time.Duration) bool {
	since := c.writingSince.Load()
	return since != 0 && now.Sub(time.Unix(0, since)) > d
}

// closeNow drops the socket without a close handshake (its writer is stuck).
func (c *conn) closeNow() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.qmu.Lock()
		c.dead = true
		c.qmu.Unlock()
	})
	_ = c.ws.CloseNow()
}

// close ends the socket once; the read loop then cleans up.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		close(c.done)
		c.qmu.Lock()
		c.dead = true
		c.qmu.Unlock()
		// The close handshake waits for the peer; a stuck peer must not hold us.
		go func() {
			if err := c.ws.Close(code, reason); err != nil && !errors.Is(err, context.Canceled) {
				_ = c.ws.CloseNow()
			}
		}()
	})
}
