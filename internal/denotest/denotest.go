// Package denotest runs the Supabase edge functions (supabase/functions/<name>) in tests with
// the pinned Deno of node_modules (npm "deno"), offline.
//
// A function's deno.json maps its imports to npm: specifiers with exact versions, as Supabase
// deploys it. For the tests a copy of it in a temporary directory adds "nodeModulesDir":
// "manual": Deno then resolves those npm packages from the repository's node_modules (npm ci
// of package-lock.json) instead of the npm registry, and refuses a version that differs from
// the one installed. The shipped deno.json is never changed.
package denotest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

// Command returns `deno <sub> --config <test config> --no-remote --cached-only args...`, to
// run in supabase/functions/<function> with a DENO_DIR of its own. It fails t when deno is
// missing or when a npm import of the function's deno.json is not pinned to the version of
// the repository's package.json.
func Command(t testing.TB, function, sub string, args ...string) *exec.Cmd {
	t.Helper()
	root, err := pgtest.RepoRoot()
	require.NoError(t, err)
	deno := filepath.Join(root, "node_modules", ".bin", "deno")
	_, err = os.Stat(deno)
	require.NoError(t, err, "deno missing: run `make deps` (npm ci installs the pinned deno)")
	dir := filepath.Join(root, "supabase", "functions", function)
	config := testConfig(t, root, dir)
	cmd := exec.Command(deno, append([]string{sub, "--config", config, "--no-remote", "--cached-only"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DENO_DIR="+t.TempDir(), "NO_COLOR=1", "DENO_NO_UPDATE_CHECK=1")
	return cmd
}

// testConfig writes the function's deno.json with "nodeModulesDir": "manual" to a temporary
// directory and returns its path.
func testConfig(t testing.TB, root, dir string) string {
	t.Helper()
	var config map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "deno.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &config), "deno.json")
	require.NotContains(t, config, "nodeModulesDir", "deno.json: nodeModulesDir is the tests' setting, not the deployed one")
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err = os.ReadFile(filepath.Join(root, "package.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pkg), "package.json")
	imports, _ := config["imports"].(map[string]any)
	for alias, target := range imports {
		spec, _ := target.(string)
		rest, ok := strings.CutPrefix(spec, "npm:")
		if !ok {
			continue
		}
		name, version, err := npmSpecifier(rest)
		require.NoError(t, err, "deno.json imports %q", alias)
		require.Equal(t, pkg.Dependencies[name], version,
			"deno.json imports %q: %s must pin the version of package.json (installed in node_modules)", alias, spec)
	}
	config["nodeModulesDir"] = "manual"
	b, err = json.Marshal(config)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "deno.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// npmSpecifier splits "name@version[/path]" (name possibly "@scope/name").
func npmSpecifier(s string) (name, version string, err error) {
	at := strings.Index(strings.TrimPrefix(s, "@"), "@")
	if at < 0 {
		return "", "", fmt.Errorf("npm:%s pins no version", s)
	}
	at += len(s) - len(strings.TrimPrefix(s, "@"))
	name, version = s[:at], s[at+1:]
	version, _, _ = strings.Cut(version, "/")
	return name, version, nil
}
