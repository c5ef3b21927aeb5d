package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/auth"
)

// channel is one joined topic on one socket. Fields after the first block are guarded by
// conn.mu.
type channel struct {
	conn       *conn
	wireTopic  string // "realtime:<sub>", echoed byte-exact
	key        roomKey
	joinRef    json.RawMessage
	self, ack  bool
	presenceOn bool
	presKey    string
	room       *room

	token    string
	claims   auth.Claims
	read     map[string]bool  // extension → may read
	write    map[string]*bool // extension → may write (nil = not checked yet)
	expTimer *time.Timer
	closed   bool
	detached bool
	// Broadcasts wait in held while the channel is suspended (suspended counts pending
	// re-checks: held ones are sent if access remains, dropped if not; presence diffs are
	// skipped and the whole state resent on resumption) or while its join's replay is read
	// and sent (replaying: held ones follow the replay, without those it already sent).
	suspended int
	replaying bool
	held      []heldFrame
}

// heldFrame is a broadcast frame waiting while its channel is suspended or replaying, with
// the event key and stored id a replay may already have sent.
type heldFrame struct {
	f       frame
	key, id string
}

// skipped reports whether skip names h's event key or stored id.
func (h heldFrame) skipped(skip map[string]bool) bool {
	return (h.key != "" && skip[h.key]) || (h.id != "" && skip[h.id])
}

// offer sends broadcast d to the channel if it may read broadcasts, holding its frame while
// the channel is suspended or replaying. It reports whether d was queued or held. The frame
// is encoded here, by the broadcasting goroutine: a delivery's cached encodings are never
// touched by another. A channel of user skip (non-empty) that joined with self:false gets
// nothing: the sidecar's broadcast of that user's own action.
func (ch *channel) offer(d *delivery, skip string) bool {
	c := ch.conn
	f, ok := d.frameFor(c.v2)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if skip != "" && !ch.self && ch.claims.Subject == skip {
		return false
	}
	if ch.closed || (ch.key.private && !ch.read[extensionBroadcast]) {
		return false
	}
	if ch.suspended > 0 || ch.replaying {
		if len(ch.held) >= c.gw.cfg.SendQueue {
			return false // as full as a slow consumer's queue: dropped
		}
		h := heldFrame{f: f}
		if ch.replaying {
			h.key, h.id = payloadKey(d.user.payload), metaIDOf(d.user.meta)
		}
		ch.held = append(ch.held, h)
		return true
	}
	return c.push(f) // under c.mu, so a flush of held broadcasts keeps the order
}

// flushHeldLocked (under c.mu) sends the held broadcasts once nothing holds them any more,
// except those skip names by event key or stored id.
func (ch *channel) flushHeldLocked(skip map[string]bool) {
	if ch.suspended > 0 || ch.replaying || ch.closed {
		return
	}
	for _, h := range ch.held {
		if !h.skipped(skip) && (!ch.key.private || ch.read[extensionBroadcast]) {
			ch.conn.push(h.f)
		}
	}
	ch.held = nil
}

// endReplay releases the broadcasts held during the join's replay, without those replayed.
func (ch *channel) endReplay(replayed map[string]bool) {
	ch.conn.mu.Lock()
	defer ch.conn.mu.Unlock()
	ch.replaying = false
	if ch.suspended == 0 {
		ch.flushHeldLocked(replayed)
		return
	}
	kept := ch.held[:0]
	for _, h := range ch.held {
		if !h.skipped(replayed) {
			kept = append(kept, h)
		}
	}
	ch.held = kept
}

func (ch *channel) readsPresence() bool {
	ch.conn.mu.Lock()
	defer ch.conn.mu.Unlock()
	return !ch.closed && ch.suspended == 0 && ch.presenceOn && (!ch.key.private || ch.read[extensionPresence])
}

// reply sends phx_reply {status, response} echoing the push's refs.
func (c *conn) reply(in inbound, status string, response any) {
	payload, _ := json.Marshal(map[string]any{"status": status, "response": response})
	c.push(frame{data: encodeText(c.v2, in.joinRef, in.ref, in.topic, "phx_reply", payload)})
}

func (c *conn) replyError(in inbound, reason string) {
	c.reply(in, "error", map[string]string{"reason": reason})
}

// system pushes a system message: [join_ref, null, topic, "system", {...}].
func (c *conn) system(ch *channel, extension, status, message string) {
	payload, _ := json.Marshal(map[string]string{"extension": extension, "status": status, "message": message, "channel": ch.key.topic})
	c.push(frame{data: encodeText(c.v2, ch.joinRef, nil, ch.wireTopic, "system", payload)})
}

func (c *conn) handle(ctx context.Context, in inbound) {
	if in.topic == phoenixTopic {
		if in.event == "heartbeat" {
			c.reply(in, "ok", struct{}{})
		}
		return
	}
	if in.event == "phx_join" {
		c.join(ctx, in)
		return
	}
	c.mu.Lock()
	ch := c.channels[in.topic]
	c.mu.Unlock()
	if ch == nil {
		if string(in.ref) != "null" {
			c.replyError(in, "unmatched topic")
		}
		return
	}
	switch in.event {
	case "phx_leave":
		c.reply(in, "ok", struct{}{})
		c.closeChannel(ch, "", "")
	case "broadcast":
		c.broadcast(ctx, ch, in)
	case "presence":
		c.presenceEvent(ctx, ch, in)
	case "access_token":
		c.accessToken(ctx, ch, in)
	default:
		// Unknown events are ignored, as Realtime does.
	}
}

type joinPayload struct {
	Config struct {
		Broadcast struct {
			Ack              flexBool      `json:"ack"`
			Self             flexBool      `json:"self"`
			ReplicationReady flexBool      `json:"replication_ready"`
			Replay           *replayParams `json:"replay"`
		} `json:"broadcast"`
		Presence struct {
			Enabled flexBool        `json:"enabled"`
			Key     json.RawMessage `json:"key"`
		} `json:"presence"`
		PostgresChanges []map[string]json.RawMessage `json:"postgres_changes"`
		Private         flexBool                     `json:"private"`
	} `json:"config"`
	AccessToken *string `json:"access_token"`
	UserToken   *string `json:"user_token"`
}

// pickToken applies Realtime's token selection: user_token, then access_token, then the
// connect apikey; an sb_… access token stands for the connect apikey.
func (c *conn) pickToken(p joinPayload) string {
	if p.UserToken != nil && *p.UserToken != "" {
		return *p.UserToken
	}
	if p.AccessToken != nil && *p.AccessToken != "" && !strings.HasPrefix(*p.AccessToken, auth.OpaqueKeyPrefix) {
		return *p.AccessToken
	}
	return c.token
}

func (c *conn) joinError(in inbound, result, reason string) {
	metricJoins.WithLabelValues(result).Inc()
	if d := c.gw.cfg.JoinErrorDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return
		}
	}
	c.replyError(in, reason)
}

func (c *conn) join(ctx context.Context, in inbound) {
	sub, ok := strings.CutPrefix(in.topic, topicPrefix)
	if !ok {
		c.replyError(in, "unmatched topic")
		return
	}
	if sub == "" {
		c.joinError(in, "error", "TopicNameRequired: You must provide a topic name")
		return
	}
	var p joinPayload
	var err error
	if err = json.Unmarshal(in.payload, &p); err != nil {
		c.joinError(in, "error", "InvalidJoinPayload: "+err.Error())
		return
	}
	c.mu.Lock()
	old := c.channels[in.topic]
	count := len(c.channels)
	c.mu.Unlock()
	if old != nil {
		// A rejoin of a topic replaces the previous channel, as Phoenix does.
		c.closeChannel(old, "", "")
		count--
	}
	if count >= c.gw.cfg.MaxChannelsPerConn {
		c.joinError(in, "limit", "ChannelRateLimitReached: Too many channels")
		return
	}
	var since time.Time
	var replayLimit int
	if rp := p.Config.Broadcast.Replay; rp != nil {
		if !p.Config.Private {
			c.joinError(in, "error", reasonReplayPublic)
			return
		}
		if since, replayLimit, err = rp.parse(); err != nil || c.gw.cfg.Store == nil {
			c.joinError(in, "error", reasonReplayInvalid)
			return
		}
	}
	token := c.pickToken(p)
	claims, err := c.gw.cfg.Verifier.Verify(token)
	if err != nil {
		var te *auth.TokenError
		reason := "InvalidJWTToken: " + err.Error()
		if errors.As(err, &te) {
			reason = te.Reason()
		}
		c.joinError(in, "token", reason)
		return
	}
	ch := &channel{conn: c, wireTopic: in.topic, key: roomKey{private: bool(p.Config.Private), topic: sub},
		joinRef: in.joinRef, self: bool(p.Config.Broadcast.Self), ack: bool(p.Config.Broadcast.Ack),
		presenceOn: bool(p.Config.Presence.Enabled), presKey: presenceKey(p.Config.Presence.Key),
		token: token, claims: claims, read: map[string]bool{extensionBroadcast: true, extensionPresence: true},
		write: map[string]*bool{}}
	gen := c.gw.recheckGen.Load()
	if ch.key.private {
		read, err := c.probeRead(ctx, ch.key.topic, claims, ch.presenceOn, 0)
		if err != nil {
			c.gw.cfg.Logger.Error("gateway: authorization probe failed", "topic", sub, "err", err)
			c.joinError(in, "error", "Unknown Error on Channel")
			return
		}
		if !read[extensionBroadcast] && !read[extensionPresence] {
			c.refused(claims, sub, "no read permission")
			c.joinError(in, "unauthorized", "Unauthorized: You do not have permissions to read from this Channel topic: "+sub)
			return
		}
		if p.Config.Broadcast.Replay != nil && !read[extensionBroadcast] {
			c.refused(claims, sub, "no read permission for replay")
			c.joinError(in, "unauthorized", "Unauthorized: You do not have permissions to read from this Channel topic: "+sub)
			return
		}
		ch.read = read
	}
	// Live broadcasts arriving while the replay is read wait behind it.
	ch.replaying = p.Config.Broadcast.Replay != nil
	// The room is set before the channel is visible to anyone else and never changes.
	ch.room = c.gw.hub.join(ch)
	var replay []StoredMessage
	if ch.replaying {
		rctx, cancel := context.WithTimeout(ctx, c.gw.cfg.ProbeTimeout)
		replay, err = c.gw.cfg.Store.Replay(rctx, sub, since, replayLimit)
		cancel()
		if err != nil {
			c.gw.cfg.Logger.Error("gateway: replay failed", "topic", sub, "err", err)
			c.detach(ch)
			c.joinError(in, "error", reasonReplayFailed)
			return
		}
	}
	metricChannels.Inc()
	c.mu.Lock()
	c.channels[in.topic] = ch // only this goroutine adds channels: the topic is still free
	ch.armExpiry()
	// A membership change published while the probe ran may have missed this channel.
	overlapped := ch.key.private && c.gw.recheckGen.Load() != gen
	if overlapped {
		ch.suspended++
	}
	c.mu.Unlock()
	if overlapped {
		c.gw.queueRecheck(c.gw.recheckXID.Load(), ch)
	}
	metricJoins.WithLabelValues("ok").Inc()

	c.reply(in, "ok", map[string]any{"postgres_changes": echoBindings(p.Config.PostgresChanges)})
	if ch.replaying {
		replayed := make(map[string]bool, 2*len(replay))
		for _, m := range replay {
			replayed[m.ID] = true
			if k := payloadKey(m.Payload); k != "" {
				replayed[k] = true
			}
			d := &delivery{wireTopic: ch.wireTopic, user: replayBroadcast(m)}
			if f, ok := d.frameFor(c.v2); ok {
				c.push(f)
			}
		}
		metricReplayed.Add(float64(len(replay)))
		ch.endReplay(replayed)
	}
	if ch.readsPresence() {
		c.push(frame{data: encodeText(c.v2, ch.joinRef, nil, ch.wireTopic, "presence_state", ch.room.state())})
	}
	if len(p.Config.PostgresChanges) > 0 {
		c.system(ch, "postgres_changes", "error", "postgres_changes are not served by the vendorhub gateway: listen to broadcast events instead")
	}
	if p.Config.Broadcast.ReplicationReady {
		go c.notifyReplicationReady(ch)
	}
}

func (c *conn) refused(claims auth.Claims, topic, why string) {
	if c.gw.cfg.Audit == nil {
		return
	}
	c.gw.cfg.Audit.Add(audit.Entry{Action: audit.ActionJoinRefused, Actor: claims.Subject, Subject: "realtime:" + topic,
		Reason: why, SourceIP: c.ip, Details: map[string]any{"role": claims.Role}})
}

// echoBindings returns the postgres_changes bindings with an id each, so the client's
// binding check passes.
func echoBindings(bs []map[string]json.RawMessage) []map[string]json.RawMessage {
	out := make([]map[string]json.RawMessage, 0, len(bs))
	for _, b := range bs {
		raw, _ := json.Marshal(b)
		h := fnv.New32a()
		_, _ = h.Write(raw)
		id, _ := json.Marshal(h.Sum32() & 0x7fffffff)
		e := make(map[string]json.RawMessage, len(b)+1)
		for k, v := range b {
			e[k] = v
		}
		e["id"] = id
		out = append(out, e)
	}
	return out
}

func presenceKey(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	if t := strings.TrimSpace(string(raw)); t != "" && t != "null" && t != `""` && !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		return t
	}
	return randomID()
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// armExpiry (under conn.mu) closes the channel when its token expires.
func (ch *channel) armExpiry() {
	if ch.expTimer != nil {
		ch.expTimer.Stop()
	}
	d := ch.claims.ExpiresAt.Sub(ch.conn.gw.cfg.Now())
	if d > 365*24*time.Hour {
		return // API keys live for years: nothing to arm
	}
	ch.expTimer = time.AfterFunc(max(d, 0), func() {
		ago := ch.conn.gw.cfg.Now().Sub(ch.claims.ExpiresAt)
		ch.conn.closeChannel(ch, "system", "Token has expired "+strconv.FormatInt(max(int64(ago.Seconds()), 0), 10)+" seconds ago")
	})
}

// closeChannel removes ch, optionally pushing a system error first, then phx_close.
func (c *conn) closeChannel(ch *channel, ext, message string) {
	c.mu.Lock()
	if ch.closed {
		c.mu.Unlock()
		return
	}
	ch.closed = true
	ch.held = nil
	if ch.expTimer != nil {
		ch.expTimer.Stop()
	}
	if c.channels[ch.wireTopic] == ch {
		delete(c.channels, ch.wireTopic)
	}
	c.mu.Unlock()
	if message != "" {
		c.system(ch, ext, "error", message)
	}
	c.push(frame{data: encodeText(c.v2, ch.joinRef, ch.joinRef, ch.wireTopic, "phx_close", json.RawMessage("{}"))})
	c.detach(ch)
}

// detach leaves the room (once), announcing the presence leave.
func (c *conn) detach(ch *channel) {
	c.mu.Lock()
	ch.closed = true
	if ch.expTimer != nil {
		ch.expTimer.Stop()
	}
	done := ch.detached
	ch.detached = true
	c.mu.Unlock()
	if done {
		return
	}
	if p := c.gw.hub.leave(ch); p != nil {
		ch.room.sendDiff(nil, []*presence{p})
	}
	metricChannels.Dec()
}

// broadcast handles a client broadcast push (JSON or binary kind 3).
func (c *conn) broadcast(ctx context.Context, ch *channel, in inbound) {
	u := in.user
	if u == nil {
		var p struct {
			Type    string          `json:"type"`
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(in.payload, &p); err != nil || p.Event == "" {
			c.replyError(in, "Invalid broadcast payload")
			return
		}
		if len(p.Payload) == 0 {
			p.Payload = json.RawMessage("{}")
		}
		u = &userBroadcast{event: p.Event, payload: p.Payload, json: true}
	}
	if len(u.payload) > c.gw.cfg.MaxPayloadBytes {
		c.reply(in, "error", map[string]string{"error": "payload_size_exceeded"})
		return
	}
	persist := persistRequested(u.meta)
	if ch.key.private {
		ok, err := c.mayWrite(ctx, ch, extensionBroadcast)
		if persist && (err != nil || !ok) {
			// A stored message is refused out loud: realtime-js resolves send() with the error.
			metricPersisted.WithLabelValues("refused").Inc()
			c.reply(in, "error", map[string]string{"error": "Unauthorized: You do not have permissions to write to this Channel topic: " + ch.key.topic})
			return
		}
		if err != nil || !ok {
			return // silently dropped, as Realtime does, even with ack
		}
	}
	if persist {
		if !c.persist(ctx, ch, in, u) {
			return
		}
	} else {
		u.meta = nil // metadata keys are requests to the server, not for receivers
	}
	metricBroadcasts.WithLabelValues("client").Inc()
	ch.room.broadcast(&delivery{wireTopic: ch.wireTopic, user: u, preferBinary: in.user != nil}, ch, ch.self)
	if ch.ack {
		c.reply(in, "ok", struct{}{})
	}
}

func (c *conn) presenceEvent(ctx context.Context, ch *channel, in inbound) {
	var p struct {
		Type    string          `json:"type"`
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(in.payload, &p); err != nil {
		c.replyError(in, "Invalid presence payload")
		return
	}
	if !c.presence.Allow() {
		c.closeChannel(ch, "system", "Client presence rate limit exceeded")
		return
	}
	if ch.key.private {
		ok, err := c.mayWrite(ctx, ch, extensionPresence)
		if err != nil || !ok {
			c.replyError(in, "Unauthorized: You do not have permissions to track presence on this Channel topic: "+ch.key.topic)
			return
		}
	}
	switch strings.ToLower(p.Event) {
	case "track":
		meta := map[string]json.RawMessage{}
		if err := json.Unmarshal(p.Payload, &meta); err != nil || meta == nil {
			c.replyError(in, "Presence track payload must be a map")
			return
		}
		if len(p.Payload) > c.gw.cfg.MaxPayloadBytes {
			c.closeChannel(ch, "system", "Track message size exceeded")
			return
		}
		meta["phx_ref"], _ = json.Marshal(randomID()[:20])
		b, _ := json.Marshal(meta)
		ch.room.setPresence(ch, &presence{key: ch.presKey, meta: b})
	case "untrack":
		ch.room.setPresence(ch, nil)
	default:
		c.replyError(in, "Unknown presence event")
		return
	}
	c.reply(in, "ok", struct{}{})
}

// accessToken handles a token refresh: no reply on success; on failure a system error and
// the channel closes.
func (c *conn) accessToken(ctx context.Context, ch *channel, in inbound) {
	var p struct {
		AccessToken *string `json:"access_token"`
	}
	_ = json.Unmarshal(in.payload, &p)
	c.mu.Lock()
	same := p.AccessToken == nil || *p.AccessToken == "" || *p.AccessToken == ch.token
	c.mu.Unlock()
	if same || strings.HasPrefix(*p.AccessToken, auth.OpaqueKeyPrefix) {
		return
	}
	claims, err := c.gw.cfg.Verifier.Verify(*p.AccessToken)
	if err != nil {
		msg := err.Error()
		c.closeChannel(ch, "system", msg)
		return
	}
	if ch.key.private {
		read, err := c.probeRead(ctx, ch.key.topic, claims, ch.presenceOn, 0)
		if err != nil || (!read[extensionBroadcast] && !read[extensionPresence]) {
			c.refused(claims, ch.key.topic, "no read permission after token refresh")
			c.closeChannel(ch, "system", "You no longer have permission to read from this Channel topic: "+ch.key.topic)
			return
		}
		c.mu.Lock()
		ch.read = read
		c.mu.Unlock()
	}
	c.mu.Lock()
	ch.token, ch.claims = *p.AccessToken, claims
	ch.write = map[string]*bool{}
	if !ch.closed {
		ch.armExpiry()
	}
	c.mu.Unlock()
}

// probeRead runs the RLS read probe.
// after (non-zero) is a transaction whose effects the probe must see (Probe.After).
func (c *conn) probeRead(ctx context.Context, topic string, claims auth.Claims, presence bool, after uint32) (map[string]bool, error) {
	if c.gw.cfg.Authorizer == nil {
		return map[string]bool{}, nil
	}
	exts := []string{extensionBroadcast}
	if presence {
		exts = append(exts, extensionPresence)
	}
	pctx, cancel := context.WithTimeout(ctx, c.gw.cfg.ProbeTimeout)
	defer cancel()
	return c.gw.cfg.Authorizer.CanRead(pctx, Probe{Topic: topic, Claims: claims, Headers: c.headers, After: after}, exts...)
}

// mayWrite runs (once per token) the RLS write probe for ext.
func (c *conn) mayWrite(ctx context.Context, ch *channel, ext string) (bool, error) {
	c.mu.Lock()
	cached := ch.write[ext]
	claims := ch.claims
	c.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	if c.gw.cfg.Authorizer == nil {
		return false, nil
	}
	pctx, cancel := context.WithTimeout(ctx, c.gw.cfg.ProbeTimeout)
	defer cancel()
	ok, err := c.gw.cfg.Authorizer.CanWrite(pctx, Probe{Topic: ch.key.topic, Claims: claims, Headers: c.headers}, ext)
	if err != nil {
		c.gw.cfg.Logger.Error("gateway: write probe failed", "topic", ch.key.topic, "err", err)
		return false, err
	}
	c.mu.Lock()
	ch.write[ext] = &ok
	c.mu.Unlock()
	return ok, nil
}

// persist stores a client broadcast sent with persist, and sets its meta to the stored id
// as for any broadcast from the database. It replies with the error and returns false when
// the message cannot be stored.
func (c *conn) persist(ctx context.Context, ch *channel, in inbound, u *userBroadcast) bool {
	fail := func(result, msg string) bool {
		metricPersisted.WithLabelValues(result).Inc()
		c.reply(in, "error", map[string]string{"error": msg})
		return false
	}
	switch {
	case !ch.key.private:
		return fail("refused", "Realtime send() cannot store a message on a public channel.")
	case c.gw.cfg.Store == nil:
		return fail("error", "UnableToStoreMessage: this gateway stores no broadcasts")
	case !u.json || !json.Valid(u.payload):
		return fail("refused", "UnableToStoreMessage: only JSON payloads can be stored")
	case !c.persists.Allow():
		return fail("limited", "UnableToStoreMessage: too many stored messages per second")
	}
	pctx, cancel := context.WithTimeout(ctx, c.gw.cfg.ProbeTimeout)
	id, err := c.gw.cfg.Store.Persist(pctx, ch.key.topic, u.event, u.payload)
	cancel()
	if err != nil {
		c.gw.cfg.Logger.Error("gateway: persist failed", "topic", ch.key.topic, "err", err)
		return fail("error", "UnableToStoreMessage: Realtime was unable to store the message")
	}
	metricPersisted.WithLabelValues("stored").Inc()
	u.meta = metaID(id)
	return true
}

// notifyReplicationReady sends Realtime's system event once the replication feeding the
// gateway streams, or closes the channel when it does not in time.
func (c *conn) notifyReplicationReady(ch *channel) {
	if ready := c.gw.cfg.ReplicationReady; ready != nil {
		t := time.NewTimer(c.gw.cfg.ReplicationReadyTimeout)
		defer t.Stop()
		select {
		case <-ready:
		case <-c.done:
			return
		case <-t.C:
			c.closeChannel(ch, "system", "Replication connection was not established in time")
			return
		}
	}
	c.mu.Lock()
	closed := ch.closed
	c.mu.Unlock()
	if !closed {
		c.system(ch, "system", "ok", "Replication connection established")
	}
}
