package gateway

import (
	"encoding/json"
	"sync"
)

// roomKey names a room: public and private topics are separate namespaces.
type roomKey struct {
	private bool
	topic   string // sub-topic, without "realtime:"
}

// room holds the channels joined to one (topic, private) and their presences.
type room struct {
	key roomKey

	mu        sync.RWMutex
	members   map[*channel]struct{}
	presences map[*channel]*presence
}

// presence is one channel's tracked state.
type presence struct {
	key  string
	meta json.RawMessage // the client's meta object with "phx_ref" merged in
}

type hub struct {
	mu    sync.Mutex
	rooms map[roomKey]*room
}

func newHub() *hub { return &hub{rooms: map[roomKey]*room{}} }

// join adds ch to its room, creating the room on first use.
func (h *hub) join(ch *channel) *room {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[ch.key]
	if r == nil {
		r = &room{key: ch.key, members: map[*channel]struct{}{}, presences: map[*channel]*presence{}}
		h.rooms[ch.key] = r
	}
	r.mu.Lock()
	r.members[ch] = struct{}{}
	r.mu.Unlock()
	return r
}

// leave removes ch from its room and returns its presence, if it had one.
func (h *hub) leave(ch *channel) *presence {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[ch.key]
	if r == nil {
		return nil
	}
	r.mu.Lock()
	delete(r.members, ch)
	p := r.presences[ch]
	delete(r.presences, ch)
	empty := len(r.members) == 0
	r.mu.Unlock()
	if empty {
		delete(h.rooms, ch.key)
	}
	return p
}

// lookup returns the room for k, or nil.
func (h *hub) lookup(k roomKey) *room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[k]
}

// delivery is one broadcast on its way to a room's members, encoded at most once per form.
type delivery struct {
	wireTopic    string
	user         *userBroadcast
	preferBinary bool // send kind 4 to 2.0.0 sockets (client and single REST broadcasts)

	v1, v2text, v2bin []byte
}

func (d *delivery) frameFor(v2 bool) (frame, bool) {
	if v2 && (d.preferBinary || !d.user.json) {
		if d.v2bin == nil {
			b, ok := encodeKind4(d.wireTopic, d.user)
			if !ok {
				if !d.user.json {
					return frame{}, false
				}
			} else {
				d.v2bin = b
			}
		}
		if d.v2bin != nil {
			return frame{data: d.v2bin, binary: true}, true
		}
	}
	if !d.user.json {
		return frame{}, false // 1.0.0 sockets cannot receive binary payloads
	}
	if v2 {
		if d.v2text == nil {
			d.v2text = encodeText(true, nil, nil, d.wireTopic, "broadcast", broadcastPayload(d.user))
		}
		return frame{data: d.v2text}, true
	}
	if d.v1 == nil {
		d.v1 = encodeText(false, nil, nil, d.wireTopic, "broadcast", broadcastPayload(d.user))
	}
	return frame{data: d.v1}, true
}

// broadcast sends d to every member that may read broadcasts, except from unless includeSelf.
// It returns how many frames were queued.
func (r *room) broadcast(d *delivery, from *channel, includeSelf bool) int {
	n := 0
	for _, ch := range r.snapshot() {
		if ch == from && !includeSelf {
			continue
		}
		if ch.offer(d, "") {
			n++
		}
	}
	return n
}

// broadcastExcept sends d to every member that may read broadcasts, except the channels of
// user actor that joined with self:false.
func (r *room) broadcastExcept(d *delivery, actor string) int {
	n := 0
	for _, ch := range r.snapshot() {
		if ch.offer(d, actor) {
			n++
		}
	}
	return n
}

// snapshot returns the room's members, so a fan-out offers to them without holding the room
// lock (joins and leaves do not wait for it). A channel that left meanwhile is closed and
// refuses the offer; one that joined meanwhile missed only what its join raced with.
func (r *room) snapshot() []*channel {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*channel, 0, len(r.members))
	for ch := range r.members {
		out = append(out, ch)
	}
	return out
}

// state renders presence_state: {key: {metas: [...]}}.
func (r *room) state() json.RawMessage {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return groupPresences(r.presencesList())
}

func (r *room) presencesList() []*presence {
	out := make([]*presence, 0, len(r.presences))
	for _, p := range r.presences {
		out = append(out, p)
	}
	return out
}

func groupPresences(ps []*presence) json.RawMessage {
	type metas struct {
		Metas []json.RawMessage `json:"metas"`
	}
	m := map[string]*metas{}
	for _, p := range ps {
		if m[p.key] == nil {
			m[p.key] = &metas{Metas: []json.RawMessage{}}
		}
		m[p.key].Metas = append(m[p.key].Metas, p.meta)
	}
	b, _ := json.Marshal(m)
	return b
}

// setPresence stores (or, with p nil, removes) ch's presence and sends the diff to the
// room's presence-enabled members. It reports whether anything changed.
func (r *room) setPresence(ch *channel, p *presence) bool {
	r.mu.Lock()
	if _, member := r.members[ch]; !member {
		r.mu.Unlock()
		return false // the channel left meanwhile
	}
	old := r.presences[ch]
	if p == nil && old == nil {
		r.mu.Unlock()
		return false
	}
	if p != nil && old != nil && p.key == old.key && sameMeta(p.meta, old.meta) {
		r.mu.Unlock()
		return false // tracking again with identical meta is a no-op
	}
	if p == nil {
		delete(r.presences, ch)
	} else {
		r.presences[ch] = p
	}
	r.mu.Unlock()
	var joins, leaves []*presence
	if p != nil {
		joins = append(joins, p)
	}
	if old != nil {
		leaves = append(leaves, old)
	}
	r.sendDiff(joins, leaves)
	return true
}

// sendDiff pushes presence_diff {joins, leaves} to presence-enabled members.
func (r *room) sendDiff(joins, leaves []*presence) {
	payload, _ := json.Marshal(struct {
		Joins  json.RawMessage `json:"joins"`
		Leaves json.RawMessage `json:"leaves"`
	}{groupPresences(joins), groupPresences(leaves)})
	r.mu.RLock()
	defer r.mu.RUnlock()
	for ch := range r.members {
		if !ch.readsPresence() {
			continue
		}
		ch.conn.push(frame{data: encodeText(ch.conn.v2, ch.joinRef, nil, ch.wireTopic, "presence_diff", payload)})
	}
}

// sameMeta compares two meta objects ignoring phx_ref.
func sameMeta(a, b json.RawMessage) bool {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return false
	}
	delete(ma, "phx_ref")
	delete(mb, "phx_ref")
	if len(ma) != len(mb) {
		return false
	}
	for k, v := range ma {
		if w, ok := mb[k]; !ok || string(v) != string(w) {
			return false
		}
	}
	return true
}
