package gateway

import (
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// Frames captured from the real @supabase/realtime-js 2.119.1 client (docs/realtime.md).
const (
	capturedKind3 = "0301010e03000136377265616c74696d653a726f6f6d316d73677b2268656c6c6f223a2277c3b6726c64227d"
	capturedKind4 = "040e030c017265616c74696d653a726f6f6d316d73677b226964223a22616263227d7b22766961223a2262696e6172792d6b696e6434227d"
)

func TestDecodeCapturedKind3(t *testing.T) {
	t.Parallel()
	b, err := hex.DecodeString(capturedKind3)
	require.NoError(t, err)
	in, err := decodeBinary(b)
	require.NoError(t, err)
	require.JSONEq(t, `"6"`, string(in.joinRef))
	require.JSONEq(t, `"7"`, string(in.ref))
	require.Equal(t, "realtime:room1", in.topic)
	require.Equal(t, "broadcast", in.event)
	require.Equal(t, "msg", in.user.event)
	require.True(t, in.user.json)
	require.Equal(t, `{"hello":"wörld"}`, string(in.user.payload))
	require.Nil(t, in.user.meta)
}

func TestEncodeKind4MatchesCapture(t *testing.T) {
	t.Parallel()
	b, ok := encodeKind4("realtime:room1", &userBroadcast{event: "msg", payload: []byte(`{"via":"binary-kind4"}`), json: true, meta: json.RawMessage(`{"id":"abc"}`)})
	require.True(t, ok)
	require.Equal(t, capturedKind4, hex.EncodeToString(b))
	_, ok = encodeKind4("realtime:"+string(make([]byte, 300)), &userBroadcast{event: "e", json: true})
	require.False(t, ok, "fields are limited to 255 bytes")
}

func TestTextCodec(t *testing.T) {
	t.Parallel()
	// Captured 2.0.0 join and 1.0.0 broadcast.
	in, err := decodeText(true, []byte(`["6","6","realtime:room1","phx_join",{"config":{"broadcast":{"self":true,"ack":true},"presence":{"key":"user-1","enabled":true},"postgres_changes":[{"event":"INSERT","schema":"public","table":"t"}],"private":true},"access_token":"USER.ACCESS.TOKEN"}]`))
	require.NoError(t, err)
	require.Equal(t, "phx_join", in.event)
	require.JSONEq(t, `"6"`, string(in.joinRef))
	in, err = decodeText(false, []byte(`{"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"msg","payload":{"hello":"wörld"}},"ref":"7","join_ref":"6"}`))
	require.NoError(t, err)
	require.Equal(t, "broadcast", in.event)
	require.JSONEq(t, `"7"`, string(in.ref))
	// A heartbeat has null join_ref.
	in, err = decodeText(true, []byte(`[null,"10","phoenix","heartbeat",{}]`))
	require.NoError(t, err)
	require.Equal(t, "null", string(in.joinRef))

	require.Equal(t, `["6","8","realtime:room1","phx_reply",{"status":"ok","response":{}}]`,
		string(encodeText(true, json.RawMessage(`"6"`), json.RawMessage(`"8"`), "realtime:room1", "phx_reply", json.RawMessage(`{"status":"ok","response":{}}`))))
	v1 := encodeText(false, json.RawMessage(`"6"`), json.RawMessage(`"8"`), "realtime:room1", "phx_reply", json.RawMessage(`{}`))
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(v1, &m))
	require.NotContains(t, m, "join_ref", "1.0.0 server frames carry no join_ref")
	require.JSONEq(t, `"8"`, string(m["ref"]))

	for _, bad := range []string{`[1,2]`, `{"event":"x"}`, `[null,null,1,"e",{}]`, `nope`} {
		_, err := decodeText(bad[0] == '[', []byte(bad))
		require.ErrorIs(t, err, ErrBadFrame, bad)
	}
	for _, bad := range [][]byte{{4, 0, 0, 0, 0, 0, 1}, {3, 5, 0, 0, 0, 0, 1}, {3, 0, 0, 0, 0, 0, 7}, {3, 0, 0, 0, 0, 0, 1, '{'}} {
		_, err := decodeBinary(bad)
		require.ErrorIs(t, err, ErrBadFrame)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := hex.DecodeString(capturedKind3)
	f.Add(b, false)
	f.Add([]byte(`["6","6","realtime:room1","phx_join",{}]`), true)
	f.Add([]byte(`{"topic":"t","event":"e","payload":{},"ref":null}`), false)
	f.Fuzz(func(t *testing.T, data []byte, v2 bool) {
		if in, err := decodeBinary(data); err == nil {
			// What decodes must round-trip through the server encoder without panicking.
			encodeKind4(in.topic, in.user)
			broadcastPayload(in.user)
		}
		if in, err := decodeText(v2, data); err == nil {
			encodeText(v2, in.joinRef, in.ref, in.topic, in.event, in.payload)
		}
	})
}
