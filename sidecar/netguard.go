package sidecar

// allowPrivateNetworks is VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS, the one switch of every
// guarded HTTP client (internal/netguard: outbound webhooks and Zapier catch hooks, iCalendar
// and Light Blue feeds, the Light Blue API, the alert webhook): "" is on with `dev` and off
// with `run`.
func (s *Sidecar) allowPrivateNetworks() (bool, error) {
	return s.cfg.Webhooks.allowPrivate(s.cfg.Dev)
}
