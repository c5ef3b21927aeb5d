package sidecar_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/wedsync/vendorhub/internal/edge"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/sidecar"
)

// With VENDORHUB_INTERNAL_ADDR, /metrics and /readyz move to the internal listener and the
// public one answers 404 for them; /healthz stays public; Go's profiles are internal only.
func TestInternalListener(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	cfg := sidecar.Config{DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0", Stages: []string{sidecar.StagesNone},
		Replication: replication.Config{Slot: "sc_edge_" + db.Name[len(db.Name)-8:], StatusInterval: time.Second, ReceiveTimeout: 5 * time.Second},
		HTTP:        sidecar.HTTPConfig{InternalAddr: "127.0.0.1:0", TrustedProxies: "10.0.0.0/8"}}
	s, err := sidecar.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.Equal(t, "10.0.0.0/8", s.Proxies().String())
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return s.Addr() != "" && s.InternalAddr() != "" }, 30*time.Second, 10*time.Millisecond)
	require.NotEqual(t, s.Addr(), s.InternalAddr())
	get := func(addr, path string) int {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get(s.Addr(), "/healthz"))
	require.Equal(t, http.StatusNotFound, get(s.Addr(), "/metrics"))
	require.Equal(t, http.StatusNotFound, get(s.Addr(), "/readyz"))
	require.Equal(t, http.StatusOK, get(s.InternalAddr(), "/metrics"))
	require.Equal(t, http.StatusOK, get(s.InternalAddr(), "/healthz"))
	require.Equal(t, http.StatusOK, get(s.InternalAddr(), "/debug/pprof/"))
	require.Equal(t, http.StatusOK, get(s.InternalAddr(), "/debug/pprof/heap"))
	require.Equal(t, http.StatusNotFound, get(s.Addr(), "/debug/pprof/"))
	require.Eventually(t, func() bool { return get(s.InternalAddr(), "/readyz") == http.StatusOK }, 30*time.Second, 20*time.Millisecond)
}

func TestEdgeConfiguration(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://x", "VENDORHUB_TRUSTED_PROXIES": "10.0.0.0/8,fd00::/8",
		"VENDORHUB_INTERNAL_ADDR": "0.0.0.0:54381", "VENDORHUB_HTTP_WRITE_TIMEOUT": "45s", "VENDORHUB_HTTP_MAX_HEADER_BYTES": "32768"}
	cfg, err := sidecar.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, sidecar.HTTPConfig{InternalAddr: "0.0.0.0:54381", TrustedProxies: "10.0.0.0/8,fd00::/8",
		WriteTimeout: 45 * time.Second, MaxHeaderBytes: 32768}, cfg.HTTP)

	// The removed boolean is refused with the way forward, not silently ignored.
	env["VENDORHUB_TRUST_FORWARDED_FOR"] = "true"
	_, err = sidecar.FromEnv(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "VENDORHUB_TRUSTED_PROXIES")
	env["VENDORHUB_TRUST_FORWARDED_FOR"] = "false"
	_, err = sidecar.FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)

	_, err = sidecar.New(context.Background(), sidecar.Config{DatabaseURL: "postgres://u@127.0.0.1:1/x",
		HTTP: sidecar.HTTPConfig{TrustedProxies: "10.0.0.0/8, the-ingress"}}, nil)
	require.ErrorContains(t, err, "VENDORHUB_TRUSTED_PROXIES")
}

// The shipped manifests put /metrics and /readyz on the internal port and trust only the
// cluster's pod network for X-Forwarded-For.
func TestDeploymentEdge(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("deploy/kubernetes.yaml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var dep map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if d["kind"] == "Deployment" {
			dep = d
		}
	}
	require.NotNil(t, dep)
	tmpl := dep["spec"].(map[string]any)["template"].(map[string]any)
	c := tmpl["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	env := map[string]string{}
	for _, e := range c["env"].([]any) {
		m := e.(map[string]any)
		if v, ok := m["value"].(string); ok {
			env[m["name"].(string)] = v
		}
	}
	p, err := edge.ParseProxies(env["VENDORHUB_TRUSTED_PROXIES"])
	require.NoError(t, err)
	require.NotNil(t, p)
	require.False(t, p.Trusts(netip.MustParseAddr("203.0.113.1")), "a public address is no proxy")
	_, port, err := net.SplitHostPort(env["VENDORHUB_INTERNAL_ADDR"])
	require.NoError(t, err)
	require.Equal(t, "54381", port)
	require.Equal(t, "internal", c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any)["port"])
	require.Equal(t, "54381", tmpl["metadata"].(map[string]any)["annotations"].(map[string]any)["prometheus.io/port"])

	unit, err := os.ReadFile("deploy/vendorhub.service")
	require.NoError(t, err)
	require.Contains(t, string(unit), "Environment=VENDORHUB_TRUSTED_PROXIES=127.0.0.1/32,::1/128")
	df, err := os.ReadFile("deploy/Dockerfile")
	require.NoError(t, err)
	require.Contains(t, string(df), "ENV VENDORHUB_INTERNAL_ADDR=0.0.0.0:54381")
}
