package netguard

import "net/netip"

// blockedRange is an address range the guard refuses, with its name.
type blockedRange struct {
	prefix netip.Prefix
	name   string
}

// blockedRanges are the refused ranges (IANA special-purpose registries, RFC 6890 and
// successors). IPv4-mapped IPv6 addresses are unmapped and checked as IPv4 first.
var blockedRanges = func() []blockedRange {
	rs := []struct{ cidr, name string }{
		{"0.0.0.0/8", "this network"},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"}, // before 240.0.0.0/4, which holds it
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"64:ff9b::/96", "NAT64"},
		{"64:ff9b:1::/48", "NAT64 (local use)"},
		{"2002::/16", "6to4"},
		{"fc00::/7", "unique local"},
		{"fe80::/10", "link-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]blockedRange, len(rs))
	for i, r := range rs {
		out[i] = blockedRange{netip.MustParsePrefix(r.cidr), r.name}
	}
	return out
}()

// Blocked reports whether the guard refuses a, and the name of the range it is in. An
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged by its IPv4 address; an invalid address
// is refused.
func Blocked(a netip.Addr) (string, bool) {
	if !a.IsValid() {
		return "invalid address", true
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	a = a.WithZone("")
	for _, r := range blockedRanges {
		if r.prefix.Contains(a) {
			return r.name, true
		}
	}
	return "", false
}
