package gateway

import (
	"context"
	"strings"
	"sync"

	"github.com/wedsync/vendorhub/internal/route"
)

// recheckWorkers bounds the read probes a re-check runs at once.
const recheckWorkers = 4

// rechecker re-runs the read probe of channels whose access a membership change may have
// removed. Channels are suspended from the moment the change is known until their probe
// answers: their broadcasts are held, then sent if access remains and dropped if not, so
// nothing published after the change reaches a reader who lost access, and nothing is lost
// for one who kept it.
type rechecker struct {
	mu    sync.Mutex
	queue []pending
	wake  chan struct{}
	once  sync.Once
}

// pending is a suspended channel waiting for its probe, which must see the effects of
// transaction xid (0: none in particular).
type pending struct {
	ch  *channel
	xid uint32
}

// Publish implements handoff.Broadcaster: for every event that routes to a re-check
// (membership.removed), the matching private channels are re-authorized and those that lost
// read access are closed (a system error, then phx_close). It never blocks on the database.
// Register the gateway before the realtime publisher, so a channel is suspended before any
// later event is broadcast.
func (g *Gateway) Publish(events []route.Routed) {
	for i := range events {
		if rc := events[i].Recheck; !rc.Empty() {
			g.Recheck(rc)
		}
	}
}

// Recheck suspends the private channels on rc's topics (and their sub-topics) and those of
// rc's users, and queues their read probes.
func (g *Gateway) Recheck(rc route.Recheck) {
	g.recheckXID.Store(rc.XID)
	g.recheckGen.Add(1)
	g.mu.Lock()
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	var chans []*channel
	for _, c := range conns {
		c.mu.Lock()
		for _, ch := range c.channels {
			if ch.key.private && !ch.closed && rechecks(rc, ch.key.topic, ch.claims.Subject) {
				ch.suspended++
				chans = append(chans, ch)
			}
		}
		c.mu.Unlock()
	}
	g.queueRecheck(rc.XID, chans...)
}

// rechecks reports whether a channel on topic joined by user is within rc.
func rechecks(rc route.Recheck, topic, user string) bool {
	for _, t := range rc.Topics {
		if topic == t || (strings.HasPrefix(topic, t) && topic[len(t)] == ':') {
			return true
		}
	}
	for _, u := range rc.Users {
		if user != "" && strings.EqualFold(user, u) {
			return true
		}
	}
	return false
}

// queueRecheck queues suspended channels for their probe, which must see transaction xid.
func (g *Gateway) queueRecheck(xid uint32, chans ...*channel) {
	if len(chans) == 0 {
		return
	}
	r := &g.recheck
	r.once.Do(func() {
		r.wake = make(chan struct{}, 1)
		go g.recheckLoop()
	})
	r.mu.Lock()
	for _, ch := range chans {
		r.queue = append(r.queue, pending{ch: ch, xid: xid})
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (g *Gateway) recheckLoop() {
	r := &g.recheck
	sem := make(chan struct{}, recheckWorkers)
	for {
		select {
		case <-g.stop:
			return
		case <-r.wake:
		}
		r.mu.Lock()
		batch := r.queue
		r.queue = nil
		r.mu.Unlock()
		for _, p := range batch {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				g.recheckChannel(p.ch, p.xid)
			}()
		}
	}
}

// recheckChannel re-runs ch's read probe once transaction xid is visible: it closes the
// channel when the user may no longer read the topic (or the probe fails: access is not
// assumed), else resumes it.
func (g *Gateway) recheckChannel(ch *channel, xid uint32) {
	c := ch.conn
	c.mu.Lock()
	if ch.closed {
		c.mu.Unlock()
		return
	}
	claims, presence := ch.claims, ch.presenceOn
	c.mu.Unlock()
	read, err := c.probeRead(context.Background(), ch.key.topic, claims, presence, xid)
	if err != nil {
		metricRechecks.WithLabelValues("error").Inc()
		g.cfg.Logger.Error("gateway: re-check probe failed; channel closed", "topic", ch.key.topic, "err", err)
		c.closeChannel(ch, "system", "Unable to re-check your permission to read from this Channel topic: "+ch.key.topic)
		return
	}
	if !read[extensionBroadcast] && !read[extensionPresence] {
		metricRechecks.WithLabelValues("closed").Inc()
		g.cfg.Logger.Info("gateway: channel closed after a membership change", "topic", ch.key.topic, "user", claims.Subject)
		c.refused(claims, ch.key.topic, "no read permission after a membership change")
		c.closeChannel(ch, "system", "You no longer have permission to read from this Channel topic: "+ch.key.topic)
		return
	}
	metricRechecks.WithLabelValues("kept").Inc()
	g.cfg.Logger.Debug("gateway: channel kept after a membership change", "topic", ch.key.topic, "user", claims.Subject)
	c.mu.Lock()
	ch.read = read
	ch.write = map[string]*bool{} // send rights are probed again
	ch.suspended--
	resumed := ch.suspended == 0 && !ch.closed
	ch.flushHeldLocked(nil)
	c.mu.Unlock()
	if resumed && ch.readsPresence() {
		// Presence diffs were held back while suspended: resend the whole state.
		c.push(frame{data: encodeText(c.v2, ch.joinRef, nil, ch.wireTopic, "presence_state", ch.room.state())})
	}
}
