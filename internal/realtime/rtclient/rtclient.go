// Package rtclient is a minimal Supabase Realtime client for tests and benchmarks: dial with
// an API key over protocol 1.0.0 or 2.0.0, join channels (public or private, with a token),
// heartbeat, broadcast as JSON or binary kind 3, presence track/untrack, access_token refresh
// and leave. Server messages on a joined topic arrive on the channel's Messages stream;
// replies are matched to pushes by ref.
//
// It is not a production client: no rejoin, no reconnect. Frontends use supabase-js.
package rtclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
)

// Options configure Dial.
type Options struct {
	// URL is the project URL, e.g. http://127.0.0.1:54380; the socket is <URL>/realtime/v1/websocket.
	URL string
	// APIKey is sent as the apikey query parameter.
	APIKey string
	// VSN is the protocol version, "1.0.0" or "2.0.0". Default: "2.0.0".
	VSN string
	// Buffer is the capacity of each channel's Messages stream. Default: 1,024.
	Buffer int
	// HTTPClient dials the socket. Default: http.DefaultClient.
	HTTPClient *http.Client
}

// DialError is an HTTP refusal of the upgrade.
type DialError struct {
	Status int
	Body   string
}

func (e *DialError) Error() string {
	return fmt.Sprintf("rtclient: dial refused with %d: %s", e.Status, e.Body)
}

// ReplyError is an error phx_reply.
type ReplyError struct {
	Response json.RawMessage
}

func (e *ReplyError) Error() string { return "rtclient: error reply: " + string(e.Response) }

// Reason returns response.reason, if any.
func (e *ReplyError) Reason() string {
	var r struct{ Reason string }
	_ = json.Unmarshal(e.Response, &r)
	return r.Reason
}

// ErrClosed is returned once the socket has ended.
var ErrClosed = errors.New("rtclient: socket closed")

// Message is one server message on a topic.
type Message struct {
	JoinRef, Ref json.RawMessage
	Topic, Event string
	Payload      json.RawMessage
	// Binary is set when the message came as a binary kind-4 frame.
	Binary bool
	// For broadcasts (text or kind 4): the user event, payload and metadata.
	UserEvent   string
	UserPayload []byte
	Meta        json.RawMessage
}

// Client is one socket.
type Client struct {
	ws  *websocket.Conn
	v2  bool
	buf int
	ref atomic.Int64

	mu       sync.Mutex
	pending  map[string]chan Message
	channels map[string]*Channel
	err      error
	done     chan struct{}
}

// Dial opens a socket.
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.VSN == "" {
		o.VSN = "2.0.0"
	}
	if o.Buffer == 0 {
		o.Buffer = 1024
	}
	u, err := url.Parse(strings.TrimRight(o.URL, "/") + "/realtime/v1/websocket")
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	q := u.Query()
	q.Set("apikey", o.APIKey)
	q.Set("vsn", o.VSN)
	u.RawQuery = q.Encode()
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: o.HTTPClient})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
			}
			return nil, &DialError{Status: resp.StatusCode, Body: string(body)}
		}
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	c := &Client{ws: ws, v2: o.VSN == "2.0.0", buf: o.Buffer, pending: map[string]chan Message{}, channels: map[string]*Channel{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// Done is closed when the socket ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the socket ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the socket.
func (c *Client) Close() error { return c.ws.Close(websocket.StatusNormalClosure, "") }

// CloseNow drops the socket without a close handshake.
func (c *Client) CloseNow() error { return c.ws.CloseNow() }

func (c *Client) nextRef() string { return strconv.FormatInt(c.ref.Add(1), 10) }

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			for _, ch := range c.channels {
				close(ch.msgs)
			}
			c.channels = map[string]*Channel{}
			c.mu.Unlock()
			return
		}
		m, err := c.decode(typ, data)
		if err != nil {
			continue
		}
		c.dispatch(m)
	}
}

func (c *Client) decode(typ websocket.MessageType, data []byte) (Message, error) {
	var m Message
	if typ == websocket.MessageBinary {
		if len(data) < 5 || data[0] != 4 {
			return m, errors.New("unexpected binary frame")
		}
		tl, el, ml, enc := int(data[1]), int(data[2]), int(data[3]), data[4]
		off := 5
		if off+tl+el+ml > len(data) {
			return m, errors.New("truncated kind 4")
		}
		m.Topic = string(data[off : off+tl])
		off += tl
		m.UserEvent = string(data[off : off+el])
		off += el
		if ml > 0 {
			m.Meta = json.RawMessage(data[off : off+ml])
		}
		off += ml
		m.UserPayload = data[off:]
		m.Event, m.Binary = "broadcast", true
		_ = enc
		return m, nil
	}
	if c.v2 {
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil || len(arr) != 5 {
			return m, fmt.Errorf("bad v2 frame %s", data)
		}
		m.JoinRef, m.Ref, m.Payload = arr[0], arr[1], arr[4]
		_ = json.Unmarshal(arr[2], &m.Topic)
		_ = json.Unmarshal(arr[3], &m.Event)
	} else {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return m, err
		}
		if _, has := obj["join_ref"]; has {
			return m, errors.New("1.0.0 server frames must not carry join_ref")
		}
		m.Ref, m.Payload = obj["ref"], obj["payload"]
		_ = json.Unmarshal(obj["topic"], &m.Topic)
		_ = json.Unmarshal(obj["event"], &m.Event)
	}
	if m.Event == "broadcast" {
		var b struct {
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Meta    json.RawMessage `json:"meta"`
		}
		_ = json.Unmarshal(m.Payload, &b)
		m.UserEvent, m.UserPayload, m.Meta = b.Event, b.Payload, b.Meta
	}
	return m, nil
}

func (c *Client) dispatch(m Message) {
	var ref string
	if m.Event == "phx_reply" && json.Unmarshal(m.Ref, &ref) == nil {
		c.mu.Lock()
		ch := c.pending[ref]
		delete(c.pending, ref)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
			return
		}
	}
	c.mu.Lock()
	chn := c.channels[m.Topic]
	if chn != nil && m.Event == "phx_close" {
		delete(c.channels, m.Topic)
	}
	c.mu.Unlock()
	if chn == nil {
		return
	}
	select {
	case chn.msgs <- m:
	default:
		chn.overflow.Add(1)
	}
	if m.Event == "phx_close" {
		close(chn.msgs)
	}
}

// send writes a frame; with wantReply it waits for the reply to ref.
func (c *Client) send(ctx context.Context, joinRef, ref, topic, event string, payload any, wantReply bool) (Message, error) {
	var wait chan Message
	if wantReply {
		wait = make(chan Message, 1)
		c.mu.Lock()
		c.pending[ref] = wait
		c.mu.Unlock()
		defer func() { c.mu.Lock(); delete(c.pending, ref); c.mu.Unlock() }()
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return Message{}, err
	}
	if err := c.ws.Write(ctx, websocket.MessageText, c.encode(joinRef, ref, topic, event, p)); err != nil {
		return Message{}, err
	}
	if !wantReply {
		return Message{}, nil
	}
	return c.await(ctx, wait)
}

func (c *Client) await(ctx context.Context, wait chan Message) (Message, error) {
	select {
	case m := <-wait:
		var r struct {
			Status   string          `json:"status"`
			Response json.RawMessage `json:"response"`
		}
		_ = json.Unmarshal(m.Payload, &r)
		if r.Status != "ok" {
			return m, &ReplyError{Response: r.Response}
		}
		return m, nil
	case <-c.done:
		return Message{}, ErrClosed
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

func strOrNull(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	return json.RawMessage(strconv.Quote(s))
}

func (c *Client) encode(joinRef, ref, topic, event string, payload json.RawMessage) []byte {
	if c.v2 {
		b, _ := json.Marshal([]any{strOrNull(joinRef), strOrNull(ref), topic, event, payload})
		return b
	}
	b, _ := json.Marshal(map[string]any{"topic": topic, "event": event, "payload": payload, "ref": strOrNull(ref), "join_ref": strOrNull(joinRef)})
	return b
}

// WriteRaw writes a raw frame (for protocol tests).
func (c *Client) WriteRaw(ctx context.Context, binary bool, data []byte) error {
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	return c.ws.Write(ctx, typ, data)
}

// Heartbeat sends a heartbeat and waits for its reply.
func (c *Client) Heartbeat(ctx context.Context) error {
	_, err := c.send(ctx, "", c.nextRef(), "phoenix", "heartbeat", struct{}{}, true)
	return err
}

// JoinConfig is a channel's config.
type JoinConfig struct {
	Private     bool
	Self, Ack   bool
	Presence    bool
	PresenceKey string
	// AccessToken is the user's JWT; empty = none (the server uses the apikey).
	AccessToken string
	// PostgresChanges bindings to send (echoed back by the server).
	PostgresChanges []map[string]string
	// Replay, when set, is sent as config.broadcast.replay (e.g. {"since": ms, "limit": n}).
	Replay any
	// ReplicationReady asks for the "Replication connection established" system event.
	ReplicationReady bool
}

// Channel is a joined topic.
type Channel struct {
	c        *Client
	Topic    string // "realtime:<sub>"
	JoinRef  string
	msgs     chan Message
	overflow atomic.Int64
	// JoinReply is the join's reply payload.
	JoinReply json.RawMessage
}

// Join joins realtime:<sub> and waits for the reply.
func (c *Client) Join(ctx context.Context, sub string, cfg JoinConfig) (*Channel, error) {
	topic := "realtime:" + sub
	ref := c.nextRef()
	ch := &Channel{c: c, Topic: topic, JoinRef: ref, msgs: make(chan Message, c.buf)}
	c.mu.Lock()
	c.channels[topic] = ch
	c.mu.Unlock()
	pc := cfg.PostgresChanges
	if pc == nil {
		pc = []map[string]string{}
	}
	bc := map[string]any{"self": cfg.Self, "ack": cfg.Ack}
	if cfg.Replay != nil {
		bc["replay"] = cfg.Replay
	}
	if cfg.ReplicationReady {
		bc["replication_ready"] = true
	}
	payload := map[string]any{"config": map[string]any{
		"broadcast":        bc,
		"presence":         map[string]any{"key": cfg.PresenceKey, "enabled": cfg.Presence},
		"postgres_changes": pc,
		"private":          cfg.Private,
	}}
	if cfg.AccessToken != "" {
		payload["access_token"] = cfg.AccessToken
	}
	m, err := c.send(ctx, ref, ref, topic, "phx_join", payload, true)
	if err != nil {
		c.mu.Lock()
		if c.channels[topic] == ch {
			delete(c.channels, topic)
		}
		c.mu.Unlock()
		return nil, err
	}
	var r struct{ Response json.RawMessage }
	_ = json.Unmarshal(m.Payload, &r)
	ch.JoinReply = r.Response
	return ch, nil
}

// Messages streams the server messages on this topic; it is closed on phx_close or when the
// socket ends.
func (ch *Channel) Messages() <-chan Message { return ch.msgs }

// Overflowed counts messages dropped because Messages was not drained.
func (ch *Channel) Overflowed() int64 { return ch.overflow.Load() }

// Broadcast sends a broadcast as JSON text; with ack it waits for the server's reply.
func (ch *Channel) Broadcast(ctx context.Context, event string, payload any, ack bool) error {
	_, err := ch.c.send(ctx, ch.JoinRef, ch.c.nextRef(), ch.Topic, "broadcast",
		map[string]any{"type": "broadcast", "event": event, "payload": payload}, ack)
	return err
}

// BroadcastBinary sends a broadcast as a 2.0.0 binary kind-3 frame with a JSON payload (or
// raw bytes when raw is set); with ack it waits for the server's reply.
func (ch *Channel) BroadcastBinary(ctx context.Context, event string, payload any, raw []byte, ack bool) error {
	return ch.BroadcastBinaryMeta(ctx, event, payload, raw, nil, ack)
}

// BroadcastBinaryMeta is BroadcastBinary with frame metadata, e.g. {"persist":true}.
func (ch *Channel) BroadcastBinaryMeta(ctx context.Context, event string, payload any, raw []byte, meta json.RawMessage, ack bool) error {
	ref := ch.c.nextRef()
	enc := byte(1)
	body := raw
	if raw == nil {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return err
		}
	} else {
		enc = 0
	}
	var b bytes.Buffer
	b.Write([]byte{3, byte(len(ch.JoinRef)), byte(len(ref)), byte(len(ch.Topic)), byte(len(event)), byte(len(meta)), enc})
	b.WriteString(ch.JoinRef)
	b.WriteString(ref)
	b.WriteString(ch.Topic)
	b.WriteString(event)
	b.Write(meta)
	b.Write(body)
	var wait chan Message
	if ack {
		wait = make(chan Message, 1)
		ch.c.mu.Lock()
		ch.c.pending[ref] = wait
		ch.c.mu.Unlock()
	}
	if err := ch.c.ws.Write(ctx, websocket.MessageBinary, b.Bytes()); err != nil {
		return err
	}
	if !ack {
		return nil
	}
	_, err := ch.c.await(ctx, wait)
	return err
}

// Track sets this channel's presence meta.
func (ch *Channel) Track(ctx context.Context, meta any) error {
	_, err := ch.c.send(ctx, ch.JoinRef, ch.c.nextRef(), ch.Topic, "presence",
		map[string]any{"type": "presence", "event": "track", "payload": meta}, true)
	return err
}

// Untrack removes this channel's presence.
func (ch *Channel) Untrack(ctx context.Context) error {
	_, err := ch.c.send(ctx, ch.JoinRef, ch.c.nextRef(), ch.Topic, "presence",
		map[string]any{"type": "presence", "event": "untrack"}, true)
	return err
}

// SetToken pushes an access_token refresh (the server does not reply on success).
func (ch *Channel) SetToken(ctx context.Context, token string) error {
	_, err := ch.c.send(ctx, ch.JoinRef, ch.c.nextRef(), ch.Topic, "access_token", map[string]any{"access_token": token}, false)
	return err
}

// Leave leaves the channel and waits for the reply.
func (ch *Channel) Leave(ctx context.Context) error {
	_, err := ch.c.send(ctx, ch.JoinRef, ch.c.nextRef(), ch.Topic, "phx_leave", struct{}{}, true)
	return err
}

// Next returns the next message with one of events, skipping others, or an error when ctx
// ends or the stream closes.
func (ch *Channel) Next(ctx context.Context, events ...string) (Message, error) {
	for {
		select {
		case m, ok := <-ch.msgs:
			if !ok {
				return Message{}, ErrClosed
			}
			if len(events) == 0 {
				return m, nil
			}
			for _, e := range events {
				if m.Event == e {
					return m, nil
				}
			}
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}
