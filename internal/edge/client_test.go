package edge_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/edge"
)

func TestParseProxies(t *testing.T) {
	t.Parallel()
	p, err := edge.ParseProxies("")
	require.NoError(t, err)
	require.Nil(t, p, "empty trusts nobody")
	p, err = edge.ParseProxies(" 10.0.0.0/8, 192.168.1.7 fd00::/8,::ffff:172.16.0.0/108")
	require.NoError(t, err)
	require.Equal(t, "10.0.0.0/8,192.168.1.7/32,fd00::/8,172.16.0.0/12", p.String())
	require.True(t, p.Trusts(netip.MustParseAddr("10.1.2.3")))
	require.True(t, p.Trusts(netip.MustParseAddr("::ffff:10.1.2.3")), "IPv4-mapped addresses match IPv4 prefixes")
	require.True(t, p.Trusts(netip.MustParseAddr("172.31.0.1")))
	require.False(t, p.Trusts(netip.MustParseAddr("192.168.1.8")))
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0.0/8,,nope"} {
		_, err := edge.ParseProxies(bad)
		require.Error(t, err, bad)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	proxies, err := edge.ParseProxies("10.0.0.0/8")
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		proxies *edge.Proxies
		peer    string
		xff     []string
		proto   string
		tls     bool
		want    string
		https   bool
	}{
		{name: "no proxies: the peer", peer: "203.0.113.9:4000", xff: []string{"198.51.100.1"}, want: "203.0.113.9"},
		{name: "no proxies: XFF ignored even from a private peer", peer: "10.0.0.5:1", xff: []string{"198.51.100.1"}, proto: "https", want: "10.0.0.5"},
		{name: "untrusted peer's XFF ignored", proxies: proxies, peer: "203.0.113.9:4000", xff: []string{"198.51.100.1"}, proto: "https", want: "203.0.113.9"},
		{name: "trusted peer, one hop", proxies: proxies, peer: "10.0.0.5:1", xff: []string{"198.51.100.1"}, proto: "https", want: "198.51.100.1", https: true},
		{name: "spoofed left entries are skipped", proxies: proxies, peer: "10.0.0.5:1", xff: []string{"1.2.3.4, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted hops are walked over", proxies: proxies, peer: "10.0.0.5:1", xff: []string{"1.2.3.4, 198.51.100.1, 10.9.9.9"}, want: "198.51.100.1"},
		{name: "several header lines", proxies: proxies, peer: "10.0.0.5:1", xff: []string{"1.2.3.4", "198.51.100.1"}, want: "198.51.100.1"},
		{name: "all trusted: the leftmost", proxies: proxies, peer: "10.0.0.5:1", xff: []string{"10.1.1.1, 10.2.2.2"}, want: "10.1.1.1"},
		{name: "no XFF: the trusted peer", proxies: proxies, peer: "10.0.0.5:1", want: "10.0.0.5"},
		{name: "garbage stops the walk", proxies: proxies, peer: "10.0.0.5:1", xff: []string{"198.51.100.1, unknown, 10.2.2.2"}, want: "10.2.2.2"},
		{name: "entry with a port", proxies: proxies, peer: "10.0.0.5:1", xff: []string{"[2001:db8::1]:443"}, want: "2001:db8::1"},
		{name: "IPv4-mapped peer", proxies: proxies, peer: "[::ffff:10.0.0.5]:1", xff: []string{"::ffff:198.51.100.1"}, want: "198.51.100.1"},
		{name: "TLS here", peer: "203.0.113.9:4000", tls: true, want: "203.0.113.9", https: true},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		for _, x := range tc.xff {
			r.Header.Add("X-Forwarded-For", x)
		}
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		c := tc.proxies.Resolve(r)
		require.Equal(t, tc.want, c.Addr.String(), tc.name)
		require.Equal(t, tc.https, c.HTTPS, tc.name)

		// The edge middleware resolves once; ClientAddr and IsHTTPS read it.
		var got netip.Addr
		var https bool
		tc.proxies.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, https = edge.ClientAddr(r), edge.IsHTTPS(r)
		})).ServeHTTP(httptest.NewRecorder(), r)
		require.Equal(t, tc.want, got.String(), tc.name)
		require.Equal(t, tc.https, https, tc.name)
	}
	// A request that never passed the edge: the peer, whatever it forwards.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.5:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	require.Equal(t, "10.0.0.5", edge.ClientAddr(r).String())
}
