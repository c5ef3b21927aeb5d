package netguard_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/netguard"
)

// One address per refused range, dialled as a literal IP: the dial-time check refuses each
// before any packet leaves.
func TestRefusesEveryRange(t *testing.T) {
	t.Parallel()
	cases := []struct{ addr, rng string }{
		{"0.1.2.3", "this network"},
		{"10.1.2.3", "private (RFC 1918)"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"127.0.0.1", "loopback"},
		{"169.254.169.254", "link-local"},
		{"172.16.5.4", "private (RFC 1918)"},
		{"192.0.0.8", "IETF protocol assignments"},
		{"192.168.1.1", "private (RFC 1918)"},
		{"198.18.0.1", "benchmarking"},
		{"224.0.0.1", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "broadcast"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"64:ff9b::a00:1", "NAT64"},
		{"2002:a00:1::1", "6to4"},
		{"fd12:3456::1", "unique local"},
		{"fe80::1", "link-local"},
		{"ff02::1", "multicast"},
		{"::ffff:10.0.0.1", "private (RFC 1918)"}, // IPv4-mapped: the embedded v4 is checked
		{"::ffff:169.254.169.254", "link-local"},  // metadata behind a mapped address
	}
	client := netguard.New(netguard.Options{Timeout: 5 * time.Second})
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			a := netip.MustParseAddr(c.addr)
			rng, bad := netguard.Blocked(a)
			require.True(t, bad)
			require.Equal(t, c.rng, rng)

			u := "http://" + netip.AddrPortFrom(a, 80).String() + "/"
			resp, err := client.Get(u)
			if resp != nil {
				resp.Body.Close()
			}
			var blocked *netguard.BlockedError
			require.ErrorAs(t, err, &blocked, "dial %s", u)
			require.ErrorIs(t, err, netguard.ErrBlocked)
			_, bad = netguard.Blocked(blocked.Addr)
			require.True(t, bad)
		})
	}
	for _, ok := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1", "172.32.0.1", "192.0.2.1"} {
		_, bad := netguard.Blocked(netip.MustParseAddr(ok))
		require.False(t, bad, "%s is public", ok)
	}
}

func counting(hits *atomic.Int32, h http.HandlerFunc) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
}

func addrPort(t *testing.T, srv *httptest.Server) netip.AddrPort {
	t.Helper()
	return netip.MustParseAddrPort(srv.Listener.Addr().String())
}

// A name that resolves to a private address is refused at dial time; the same URL works with
// the guard off (so the refusal is the guard's, not a dead server).
func TestRefusesNameResolvingToPrivate(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := counting(&hits, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "internal") })
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	u := "http://localhost:" + port + "/"

	_, err := netguard.New(netguard.Options{}).Get(u)
	var blocked *netguard.BlockedError
	require.ErrorAs(t, err, &blocked)
	require.Equal(t, "loopback", blocked.Range)
	require.Zero(t, hits.Load())

	resp, err := netguard.New(netguard.Options{AllowPrivate: true}).Get(u)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "internal", string(b))
	require.EqualValues(t, 1, hits.Load())
}

// A redirect from an allowed server to a private one is refused: every hop is dialled through
// the check. The allowed first hop is a loopback server let through by its exact address and
// port, so the private target (another loopback port) is still refused — unless it is let
// through too, which shows the test would see a missing check.
func TestRedirectToPrivateRefused(t *testing.T) {
	t.Parallel()
	var targetHits, firstHits atomic.Int32
	target := counting(&targetHits, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secret") })
	t.Cleanup(target.Close)
	_, targetPort, _ := net.SplitHostPort(target.Listener.Addr().String())
	for _, loc := range []string{target.URL + "/x", "http://localhost:" + targetPort + "/x"} {
		first := counting(&firstHits, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, loc, http.StatusFound) })
		t.Cleanup(first.Close)
		only := addrPort(t, first)
		client := netguard.NewExempting(netguard.Options{MaxRedirects: 3}, func(ap netip.AddrPort) bool { return ap == only })
		before := firstHits.Load()
		_, err := client.Get(first.URL)
		var blocked *netguard.BlockedError
		require.ErrorAs(t, err, &blocked, "redirect to %s", loc)
		require.Equal(t, before+1, firstHits.Load(), "the first hop was allowed")
		require.Zero(t, targetHits.Load(), "the private target was never reached")

		both := netguard.NewExempting(netguard.Options{MaxRedirects: 3}, func(netip.AddrPort) bool { return true })
		resp, err := both.Get(first.URL)
		require.NoError(t, err)
		resp.Body.Close()
		require.EqualValues(t, 1, targetHits.Load())
		targetHits.Store(0)
	}
}

func TestRedirectBudget(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	var srv *httptest.Server
	srv = counting(&hits, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, srv.URL+"/again", http.StatusFound) })
	t.Cleanup(srv.Close)

	// MaxRedirects 0: the 3xx is the answer (outbound webhooks count it as a failed attempt).
	resp, err := netguard.New(netguard.Options{AllowPrivate: true}).Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.EqualValues(t, 1, hits.Load())

	hits.Store(0)
	_, err = netguard.New(netguard.Options{AllowPrivate: true, MaxRedirects: 2}).Get(srv.URL)
	require.ErrorIs(t, err, netguard.ErrTooManyRedirects)
	require.EqualValues(t, 3, hits.Load(), "the first request and two redirects")

	hits.Store(0)
	_, err = netguard.New(netguard.Options{AllowPrivate: true, MaxRedirects: 100}).Get(srv.URL)
	require.ErrorIs(t, err, netguard.ErrTooManyRedirects)
	require.EqualValues(t, netguard.MaxRedirectsLimit+1, hits.Load(), "the budget is capped")
}

func TestBodyCap(t *testing.T) {
	t.Parallel()
	const limit = 1000
	var size atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", int(size.Load())))
	}))
	t.Cleanup(srv.Close)
	client := netguard.New(netguard.Options{AllowPrivate: true, MaxBodyBytes: limit})
	read := func() ([]byte, error) {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	size.Store(limit)
	b, err := read()
	require.NoError(t, err)
	require.Len(t, b, limit)

	size.Store(limit + 1)
	b, err = read()
	var tooLarge *netguard.TooLargeError
	require.ErrorAs(t, err, &tooLarge)
	require.EqualValues(t, limit, tooLarge.Limit)
	require.Len(t, b, limit, "never more than the cap is handed out")

	size.Store(10 * limit)
	_, err = read()
	require.ErrorAs(t, err, &tooLarge)
}

func TestTotalTimeCap(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select { // headers sent, the body never comes
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	resp, err := netguard.New(netguard.Options{AllowPrivate: true, Timeout: 200 * time.Millisecond}).Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"), "%v", err)
}

func TestRedact(t *testing.T) {
	t.Parallel()
	require.Equal(t, "https://hooks.example.com/catch/1/abc", netguard.RedactURL("https://user:pw@hooks.example.com/catch/1/abc?token=s3cret#frag"))
	err := errors.New(`Post "https://u:p@example.com/x?sig=abc": dial tcp: lookup example.com: no such host`)
	got := netguard.RedactError(err)
	require.Equal(t, `Post "https://example.com/x": dial tcp: lookup example.com: no such host`, got)
	require.NotContains(t, got, "sig=")
	require.Equal(t, "", netguard.RedactError(nil))

	// Cause drops the URL (path included) and keeps the error's type.
	_, err = netguard.New(netguard.Options{}).Get("http://127.0.0.1:9/secret-feed-path.ics")
	cause := netguard.Cause(err)
	require.NotContains(t, cause.Error(), "secret-feed-path")
	require.ErrorIs(t, cause, netguard.ErrBlocked)
}
