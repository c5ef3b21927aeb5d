package netguard

import (
	"net/http"
	"net/netip"
)

// NewExempting is New with exact address:port pairs let through the check (tests only).
func NewExempting(o Options, exempt func(netip.AddrPort) bool) *http.Client {
	o.exempt = exempt
	return New(o)
}
