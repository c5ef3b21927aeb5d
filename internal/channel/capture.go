package channel

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// captured holds the HTTP status, headers and (error) body of a provider response, for
// SDKs whose errors drop them (resend-go keeps no status for 409/422; twilio-go keeps no
// Retry-After).
type captured struct {
	status int
	header http.Header
	body   []byte
}

type captureKey struct{}

// withCapture returns a context whose requests through a captureTransport fill c.
func withCapture(ctx context.Context) (context.Context, *captured) {
	c := &captured{}
	return context.WithValue(ctx, captureKey{}, c), c
}

// captureTransport records responses into the *captured found in the request's context,
// or into fixed. When ctx is set, it replaces the request's context, for SDKs that send
// with context.Background() (twilio-go), so cancellation still reaches the request.
type captureTransport struct {
	base  http.RoundTripper
	fixed *captured
	ctx   context.Context
	// rewrite, when set, replaces scheme and host (for providers without a base-URL option).
	rewriteScheme, rewriteHost string
}

const maxCapturedBody = 64 << 10

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.ctx != nil || t.rewriteHost != "" {
		if t.ctx != nil {
			req = req.WithContext(t.ctx)
		} else {
			req = req.Clone(req.Context())
		}
		if t.rewriteHost != "" {
			req.URL.Scheme, req.URL.Host, req.Host = t.rewriteScheme, t.rewriteHost, t.rewriteHost
		}
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	c := t.fixed
	if c == nil {
		c, _ = req.Context().Value(captureKey{}).(*captured)
	}
	if c != nil {
		c.status, c.header = resp.StatusCode, resp.Header.Clone()
		if resp.StatusCode >= 300 {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxCapturedBody))
			_ = resp.Body.Close()
			c.body = b
			resp.Body = io.NopCloser(bytes.NewReader(b))
		}
	}
	return resp, nil
}
