package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Binary frame kinds of protocol 2.0.0 (Realtime's V2Serializer).
const (
	kindUserBroadcastPush = 3 // client → server user broadcast
	kindUserBroadcast     = 4 // server → client user broadcast
)

// Payload encodings inside binary frames.
const (
	encodingBinary = 0
	encodingJSON   = 1
)

var jsonNull = json.RawMessage("null")

// ErrBadFrame reports a frame the codec cannot decode.
var ErrBadFrame = errors.New("gateway: bad frame")

// inbound is one decoded client message.
type inbound struct {
	joinRef, ref json.RawMessage // raw JSON: null or a string, echoed as received
	topic, event string
	payload      json.RawMessage
	user         *userBroadcast // set for binary kind-3 pushes
}

// userBroadcast is a broadcast's user part: event, payload (JSON or raw bytes) and metadata.
type userBroadcast struct {
	event   string
	payload []byte
	json    bool
	meta    json.RawMessage
}

// decodeText decodes a text frame: a JSON object under 1.0.0, a JSON array
// [join_ref, ref, topic, event, payload] under 2.0.0.
func decodeText(v2 bool, data []byte) (inbound, error) {
	var in inbound
	if v2 {
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil || len(arr) < 5 {
			return in, fmt.Errorf("%w: want [join_ref, ref, topic, event, payload]", ErrBadFrame)
		}
		in.joinRef, in.ref, in.payload = arr[0], arr[1], arr[4]
		if json.Unmarshal(arr[2], &in.topic) != nil || json.Unmarshal(arr[3], &in.event) != nil {
			return in, fmt.Errorf("%w: topic and event must be strings", ErrBadFrame)
		}
	} else {
		var obj struct {
			Topic   *string         `json:"topic"`
			Event   *string         `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Ref     json.RawMessage `json:"ref"`
			JoinRef json.RawMessage `json:"join_ref"`
		}
		if err := json.Unmarshal(data, &obj); err != nil || obj.Topic == nil || obj.Event == nil {
			return in, fmt.Errorf("%w: want {topic, event, payload, ref}", ErrBadFrame)
		}
		in.topic, in.event, in.payload, in.ref, in.joinRef = *obj.Topic, *obj.Event, obj.Payload, obj.Ref, obj.JoinRef
	}
	in.joinRef = orNull(in.joinRef)
	in.ref = orNull(in.ref)
	if len(in.payload) == 0 {
		in.payload = json.RawMessage("{}")
	}
	return in, nil
}

// decodeBinary decodes a 2.0.0 binary frame; only kind 3 (user broadcast push) is accepted
// from clients.
func decodeBinary(data []byte) (inbound, error) {
	var in inbound
	if len(data) < 7 || data[0] != kindUserBroadcastPush {
		return in, fmt.Errorf("%w: only binary kind 3 is accepted", ErrBadFrame)
	}
	lens := data[1:6]
	enc := data[6]
	if enc != encodingBinary && enc != encodingJSON {
		return in, fmt.Errorf("%w: payload encoding %d", ErrBadFrame, enc)
	}
	off := 7
	field := func(n byte) (string, bool) {
		if off+int(n) > len(data) {
			return "", false
		}
		s := string(data[off : off+int(n)])
		off += int(n)
		return s, true
	}
	joinRef, ok1 := field(lens[0])
	ref, ok2 := field(lens[1])
	topic, ok3 := field(lens[2])
	event, ok4 := field(lens[3])
	meta, ok5 := field(lens[4])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return in, fmt.Errorf("%w: truncated kind 3 header", ErrBadFrame)
	}
	payload := data[off:]
	if enc == encodingJSON && !json.Valid(payload) {
		return in, fmt.Errorf("%w: kind 3 JSON payload is not valid JSON", ErrBadFrame)
	}
	if meta != "" && !json.Valid([]byte(meta)) {
		return in, fmt.Errorf("%w: kind 3 metadata is not JSON", ErrBadFrame)
	}
	in.joinRef, in.ref = refJSON(joinRef), refJSON(ref)
	in.topic, in.event = topic, "broadcast"
	in.user = &userBroadcast{event: event, payload: append([]byte(nil), payload...), json: enc == encodingJSON}
	if meta != "" {
		in.user.meta = json.RawMessage(meta)
	}
	in.payload = json.RawMessage("{}")
	return in, nil
}

func refJSON(s string) json.RawMessage {
	if s == "" {
		return jsonNull
	}
	return json.RawMessage(strconv.Quote(s))
}

func orNull(r json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(r)) == 0 {
		return jsonNull
	}
	return r
}

// encodeText encodes a server message. 1.0.0 frames carry no join_ref.
func encodeText(v2 bool, joinRef, ref json.RawMessage, topic, event string, payload json.RawMessage) []byte {
	t, _ := json.Marshal(topic)
	e, _ := json.Marshal(event)
	var b bytes.Buffer
	b.Grow(len(payload) + len(t) + len(e) + 48)
	if v2 {
		b.WriteByte('[')
		b.Write(orNull(joinRef))
		b.WriteByte(',')
		b.Write(orNull(ref))
		b.WriteByte(',')
		b.Write(t)
		b.WriteByte(',')
		b.Write(e)
		b.WriteByte(',')
		b.Write(payload)
		b.WriteByte(']')
	} else {
		b.WriteString(`{"topic":`)
		b.Write(t)
		b.WriteString(`,"event":`)
		b.Write(e)
		b.WriteString(`,"payload":`)
		b.Write(payload)
		b.WriteString(`,"ref":`)
		b.Write(orNull(ref))
		b.WriteByte('}')
	}
	return b.Bytes()
}

// broadcastPayload is the text form {"type":"broadcast","event":E,"payload":P[,"meta":M]}.
func broadcastPayload(u *userBroadcast) json.RawMessage {
	e, _ := json.Marshal(u.event)
	var b bytes.Buffer
	b.Grow(len(u.payload) + len(e) + len(u.meta) + 48)
	b.WriteString(`{"type":"broadcast","event":`)
	b.Write(e)
	b.WriteString(`,"payload":`)
	b.Write(u.payload)
	if len(u.meta) > 0 {
		b.WriteString(`,"meta":`)
		b.Write(u.meta)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// encodeKind4 encodes a server user broadcast as binary kind 4. It reports false when a
// string field exceeds the 255-byte limit of the format.
func encodeKind4(topic string, u *userBroadcast) ([]byte, bool) {
	if len(topic) > 255 || len(u.event) > 255 || len(u.meta) > 255 {
		return nil, false
	}
	enc := byte(encodingBinary)
	if u.json {
		enc = encodingJSON
	}
	b := make([]byte, 0, 5+len(topic)+len(u.event)+len(u.meta)+len(u.payload))
	b = append(b, kindUserBroadcast, byte(len(topic)), byte(len(u.event)), byte(len(u.meta)), enc)
	b = append(b, topic...)
	b = append(b, u.event...)
	b = append(b, u.meta...)
	b = append(b, u.payload...)
	return b, true
}

// flexBool accepts true/false and the strings "true"/"false", like Realtime's FlexibleBoolean.
type flexBool bool

func (f *flexBool) UnmarshalJSON(d []byte) error {
	switch string(bytes.TrimSpace(d)) {
	case "true", `"true"`:
		*f = true
	case "false", `"false"`, "null", `""`:
		*f = false
	default:
		return fmt.Errorf("not a boolean: %s", d)
	}
	return nil
}
