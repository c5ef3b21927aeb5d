package sidecar_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The deployment files say what the README promises: two replicas with the right probes and a
// disruption budget, a static non-root image, a systemd unit that runs the sidecar.
func TestDeploymentFiles(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("deploy/kubernetes.yaml")
	require.NoError(t, err)
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		docs[d["kind"].(string)] = d
	}
	dep := docs["Deployment"]
	require.NotNil(t, dep)
	spec := dep["spec"].(map[string]any)
	require.Equal(t, 2, spec["replicas"])
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	require.Equal(t, "/readyz", c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"])
	require.Equal(t, "/healthz", c["livenessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"])
	require.Equal(t, true, pod["securityContext"].(map[string]any)["runAsNonRoot"])
	require.Equal(t, []any{"run"}, c["args"])
	pdb := docs["PodDisruptionBudget"]
	require.NotNil(t, pdb)
	require.Equal(t, 1, pdb["spec"].(map[string]any)["minAvailable"])

	df, err := os.ReadFile("deploy/Dockerfile")
	require.NoError(t, err)
	require.Contains(t, string(df), "CGO_ENABLED=0")
	require.Contains(t, string(df), "USER 65532:65532")
	require.Contains(t, string(df), "./cmd/vendorhub")

	unit, err := os.ReadFile("deploy/vendorhub.service")
	require.NoError(t, err)
	require.Contains(t, string(unit), "ExecStart=/usr/local/bin/vendorhub run")
	require.True(t, strings.Contains(string(unit), "DynamicUser=yes"), "runs unprivileged")
}
