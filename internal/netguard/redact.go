package netguard

import (
	"errors"
	"net/url"
	"regexp"
)

// RedactURL returns raw without userinfo, query and fragment (they may hold secrets), or
// "<invalid URL>".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// Redact returns s with every URL in it passed through RedactURL: for error texts that are
// logged or stored (*url.Error quotes the request URL).
func Redact(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, RedactURL)
}

// RedactError is Redact(err.Error()), "" for nil.
func RedactError(err error) string {
	if err == nil {
		return ""
	}
	return Redact(err.Error())
}

// Cause returns the error of a failed request without the request's URL: the inner error of
// a *url.Error (a dial, TLS or timeout error, still matchable with errors.Is/As), else err.
// For URLs whose path is itself a secret (feeds), where Redact would keep too much.
func Cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
