package sidecar_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/replication"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/seed"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/outbound"
	"github.com/wedsync/vendorhub/sidecar"
)

// The webhooks stage, wired: a verified inbound webhook lands in the inbox, and a committed
// status change reaches a vendor's endpoint as a signed POST through the WAL, the hand-off sink
// and a River job.
func TestWebhooksStage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := pgtest.NewSeededDB(t)
	keys := "s1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	k, err := secret.ParseKeyring(keys)
	require.NoError(t, err)
	require.NoError(t, integration.WriteCredential(ctx, k, db.Pool, seed.HoneyBookConnectionID, integration.Credential{Secret: "zap-secret"}))

	receiver := providerfake.NewWebhookReceiver()
	t.Cleanup(receiver.Close)
	var endpoint string
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.webhook_endpoints (vendor_id, url, event_types)
		values ($1, $2, '{vendor.status_changed}') returning id`, seed.PhotographerVendorID, receiver.URL()+"/in").Scan(&endpoint))
	whsec, err := outbound.RollSecret(ctx, db.Pool, k, endpoint, time.Now(), time.Hour)
	require.NoError(t, err)
	receiver.SetSecrets(whsec)

	s, err := sidecar.New(ctx, sidecar.Config{
		DatabaseURL: db.URL, HTTPAddr: "127.0.0.1:0", Dev: true, Stages: []string{"webhooks"},
		Webhooks:    sidecar.WebhooksConfig{EncryptionKeys: keys},
		Replication: replication.Config{Slot: fmt.Sprintf("wh_stage_%d", time.Now().UnixNano()), StatusInterval: time.Second},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-ran })
	require.Eventually(t, func() bool { return s.Stream().Role() == replication.RoleLeader && s.Addr() != "" },
		time.Minute, 10*time.Millisecond)

	// Ingress.
	req, err := http.NewRequest(http.MethodPost, "http://"+s.Addr()+"/webhooks/honeybook/"+seed.HoneyBookConnectionID,
		bytes.NewReader([]byte(`{"trigger":"new_inquiry","client":"Ava"}`)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.ZapierSecretHeader, "zap-secret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.webhook_inbox where source = 'honeybook'`).Scan(&n))
	require.Equal(t, 1, n)

	// Outbound, from a committed change.
	_, err = db.Pool.Exec(ctx, `update public.wedding_vendors set status = 'booked' where wedding_id = $1 and vendor_id = $2`,
		seed.WeddingID, seed.PhotographerVendorID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(receiver.Received()) >= 1 }, time.Minute, 20*time.Millisecond)
	got := receiver.Received()[0]
	require.True(t, got.Verified, got.Problem)
	var p outbound.Payload
	require.NoError(t, json.Unmarshal(got.Body, &p))
	require.Equal(t, "vendor.status_changed", string(p.Type))
	require.Equal(t, seed.PhotographerVendorID, *p.Data.VendorID)
	require.Eventually(t, func() bool {
		var ok bool
		_ = db.Pool.QueryRow(ctx, `select exists (select 1 from public.webhook_deliveries where endpoint_id = $1 and status = 'succeeded')`, endpoint).Scan(&ok)
		return ok
	}, 30*time.Second, 20*time.Millisecond)
}
