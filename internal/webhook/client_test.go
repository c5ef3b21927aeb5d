package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/webhook"
)

// Behind a trusted proxy the per-address limit keys on the forwarded client: one client's
// flood does not block another client behind the same proxy. An untrusted peer's
// X-Forwarded-For is ignored: every request counts against the peer.
func TestPerAddressLimitBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{IPRate: 1, IPBurst: 2})
	behind := func(proxies string) string {
		p, err := edge.ParseProxies(proxies)
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle(webhook.Pattern, b.h)
		srv := httptest.NewServer(p.Handler(mux))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		return u.Host
	}
	s := b.sender(webhook.SourceStandard)
	n := 0
	send := func(host, xff string) int {
		n++
		req := s.request(t, n, s.validBody(n), b.now)
		s.corrupt(req) // a bad signature still spends the address's budget
		req.URL.Host, req.Host = host, host
		req.Header.Set("X-Forwarded-For", xff)
		resp, _ := do(t, req)
		return resp.StatusCode
	}

	trusted := behind("127.0.0.0/8, ::1") // the test client's peer address is the proxy
	const flooder, other = "198.51.100.7", "203.0.113.44"
	require.Equal(t, http.StatusUnauthorized, send(trusted, "10.9.9.9, "+flooder))
	require.Equal(t, http.StatusUnauthorized, send(trusted, flooder))
	require.Equal(t, http.StatusTooManyRequests, send(trusted, flooder), "the flooder is limited")
	require.Equal(t, http.StatusTooManyRequests, send(trusted, "1.2.3.4, "+flooder), "a spoofed left entry does not help")
	require.Equal(t, http.StatusUnauthorized, send(trusted, other), "another client behind the proxy is not")

	// The audit log names the forwarded client, not the proxy.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.audit.Flush(ctx))
	require.Equal(t, 2, b.count(t, `select count(*) from vendorhub.audit_log where action = $1 and reason like '%rate limit: source address%'
		and source_ip = $2::inet`, audit.ActionWebhookRejected, flooder))
	require.Zero(t, b.count(t, `select count(*) from vendorhub.audit_log where source_ip = '127.0.0.1'`))

	// Trusting only 10.0.0.0/8, the loopback peer is no proxy: its forwarded addresses are
	// ignored and every request counts against 127.0.0.1.
	untrusted := behind("10.0.0.0/8")
	require.Equal(t, http.StatusUnauthorized, send(untrusted, "192.0.2.1"))
	require.Equal(t, http.StatusUnauthorized, send(untrusted, "192.0.2.2"))
	require.Equal(t, http.StatusTooManyRequests, send(untrusted, "192.0.2.3"), "a fresh X-Forwarded-For does not buy a fresh budget")
}
