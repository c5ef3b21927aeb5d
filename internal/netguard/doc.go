// Package netguard holds vendorhub's guarded HTTP client: the one client for every URL a
// tenant or an operator controls (iCalendar and Light Blue feeds, the Light Blue API, outbound
// webhook endpoints and Zapier catch hooks, the operators' alert webhook).
//
//   - The address check runs at dial time (net.Dialer.ControlContext) on the IP actually
//     dialled, after DNS resolution, so a name that resolves (or re-resolves, DNS rebinding)
//     to an internal address is refused, and so is every redirect hop.
//   - Refused: loopback, unspecified, RFC 1918, link-local (cloud metadata 169.254.169.254),
//     CGNAT, IETF protocol assignments, benchmarking, reserved and broadcast IPv4, multicast,
//     IPv6 ULA, link-local and multicast, NAT64, 6to4 and IPv4-mapped IPv6 (the embedded IPv4
//     address is checked). Blocked returns the name of the refused range.
//   - No proxy from the environment, a small redirect budget (0: a 3xx is returned as is), a
//     total time cap per request, and a response body cap whose excess reads as *TooLargeError.
//   - Refusals are *BlockedError, with a fixed message callers can store for members.
//
// Options.AllowPrivate (VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS: on in dev, off in run) turns
// the address check off, for local receivers and fakes. Redact strips userinfo, query and
// fragment from URLs in error texts before they are logged or stored.
package netguard
