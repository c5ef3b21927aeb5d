package providerfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RealtimeConfig configures the fake of Supabase Realtime's REST broadcast API.
type RealtimeConfig struct {
	// APIKey is the only key accepted (apikey header or Authorization bearer; the bearer wins,
	// as in Realtime's auth_tenant plug). Required.
	APIKey string
	// MaxPayloadBytes is the tenant's payload limit (max_payload_size_in_kb); a larger payload
	// gets 422 "Payload size exceeds tenant limit". Default: 256 KiB (Free plan).
	MaxPayloadBytes int
	// MaxBodyBytes is the request body cap (Plug.Parsers); larger bodies get 413. Default: 8 MB.
	MaxBodyBytes int
	// MaxEventsPerSecond is the tenant's messages-per-second limit over a rolling one-second
	// window; 0 means unlimited. Default: 0.
	MaxEventsPerSecond int
}

// RealtimeMessage is one message the fake accepted.
type RealtimeMessage struct {
	Topic   string          `json:"topic"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
	Private bool            `json:"private"`
	ID      string          `json:"id,omitempty"`
}

// Realtime fakes POST /realtime/v1/api/broadcast (batch) as Supabase Realtime answers it:
// 202 with an empty body, 401 {"message":"Unauthorized"}, 413 for a body over the parser
// limit, 422 with changeset errors (e.g. "Payload size exceeds tenant limit"), and 429 with
// x-rate-rolling / x-rate-limit / x-rate-limit-remaining when the rolling rate is exceeded.
// Scripted Faults take precedence.
type Realtime struct {
	Base
	cfg RealtimeConfig

	mu       sync.Mutex
	accepted []RealtimeMessage
	window   []time.Time // accept times of messages in the last second
	changed  chan struct{}
}

// NewRealtime starts the fake on 127.0.0.1.
func NewRealtime(cfg RealtimeConfig) *Realtime {
	if cfg.MaxPayloadBytes == 0 {
		cfg.MaxPayloadBytes = 256 * 1024
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 8_000_000
	}
	f := &Realtime{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /realtime/v1/api/broadcast", f.batch)
	f.start(mux)
	return f
}

func (f *Realtime) batch(w http.ResponseWriter, r *http.Request) {
	if ft, ok := f.Next(); ok {
		WriteFault(w, r, ft, "application/json", `{"message":"`+http.StatusText(ft.Status)+`"}`)
		return
	}
	token := r.Header.Get("apikey")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = b
	}
	if f.cfg.APIKey == "" || token != f.cfg.APIKey {
		realtimeWriteJSON(w, http.StatusUnauthorized, `{"message":"Unauthorized"}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(f.cfg.MaxBodyBytes)+1))
	if err != nil {
		realtimeWriteJSON(w, http.StatusBadRequest, `{"message":"bad request"}`)
		return
	}
	if len(body) > f.cfg.MaxBodyBytes {
		realtimeWriteJSON(w, http.StatusRequestEntityTooLarge, `{"message":"Request Entity Too Large"}`)
		return
	}
	var req struct {
		Messages []RealtimeMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		realtimeWriteJSON(w, http.StatusBadRequest, `{"message":"Malformed JSON"}`)
		return
	}
	if len(req.Messages) == 0 {
		realtimeWriteJSON(w, http.StatusUnprocessableEntity, `{"errors":{"messages":["can't be blank"]}}`)
		return
	}
	for i, m := range req.Messages {
		switch {
		case m.Topic == "" || m.Event == "":
			realtimeWriteJSON(w, http.StatusUnprocessableEntity, fmt.Sprintf(`{"errors":{"messages":[{"index":%d,"topic":["can't be blank"]}]}}`, i))
			return
		case len(m.Payload) == 0 || m.Payload[0] != '{':
			realtimeWriteJSON(w, http.StatusUnprocessableEntity, fmt.Sprintf(`{"errors":{"messages":[{"index":%d,"payload":["is invalid"]}]}}`, i))
			return
		case len(m.Payload) > f.cfg.MaxPayloadBytes:
			realtimeWriteJSON(w, http.StatusUnprocessableEntity, fmt.Sprintf(`{"errors":{"messages":[{"index":%d,"payload":["Payload size exceeds tenant limit"]}]}}`, i))
			return
		}
	}
	now := time.Now()
	f.mu.Lock()
	cut := 0
	for cut < len(f.window) && now.Sub(f.window[cut]) >= time.Second {
		cut++
	}
	f.window = f.window[cut:]
	rolling := len(f.window)
	if limit := f.cfg.MaxEventsPerSecond; limit > 0 && rolling+len(req.Messages) > limit {
		f.mu.Unlock()
		w.Header().Set("x-rate-rolling", strconv.Itoa(rolling))
		w.Header().Set("x-rate-limit", strconv.Itoa(limit))
		w.Header().Set("x-rate-limit-remaining", strconv.Itoa(max(0, limit-rolling)))
		msg := "Too many requests"
		if rolling < limit {
			msg = "Too many messages to broadcast, please reduce the batch size"
		}
		realtimeWriteJSON(w, http.StatusTooManyRequests, `{"message":"`+msg+`"}`)
		return
	}
	for range req.Messages {
		f.window = append(f.window, now)
	}
	f.accepted = append(f.accepted, req.Messages...)
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
	f.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func realtimeWriteJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// Messages returns every message accepted so far, in order.
func (f *Realtime) Messages() []RealtimeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]RealtimeMessage(nil), f.accepted...)
}

// WaitMessages blocks until at least n messages were accepted or ctx ends.
func (f *Realtime) WaitMessages(ctx context.Context, n int) ([]RealtimeMessage, error) {
	for {
		f.mu.Lock()
		if len(f.accepted) >= n {
			out := append([]RealtimeMessage(nil), f.accepted...)
			f.mu.Unlock()
			return out, nil
		}
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return f.Messages(), ctx.Err()
		}
	}
}
