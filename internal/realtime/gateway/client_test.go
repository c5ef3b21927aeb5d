package gateway_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
)

// forwardedBy sends every request with X-Forwarded-For: client, as a proxy would.
type forwardedBy string

func (f forwardedBy) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}

// Behind a trusted proxy the sockets-per-address cap counts each forwarded client: one
// client at its cap leaves room for another behind the same proxy. An untrusted peer's
// X-Forwarded-For is ignored.
func TestMaxConnsPerForwardedClient(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *gateway.Config) { c.MaxConnsPerIP = 1 })
	behind := func(proxies string) string {
		p, err := edge.ParseProxies(proxies)
		require.NoError(t, err)
		srv := httptest.NewServer(p.Handler(b.gw.Handler()))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ctx := tctx(t)
	dial := func(base, client string) (*rtclient.Client, int) {
		c, err := rtclient.Dial(ctx, rtclient.Options{URL: base, APIKey: auth.DevAnonKey,
			HTTPClient: &http.Client{Transport: forwardedBy(client)}})
		var de *rtclient.DialError
		if errors.As(err, &de) {
			return nil, de.Status
		}
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.CloseNow() })
		return c, http.StatusSwitchingProtocols
	}

	trusted := behind("127.0.0.0/8, ::1")
	a, code := dial(trusted, "198.51.100.7")
	require.Equal(t, http.StatusSwitchingProtocols, code)
	require.NoError(t, a.Heartbeat(ctx))
	_, code = dial(trusted, "198.51.100.7")
	require.Equal(t, http.StatusTooManyRequests, code, "the first client is at its cap")
	other, code := dial(trusted, "203.0.113.44")
	require.Equal(t, http.StatusSwitchingProtocols, code, "another client behind the same proxy is not")
	require.NoError(t, other.Heartbeat(ctx))

	// An untrusted peer: keyed on 127.0.0.1 whatever it forwards.
	untrusted := behind("10.0.0.0/8")
	u, code := dial(untrusted, "192.0.2.1")
	require.Equal(t, http.StatusSwitchingProtocols, code)
	require.NoError(t, u.Heartbeat(ctx))
	_, code = dial(untrusted, "192.0.2.2")
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Equal(t, 3, b.gw.Conns())
}
