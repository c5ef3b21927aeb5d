package signature_test

import (
	"encoding/base64"
	"strings"
)

func encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func containsAny(s, chars string) bool { return strings.ContainsAny(s, chars) }
