package sidecar_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/sidecar"
)

// readmeVars parses README.md's configuration table: variable name → default as the table
// shows it ("" for "—", free text or a default that depends on dev/run; else the first
// `value` of the cell). A row naming several variables ("`A` / `B`") gives each its own
// default when the cell lists as many ("`10` / `5`"), else the same.
func readmeVars(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	row := regexp.MustCompile("^\\| (`[A-Z][A-Z0-9_]*`(?: / `[A-Z][A-Z0-9_]*`)*) \\| ([^|]*) \\|")
	value := func(cell string) string {
		cell = strings.TrimSpace(cell)
		if !strings.HasPrefix(cell, "`") {
			return ""
		}
		return strings.SplitN(cell[1:], "`", 2)[0]
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		names := strings.Split(m[1], " / ")
		defs := strings.Split(m[2], " / ")
		for i, n := range names {
			n = strings.Trim(n, "`")
			require.NotContains(t, out, n, "README lists %s twice", n)
			if len(defs) == len(names) {
				out[n] = value(defs[i])
			} else {
				out[n] = value(m[2])
			}
		}
	}
	require.NotEmpty(t, out, "no configuration table found in README.md")
	return out
}

// README.md's table and the code's (sidecar.Vars) list the same variables with the same
// defaults.
func TestREADMEListsEveryVariableWithItsDefault(t *testing.T) {
	t.Parallel()
	readme := readmeVars(t)
	code := map[string]string{}
	for _, v := range sidecar.Vars() {
		require.NotContains(t, code, v.Name, "Vars lists %s twice", v.Name)
		code[v.Name] = v.Default
	}
	for name, def := range code {
		got, ok := readme[name]
		require.True(t, ok, "README.md's table does not list %s", name)
		require.Equal(t, def, got, "README.md's default of %s", name)
	}
	for name := range readme {
		require.Contains(t, code, name, "README.md lists %s, which the code does not read", name)
	}
}

// Every documented default is the one WithDefaults applies: setting each variable to its
// default changes nothing.
func TestDocumentedDefaultsAreTheAppliedOnes(t *testing.T) {
	t.Parallel()
	base := sidecar.Config{DatabaseURL: "postgres://u@127.0.0.1:5432/db", InstanceID: "i"}.WithDefaults()
	for _, v := range sidecar.Vars() {
		if v.Default == "" || v.Computed || v.ReadBy != "" {
			continue
		}
		cfg, err := sidecar.FromEnv(func(k string) string {
			return map[string]string{"DATABASE_URL": base.DatabaseURL, "VENDORHUB_INSTANCE_ID": "i", v.Name: v.Default}[k]
		})
		require.NoError(t, err, v.Name)
		require.Equal(t, base, cfg.WithDefaults(), "%s=%s is not its default", v.Name, v.Default)
	}
}

// VENDORHUB_HANDOFF_WAIT=0 is the documented default and is accepted; a negative duration is
// not.
func TestHandoffWaitZeroIsAccepted(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:5432/db", "VENDORHUB_HANDOFF_WAIT": "0"}
	cfg, err := sidecar.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	cfg = cfg.WithDefaults()
	require.NoError(t, cfg.Validate())
	require.Zero(t, cfg.Replication.BatchWait)

	env["VENDORHUB_HANDOFF_WAIT"] = "50ms"
	cfg, err = sidecar.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, 50*time.Millisecond, cfg.Replication.BatchWait)

	env["VENDORHUB_HANDOFF_WAIT"] = "-1s"
	_, err = sidecar.FromEnv(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "VENDORHUB_HANDOFF_WAIT")
}

// Validate covers every sub-configuration and reports every bad variable at once.
func TestValidateReportsEveryBadSubConfigVariable(t *testing.T) {
	t.Parallel()
	cfg := sidecar.Config{DatabaseURL: "postgres://u@127.0.0.1:5432/db",
		Realtime: sidecar.RealtimeConfig{Target: "pigeon"},
		Notify:   sidecar.NotifyConfig{MaxAttempts: -2},
		Webhooks: sidecar.WebhooksConfig{AllowPrivateNetworks: "perhaps"},
		CRM:      sidecar.CRMConfig{GraphRate: -4},
		Health:   sidecar.HealthConfig{SlotWarnPercent: 100, Dashboard: "sometimes"},
	}.WithDefaults()
	err := cfg.Validate()
	require.Error(t, err)
	for _, name := range []string{"VENDORHUB_REALTIME_TARGET", "VENDORHUB_NOTIFY_MAX_ATTEMPTS",
		"VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "VENDORHUB_GRAPH_RATE", "VENDORHUB_SLOT_WARN_PERCENT",
		"VENDORHUB_DASHBOARD"} {
		require.ErrorContains(t, err, name)
	}
}
