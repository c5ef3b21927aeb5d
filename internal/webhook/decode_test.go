package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/webhook"
)

var decodeCases = []struct {
	name string
	body string
	ok   bool
}{
	{"object", `{"a": 1, "b": [true, null, "x"]}`, true},
	{"array", `[1, 2, 3]`, true},
	{"unicode", `{"name": "Zoë 💍", "esc": "\u00e9\ud83d\udc8d"}`, true},
	{"lone surrogate becomes U+FFFD", `{"s": "\ud800"}`, true},
	{"big but fine number", `{"n": 1.5e300}`, true},
	{"scalar", `"just a string"`, false},
	{"number top level", `42`, false},
	{"empty", ``, false},
	{"whitespace", "  \n", false},
	{"truncated", `{"a": `, false},
	{"trailing data", `{"a": 1} {"b": 2}`, false},
	{"NUL escape", `{"a": "x\u0000y"}`, false},
	{"NUL in key", `{"a\u0000": 1}`, false},
	{"invalid UTF-8", "{\"a\": \"\xff\xfe\"}", false},
	{"huge exponent", `{"n": 1e999999}`, false},
	{"deep", strings.Repeat("[", 65) + strings.Repeat("]", 65), false},
	{"not so deep", strings.Repeat("[", 60) + strings.Repeat("]", 60), true},
	{"long number", `{"n": ` + strings.Repeat("9", 400) + `}`, false},
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, err := webhook.DecodeJSON([]byte(c.body))
			if !c.ok {
				var me *webhook.MalformedError
				require.True(t, errors.As(err, &me), "want MalformedError, got %v", err)
				require.NotContains(t, err.Error(), "Ada", "reasons never quote the body")
				return
			}
			require.NoError(t, err)
			require.True(t, json.Valid(out))
		})
	}
}

// Everything DecodeJSON accepts, Postgres jsonb stores.
func TestDecodeJSONAcceptedByJSONB(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	for _, c := range decodeCases {
		out, err := webhook.DecodeJSON([]byte(c.body))
		if err != nil {
			continue
		}
		var back string
		require.NoError(t, db.Pool.QueryRow(context.Background(), `select $1::jsonb::text`, string(out)).Scan(&back), c.name)
	}
}

func TestDecodeForm(t *testing.T) {
	t.Parallel()
	out, vals, err := webhook.DecodeForm([]byte("MessageSid=SM1&MessageStatus=sent&Tag=a&Tag=b"))
	require.NoError(t, err)
	require.Equal(t, "SM1", vals.Get("MessageSid"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	require.Equal(t, "sent", m["MessageStatus"])
	require.Equal(t, []any{"a", "b"}, m["Tag"])
	for _, bad := range []string{"a=%zz", "a=%00", "a=\xff"} {
		_, _, err := webhook.DecodeForm([]byte(bad))
		require.ErrorAs(t, err, new(*webhook.MalformedError), bad)
	}
}

// FuzzDecodeJSON: the inbox decoder never panics; what it accepts is compact valid JSON that
// decodes again to the same value, without NUL characters.
func FuzzDecodeJSON(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := webhook.DecodeJSON(body)
		if err != nil {
			require.ErrorAs(t, err, new(*webhook.MalformedError))
			return
		}
		require.True(t, json.Valid(out))
		require.False(t, bytes.Contains(out, []byte(`\u0000`)))
		again, err := webhook.DecodeJSON(out)
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
	})
}

// FuzzDecodeForm: Twilio form bodies never panic the decoder and accepted ones are valid JSON.
func FuzzDecodeForm(f *testing.F) {
	f.Add([]byte("MessageSid=SM1&MessageStatus=sent"))
	f.Add([]byte("a=%zz&&=&b"))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, err := webhook.DecodeForm(body)
		if err != nil {
			require.ErrorAs(t, err, new(*webhook.MalformedError))
			return
		}
		require.True(t, json.Valid(out))
		require.False(t, bytes.Contains(out, []byte(`\u0000`)))
	})
}
