package provider

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfterMax caps every Retry-After: a provider asking for longer is asked again then.
const RetryAfterMax = time.Hour

// ParseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): delta-seconds, or an
// HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms) taken relative to now.
// Fractional seconds ("1.5"), which some providers send, round up to whole seconds. Empty,
// negative, garbage and past dates give 0 (no wait asked); the result is capped at
// RetryAfterMax.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(s) || s <= 0 {
			return 0
		}
		if s >= RetryAfterMax.Seconds() {
			return RetryAfterMax
		}
		d = time.Duration(math.Ceil(s)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, RetryAfterMax)
}

// RetryAfterHeader reads h's Retry-After with ParseRetryAfter.
func RetryAfterHeader(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	return ParseRetryAfter(h.Get("Retry-After"), now)
}
