package edge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies is the set of trusted reverse proxies (VENDORHUB_TRUSTED_PROXIES). The nil
// *Proxies trusts nobody: every request's client is its peer.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads a comma- or space-separated list of CIDRs ("10.0.0.0/8, fd00::/8"); a
// bare address is a one-address prefix. "" gives nil (trust nobody).
func ParseProxies(s string) (*Proxies, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(fields) == 0 {
		return nil, nil
	}
	p := &Proxies{}
	for _, f := range fields {
		var pfx netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			pfx, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(f); err == nil {
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want a CIDR such as 10.0.0.0/8 or an address", f)
		}
		if pfx.Addr().Is4In6() {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), max(pfx.Bits()-96, 0))
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
	}
	return p, nil
}

// String lists the prefixes, comma-separated.
func (p *Proxies) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(p.prefixes))
	for i, pfx := range p.prefixes {
		s[i] = pfx.String()
	}
	return strings.Join(s, ",")
}

// Trusts reports whether a is inside a trusted prefix.
func (p *Proxies) Trusts(a netip.Addr) bool {
	if p == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// Client is who sent a request, as the edge resolved it.
type Client struct {
	// Addr is the client address: the peer, or, when the peer is a trusted proxy, the
	// rightmost X-Forwarded-For address outside the trusted prefixes.
	Addr netip.Addr
	// Peer is the address of the TCP peer.
	Peer netip.Addr
	// HTTPS is set when the request arrived over TLS, here or at a trusted proxy
	// (X-Forwarded-Proto: https).
	HTTPS bool
}

// Resolve says who sent r. Only a trusted peer's forwarding headers count. X-Forwarded-For is
// walked from the right (each proxy appends the address it received from), skipping trusted
// addresses: the first untrusted one is the client. When every listed address is trusted,
// the leftmost is; an unparsable entry ends the walk at the last good one.
func (p *Proxies) Resolve(r *http.Request) Client {
	c := Client{Peer: peerAddr(r.RemoteAddr), HTTPS: r.TLS != nil}
	c.Addr = c.Peer
	if !p.Trusts(c.Peer) {
		return c
	}
	if proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.EqualFold(strings.TrimSpace(proto), "https") {
		c.HTTPS = true
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		c.Addr = a
		if !p.Trusts(a) {
			break
		}
	}
	return c
}

type clientKey struct{}

// Handler resolves each request's client once (Resolve) for ClientAddr and IsHTTPS.
func (p *Proxies) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := p.Resolve(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// ClientAddr is the client address of r: what the edge resolved (Proxies.Handler), or the
// peer when r did not pass the edge. Every per-address limit keys on it. The zero Addr when
// the peer address is not an IP.
func ClientAddr(r *http.Request) netip.Addr { return clientOf(r).Addr }

// IsHTTPS reports whether r arrived over TLS, here or at a trusted proxy.
func IsHTTPS(r *http.Request) bool { return clientOf(r).HTTPS }

func clientOf(r *http.Request) Client {
	if c, ok := r.Context().Value(clientKey{}).(Client); ok {
		return c
	}
	return (*Proxies)(nil).Resolve(r)
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// forwardedFor splits every X-Forwarded-For line into its entries, in order.
func forwardedFor(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, e := range strings.Split(l, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// parseHop reads one X-Forwarded-For entry: an address, or an address with a port.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}
