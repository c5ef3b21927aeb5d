package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits of what DecodeJSON accepts, below what Postgres jsonb refuses.
const (
	maxDepth       = 64   // nesting of objects and arrays
	maxNumberChars = 300  // characters of one JSON number (jsonb numeric overflows far later)
	maxEventIDLen  = 256  // provider event ids
	maxFormParams  = 1000 // parameters of a form body
)

// MalformedError reports a body or header that cannot be stored, after a valid signature.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "webhook: malformed: " + e.Reason }

func malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// DecodeJSON checks that body is one JSON object or array that Postgres jsonb accepts (valid
// UTF-8, no NUL character, bounded nesting and numbers) and returns it re-encoded compactly.
func DecodeJSON(body []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, malformed("empty body")
	}
	if !utf8.Valid(body) {
		return nil, malformed("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed("invalid JSON: %s", jsonErrorReason(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("invalid JSON: data after the top-level value")
	}
	switch v.(type) {
	case map[string]any, []any:
	default:
		return nil, malformed("JSON body must be an object or an array")
	}
	if err := checkValue(v, 1); err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, malformed("invalid JSON: %s", jsonErrorReason(err))
	}
	return out, nil
}

// jsonErrorReason keeps the decoder's message short and free of body content.
func jsonErrorReason(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return "cannot decode"
}

func checkValue(v any, depth int) error {
	if depth > maxDepth {
		return malformed("JSON nested deeper than %d", maxDepth)
	}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if strings.IndexByte(k, 0) >= 0 {
				return malformed("JSON contains a NUL character")
			}
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	case string:
		if strings.IndexByte(t, 0) >= 0 {
			return malformed("JSON contains a NUL character")
		}
	case json.Number:
		if len(t) > maxNumberChars {
			return malformed("JSON number too long")
		}
		if e := strings.IndexAny(string(t), "eE"); e >= 0 {
			exp := strings.TrimLeft(string(t)[e+1:], "+-0")
			if len(exp) > 3 { // |exponent| ≥ 1000: beyond what a real payload carries
				return malformed("JSON number out of range")
			}
		}
	}
	return nil
}

// DecodeForm turns an application/x-www-form-urlencoded body (Twilio's callbacks) into a JSON
// object: a parameter with one value maps to a string, a repeated one to an array.
func DecodeForm(body []byte) (json.RawMessage, url.Values, error) {
	if !utf8.Valid(body) {
		return nil, nil, malformed("form body is not valid UTF-8")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, nil, malformed("invalid form encoding")
	}
	if len(vals) > maxFormParams {
		return nil, nil, malformed("too many form parameters")
	}
	obj := make(map[string]any, len(vals))
	for k, vs := range vals {
		if strings.IndexByte(k, 0) >= 0 {
			return nil, nil, malformed("form contains a NUL character")
		}
		for _, s := range vs {
			if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
				return nil, nil, malformed("form value is not storable text")
			}
		}
		if len(vs) == 1 {
			obj[k] = vs[0]
		} else {
			obj[k] = vs
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, nil, malformed("form cannot be encoded")
	}
	return out, vals, nil
}

// validEventID reports whether s can be a provider event id: 1-256 visible ASCII characters.
func validEventID(s string) bool {
	if s == "" || len(s) > maxEventIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// bodyID is the event id of a sender that has none: the body's SHA-256.
func bodyID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}
