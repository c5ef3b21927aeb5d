package realtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/route"
)

// TestTypeFileChecks type-checks types/vendorhub-realtime.d.ts with the pinned Deno
// (node_modules/.bin/deno), including the expected errors of its test file.
func TestTypeFileChecks(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	deno := filepath.Join(root, "node_modules", ".bin", "deno")
	_, err = os.Stat(deno)
	require.NoError(t, err, "deno missing: run make deps (npm ci)")
	cmd := exec.CommandContext(t.Context(), deno, "check", "--no-config", filepath.Join(root, "types", "vendorhub-realtime.test.ts"))
	cmd.Env = append(os.Environ(), "DENO_DIR="+t.TempDir(), "DENO_NO_UPDATE_CHECK=1", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "deno check:\n%s", out)
}

// TestTypeFileMatchesRoutes keeps TopicEvents and EventData of the type file in step with the
// routing rules: every event routed to a topic family is listed for that family, and nothing
// else is.
func TestTypeFileMatchesRoutes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../types/vendorhub-realtime.d.ts")
	require.NoError(t, err)
	src := string(b)

	want := map[string][]string{}
	var routed []string
	for _, r := range route.DefaultRules {
		for _, tmpl := range r.Topics {
			family, _, _ := strings.Cut(tmpl, ":")
			want[family] = append(want[family], string(r.Type))
			if !slices.Contains(routed, string(r.Type)) {
				routed = append(routed, string(r.Type))
			}
		}
	}

	block := regexp.MustCompile(`(?s)export interface TopicEvents \{(.*?)\n\}`).FindStringSubmatch(src)
	require.NotNil(t, block, "TopicEvents not found")
	got := map[string][]string{}
	family := ""
	for _, line := range strings.Split(block[1], "\n") {
		if m := regexp.MustCompile(`^\s*(\w+):`).FindStringSubmatch(line); m != nil {
			family = m[1]
		}
		for _, ev := range regexp.MustCompile(`'([a-z_.]+)'`).FindAllStringSubmatch(line, -1) {
			got[family] = append(got[family], ev[1])
		}
	}
	for f := range want {
		slices.Sort(want[f])
		slices.Sort(got[f])
	}
	require.Equal(t, want, got, "TopicEvents must list exactly the routed events per topic family")

	data := regexp.MustCompile(`(?s)export interface EventData \{(.*?)\n\}`).FindStringSubmatch(src)
	require.NotNil(t, data, "EventData not found")
	var keys []string
	for _, m := range regexp.MustCompile(`'([a-z_.]+)':`).FindAllStringSubmatch(data[1], -1) {
		keys = append(keys, m[1])
	}
	slices.Sort(keys)
	slices.Sort(routed)
	require.Equal(t, routed, keys, "EventData must have one entry per event type routed to a topic")
}
