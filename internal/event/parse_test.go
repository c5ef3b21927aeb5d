package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// parseStd is Parse without the fast path: encoding/json alone.
func parseStd(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, &MalformedError{Reason: err.Error()}
	}
	if e.Type == "" {
		return Envelope{}, &MalformedError{Reason: "missing type"}
	}
	return e, nil
}

// Envelopes as Postgres writes them: jsonb text (vendorhub.emit, keys by length) and
// json_build_object text (" : " separators).
var vendorhubEnvelopes = []string{
	`{"id": "5f0c3e2a-8f5e-4a57-9d0b-1c2d3e4f5a6b", "data": {"body_preview": "On arrive à 14h \"pile\" 🎉\n", "sender_id": "0b8e3c1a-4444-4c1a-9a0e-000000000004"}, "type": "message.created", "actor": "0b8e3c1a-4444-4c1a-9a0e-000000000004", "subject": {"id": "0b8e3c1a-8888-4c1a-9a0e-000000000008", "table": "messages", "participants": ["0b8e3c1a-4444-4c1a-9a0e-000000000004", "0b8e3c1a-5555-4c1a-9a0e-000000000005"], "conversation_id": "0b8e3c1a-2222-4c1a-9a0e-000000000002"}, "wedding_id": "0b8e3c1a-1111-4c1a-9a0e-000000000001", "occurred_at": "2026-06-20T14:30:00.123456+00:00"}`,
	`{"id" : "5f0c3e2a-8f5e-4a57-9d0b-1c2d3e4f5a6b", "type" : "task.updated", "occurred_at" : "2026-06-20T14:30:00.123456+02:00", "wedding_id" : "5f0c3e2a-8f5e-4a57-9d0b-1c2d3e4f5a6b", "subject" : {"table" : "tasks", "id" : "5f0c3e2a-8f5e-4a57-9d0b-1c2d3e4f5a6b"}, "data" : {"status" : "done", "title" : "Set up the arch", "critical": true, "n": [1, -2.5e3, 0.1, null, false, {}]}}`,
	`{"id":"5f0c3e2a-8f5e-4a57-9d0b-1c2d3e4f5a6b","type":"heartbeat","occurred_at":"2026-06-20T14:30:00Z","subject":{"table":"","id":""},"data":{"instance":"vendorhub-host-1-abcd"}}`,
	`{"id": "x", "type": "vendor.status_changed", "subject": {"id": "y", "table": "wedding_vendors", "user_id": "u", "vendor_id": "v", "participants": []}, "occurred_at": null, "wedding_id": null, "actor": null, "data": null}`,
	`{"type": "some.future_type", "extra": {"nested": [{"a": "\u00e9\\"}]}, "subject": null, "data": "text"}`,
	` {"type":"heartbeat","data":[]} ` + "\n",
}

// Inputs the fast path must leave to encoding/json.
var fallbackEnvelopes = []string{
	`{"id": "a\"b", "type": "heartbeat"}`,              // escape in an envelope string
	`{"ID": "a", "type": "heartbeat"}`,                 // field name differing in case
	`{"ſubject": {"table": "x"}, "type": "heartbeat"}`, // Unicode folding (ſ folds to s)
	`{"type": "heartbeat", "type": "message.read"}`,    // duplicate field
	`{"type": "heartbeat", "subject": {"id": "a"}, "subject": {"table": "b"}}`,
	`{"type": "heartbeat", "id": 5}`,                    // wrong JSON type
	`{"type": "heartbeat", "occurred_at": "yesterday"}`, // bad time
	`{"type": "heartbeat", "subject": {"participants": ["a", null]}}`,
	`{"type": "heartbeat", "id": "` + "\xff" + `"}`, // invalid UTF-8 in a string
	`{"type": "heartbeat"} x`,                       // trailing data
	`{"type": "heartbeat", "data": {"a": 01}}`,      // invalid number
	`{"type": "heartbeat", "data": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	`[]`, `null`, ``, `{`,
}

func TestParseFastPathAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range vendorhubEnvelopes {
		fast, ok := parseFast([]byte(in))
		require.True(t, ok, "fast path refused %s", in)
		var std Envelope
		require.NoError(t, json.Unmarshal([]byte(in), &std))
		requireSameEnvelope(t, std, fast, in)
	}
}

func TestParseFallsBackToEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range fallbackEnvelopes {
		_, ok := parseFast([]byte(in))
		require.False(t, ok, "fast path accepted %s", in)
		got, gotErr := Parse([]byte(in))
		want, wantErr := parseStd([]byte(in))
		require.Equal(t, wantErr, gotErr, in)
		requireSameEnvelope(t, want, got, in)
	}
}

func TestParseResultOwnsItsMemory(t *testing.T) {
	t.Parallel()
	in := []byte(vendorhubEnvelopes[0])
	e, err := Parse(in)
	require.NoError(t, err)
	want := e.ID + string(e.Data) + *e.WeddingID
	for i := range in {
		in[i] = 'x'
	}
	require.Equal(t, want, e.ID+string(e.Data)+*e.WeddingID)
}

func TestParseReportsMalformedEnvelopes(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"id": "a"}`, `{"type": ""}`, `{"type": 1}`, `not json`, `{"type": "heartbeat",}`} {
		_, err := Parse([]byte(in))
		var me *MalformedError
		require.True(t, errors.As(err, &me), "%s: %v", in, err)
		_, want := parseStd([]byte(in))
		require.Equal(t, want, err, in)
	}
}

func requireSameEnvelope(t *testing.T, want, got Envelope, in string) {
	t.Helper()
	require.True(t, want.OccurredAt.Equal(got.OccurredAt), "%s: occurred_at %v, want %v", in, got.OccurredAt, want.OccurredAt)
	_, wantOffset := want.OccurredAt.Zone()
	_, gotOffset := got.OccurredAt.Zone()
	require.Equal(t, wantOffset, gotOffset, in)
	want.OccurredAt, got.OccurredAt = want.OccurredAt.UTC(), got.OccurredAt.UTC()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s:\n got %#v\nwant %#v", in, got, want)
	}
}

func TestDataField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ data, name, want string }{
		{`{"critical": true, "title": "x"}`, "critical", `true`},
		{`{"a": {"b": [1, 2]} , "c": "d"}`, "a", `{"b": [1, 2]}`},
		{`{"a": 1, "a": 2}`, "a", `2`},
		{`{"a": 1}`, "b", ``},
		{`{"\u0061": 3}`, "a", `3`}, // escaped key: encoding/json decides
		{`[{"a": 1}]`, "a", ``},
		{`null`, "a", ``},
		{`{"a": 1`, "a", ``},
		{``, "a", ``},
	} {
		require.Equal(t, c.want, string(DataField([]byte(c.data), c.name)), "%s[%s]", c.data, c.name)
	}
}

// FuzzParse checks that Parse (fast path and fallback) and encoding/json agree on every
// input, errors included, and that the fast path accepts nothing encoding/json rejects.
func FuzzParse(f *testing.F) {
	for _, in := range append(append([]string(nil), vendorhubEnvelopes...), fallbackEnvelopes...) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := parseStd(in)
		if fast, ok := parseFast(in); ok {
			var std Envelope
			if err := json.Unmarshal(in, &std); err != nil {
				t.Fatalf("fast path accepted %q, encoding/json: %v", in, err)
			}
			requireSameEnvelope(t, std, fast, string(in))
		}
		got, gotErr := Parse(in)
		require.Equal(t, wantErr, gotErr)
		if wantErr == nil {
			requireSameEnvelope(t, want, got, string(in))
		}
	})
}

// FuzzDataField checks DataField against json.Unmarshal into a map.
func FuzzDataField(f *testing.F) {
	f.Add([]byte(`{"critical": true, "a": {"b": [1, "x\n"]}, "a": null}`), "a")
	f.Add([]byte(`{"\u0061": 3, "é": 1}`), "é")
	f.Add([]byte(`[1]`), "critical")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		var m map[string]json.RawMessage
		var want json.RawMessage
		if len(data) > 0 && json.Unmarshal(data, &m) == nil {
			want = m[name]
		}
		got := DataField(data, name)
		if string(got) != string(want) || (got == nil) != (want == nil) {
			t.Fatalf("DataField(%q, %q) = %q, want %q", data, name, got, want)
		}
	})
}

// BenchmarkParse decodes a message.created envelope as vendorhub.emit writes it.
func BenchmarkParse(b *testing.B) {
	in := []byte(vendorhubEnvelopes[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEncodingJSON is the baseline: the same envelope through encoding/json.
func BenchmarkParseEncodingJSON(b *testing.B) {
	in := []byte(vendorhubEnvelopes[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseStd(in); err != nil {
			b.Fatal(err)
		}
	}
}
