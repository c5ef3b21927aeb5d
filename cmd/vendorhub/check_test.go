package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// `vendorhub check` reports every bad variable, sub-configurations included, and accepts the
// documented values (VENDORHUB_HANDOFF_WAIT=0). Not parallel: the configuration comes from
// the environment (t.Setenv).
func TestCheckReportsEveryBadVariable(t *testing.T) {
	t.Setenv("VENDORHUB_SLOT_WARN_PERCENT", "150")       // health
	t.Setenv("VENDORHUB_GATEWAY", "maybe")               // realtime
	t.Setenv("VENDORHUB_NOTIFY_WORKERS", "many")         // notify (malformed)
	t.Setenv("VENDORHUB_WEBHOOK_OUTBOUND_WORKERS", "-3") // webhooks
	t.Setenv("VENDORHUB_ICAL_RATE", "-1")                // crm
	t.Setenv("VENDORHUB_HANDOFF_WAIT", "0")              // the documented default: valid
	code, stdout, stderr := runCmd(t, "check", "-db-url", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	require.Equal(t, 1, code, stderr)
	for _, name := range []string{"VENDORHUB_SLOT_WARN_PERCENT", "VENDORHUB_GATEWAY", "VENDORHUB_NOTIFY_WORKERS",
		"VENDORHUB_WEBHOOK_OUTBOUND_WORKERS", "VENDORHUB_ICAL_RATE"} {
		require.Contains(t, stdout, "FAIL  configuration           "+name, "not reported: %s\n%s", name, stdout)
	}
	require.NotContains(t, stdout, "VENDORHUB_HANDOFF_WAIT")
}
