package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/wedsync/vendorhub/internal/auth"
)

// restAuth authenticates a REST call: the bearer token wins over the apikey header.
func (g *Gateway) restAuth(r *http.Request) (auth.Claims, bool) {
	tok := r.Header.Get("apikey")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && b != "" {
		tok = b
	}
	tok, err := g.cfg.Verifier.ResolveAPIKey(tok)
	if err != nil {
		return auth.Claims{}, false
	}
	c, err := g.cfg.Verifier.Verify(tok)
	return c, err == nil
}

func restJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(g.cfg.MaxBodyBytes)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			restJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Entity Too Large"})
		} else {
			restJSON(w, http.StatusBadRequest, map[string]string{"message": "could not read body"})
		}
		return nil, false
	}
	return body, true
}

// writeAllowed reports whether claims may broadcast to a private topic.
func (g *Gateway) writeAllowed(r *http.Request, claims auth.Claims, topic string) (bool, error) {
	if claims.Role == auth.RoleServiceRole {
		return true, nil // BYPASSRLS
	}
	if g.cfg.Authorizer == nil {
		return false, nil
	}
	return g.cfg.Authorizer.CanWrite(r.Context(), Probe{Topic: topic, Claims: claims, Headers: xHeaders(r)}, extensionBroadcast)
}

// serveBatch is POST /realtime/v1/api/broadcast: {"messages":[{topic,event,payload,private,id}]} → 202.
// Private topics the token may not write to are skipped silently, as Realtime does.
func (g *Gateway) serveBatch(w http.ResponseWriter, r *http.Request) {
	claims, ok := g.restAuth(r)
	if !ok {
		restJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Messages []struct {
			Topic   string          `json:"topic"`
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Private flexBool        `json:"private"`
			ID      string          `json:"id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		restJSON(w, http.StatusBadRequest, map[string]string{"message": "Malformed JSON: " + err.Error()})
		return
	}
	if len(req.Messages) == 0 {
		restJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]any{"messages": []string{"can't be blank"}}})
		return
	}
	for i, m := range req.Messages {
		var why string
		switch {
		case m.Topic == "":
			why = "topic can't be blank"
		case m.Event == "":
			why = "event can't be blank"
		case len(m.Payload) == 0 || m.Payload[0] != '{':
			why = "payload must be a JSON object"
		case len(m.Payload) > g.cfg.MaxPayloadBytes:
			why = "Payload size exceeds tenant limit"
		}
		if why != "" {
			restJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]any{"messages": []map[string]any{{"index": i, "error": why}}}})
			return
		}
	}
	allowed := map[string]bool{}
	for _, m := range req.Messages {
		topic := strings.TrimPrefix(m.Topic, topicPrefix)
		if m.Private {
			ok, seen := allowed[topic]
			if !seen {
				var err error
				ok, err = g.writeAllowed(r, claims, topic)
				if err != nil {
					g.cfg.Logger.Error("gateway: REST write probe failed", "topic", topic, "err", err)
				}
				allowed[topic] = ok
			}
			if !ok {
				continue
			}
		}
		metricBroadcasts.WithLabelValues("rest").Inc()
		g.deliver(topic, bool(m.Private), &userBroadcast{event: m.Event, payload: m.Payload, json: true, meta: metaID(m.ID)}, false, nil, false)
	}
	w.WriteHeader(http.StatusAccepted)
}

// serveSingle is POST /realtime/v1/api/broadcast/{topic}/events/{event}[?private=true]: the
// body is the raw payload (application/json or application/octet-stream) → 202, delivered as
// binary kind 4.
func (g *Gateway) serveSingle(w http.ResponseWriter, r *http.Request) {
	claims, ok := g.restAuth(r)
	if !ok {
		restJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	topic := strings.TrimPrefix(r.PathValue("topic"), topicPrefix)
	event := r.PathValue("event")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := ct == "application/json"
	if !isJSON && ct != "application/octet-stream" {
		restJSON(w, http.StatusUnsupportedMediaType, map[string]string{"message": "Content-Type must be application/json or application/octet-stream"})
		return
	}
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	if isJSON && !json.Valid(body) {
		restJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "payload is not valid JSON"})
		return
	}
	if len(body) > g.cfg.MaxPayloadBytes {
		restJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": fmt.Sprintf("Payload size exceeds tenant limit (%d bytes)", g.cfg.MaxPayloadBytes)})
		return
	}
	private := r.URL.Query().Get("private") == "true"
	if private {
		ok, err := g.writeAllowed(r, claims, topic)
		if err != nil {
			g.cfg.Logger.Error("gateway: REST write probe failed", "topic", topic, "err", err)
		}
		if !ok {
			restJSON(w, http.StatusForbidden, map[string]string{"message": "Unauthorized"})
			return
		}
	}
	u := &userBroadcast{event: event, payload: body, json: isJSON}
	// persist / persist[ttl] are ignored here, as Supabase Realtime's REST endpoint does: a
	// stored message goes through the socket, where each one is rate-limited.
	metricBroadcasts.WithLabelValues("rest").Inc()
	g.deliver(topic, private, u, true, nil, false)
	w.WriteHeader(http.StatusAccepted)
}
