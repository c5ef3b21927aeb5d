package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/bench/load"
	"github.com/wedsync/vendorhub/bench/results"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// Shape of the webhook ingress figures. The sidecar keeps its default limits (50 req/s per
// connection, 100 per source address), so the load is spread as many senders would send it:
// whSysConns connections, each from its own loopback address (limits: 5,000 req/s in all,
// above what two cores serve; 429 answers are counted and reported, never as capacity).
const (
	whSysConns    = 100
	whSysWorkers  = 64
	whSysCapacity = 5 * time.Second  // closed-loop capacity measurement
	whSysOpen     = 10 * time.Second // each open-loop rate
)

// sysWebhooks measures Standard Webhooks ingress of `vendorhub run` (defaults) against a
// minimal net/http handler doing the same single-row insert into the inbox (floor), with the
// same load client: capacity (closed loop, 2xx per second), then open-loop p99 at 50 % and
// 80 % of each one's own capacity, timed from the scheduled send.
func sysWebhooks(ctx context.Context, env *Env, bin string) error {
	run := env.Run
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	k, err := secret.NewKeyring(secret.Key{ID: "bench", Material: material})
	if err != nil {
		return err
	}
	var vendor string
	if err := db.Pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Bench', 'other') returning id`).Scan(&vendor); err != nil {
		return err
	}
	conns := make([]string, whSysConns)
	secrets := make([][]byte, whSysConns)
	for i := range conns {
		if err := db.Pool.QueryRow(ctx, `insert into public.integration_connections (vendor_id, kind, display_name)
			values ($1, 'standard_webhooks', 'bench') returning id`, vendor).Scan(&conns[i]); err != nil {
			return err
		}
		secrets[i] = make([]byte, 32)
		_, _ = rand.Read(secrets[i])
		if err := integration.WriteCredential(ctx, k, db.Pool, conns[i], integration.Credential{Secret: signature.FormatSecret(secrets[i])}); err != nil {
			return err
		}
	}
	cfg := sysKeys(db.URL, "bench_system_webhooks")
	for i, kv := range cfg {
		if strings.HasPrefix(kv, "VENDORHUB_ENCRYPTION_KEYS=") {
			cfg[i] = "VENDORHUB_ENCRYPTION_KEYS=bench:" + base64.StdEncoding.EncodeToString(material)
		}
	}
	sc, err := startSidecar(ctx, bin, cfg)
	if err != nil {
		return err
	}
	defer sc.stop()

	// The floor: the same inbox row, inserted by a bare handler on a pool of the sidecar's
	// default size (VENDORHUB_DB_MAX_CONNS, 10).
	fcfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		return err
	}
	fcfg.MaxConns = 10
	floorPool, err := pgxpool.NewWithConfig(ctx, fcfg)
	if err != nil {
		return err
	}
	defer floorPool.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/standard/{conn}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := floorPool.Exec(r.Context(), `insert into vendorhub.webhook_inbox (source, connection_id, provider_event_id, headers, payload)
values ('standard', $1, $2, '{}', $3)`, r.PathValue("conn"), r.Header.Get("webhook-id"), body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	floorSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = floorSrv.Serve(ln) }()
	defer floorSrv.Close()

	// One keep-alive client per connection, each from its own loopback address.
	clients := make([]*http.Client, whSysConns)
	for i := range clients {
		clients[i] = whClient(whSysWorkers, &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(10+i))})
	}
	var seq atomic.Int64
	var refused sync.Map // status → count
	send := func(ctx context.Context, base string) (bool, error) {
		n := seq.Add(1)
		i := int(n % whSysConns)
		body := []byte(fmt.Sprintf(`{"type":"lead.created","timestamp":"%s","data":{"n":%d,"name":"Ada Lovelace","date":"2027-06-12"}}`,
			time.Now().UTC().Format(time.RFC3339), n))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/standard/"+conns[i], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		signature.SetHeaders(req.Header, signature.StandardHeaders, [][]byte{secrets[i]}, fmt.Sprintf("msg_bench_%d", n), time.Now(), body)
		resp, err := clients[i].Do(req)
		if err != nil {
			return false, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			v, _ := refused.LoadOrStore(resp.StatusCode, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			return false, nil
		}
		return true, nil
	}
	capacity := func(base string) float64 {
		var ok atomic.Int64
		cctx, cancel := context.WithTimeout(ctx, whSysCapacity)
		defer cancel()
		var wg sync.WaitGroup
		for range whSysWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for cctx.Err() == nil {
					if good, _ := send(cctx, base); good {
						ok.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return float64(ok.Load()) / whSysCapacity.Seconds()
	}
	openLoop := func(base string, rate float64) (results.Latency, int) {
		var s load.Samples
		var failed atomic.Int64
		offsets := load.Arrivals(load.Phase{Rate: rate, For: whSysOpen})
		load.Run(ctx, time.Now().Add(50*time.Millisecond), offsets, func(ctx context.Context, a load.Arrival) {
			good, err := send(ctx, base)
			if !good || err != nil {
				failed.Add(1)
				return
			}
			s.Add(time.Since(a.Scheduled))
		})
		return latency("", "scheduled send", s.Sorted()), int(failed.Load())
	}

	sidecarBase, floorBase := "http://"+sc.addr, "http://"+ln.Addr().String()
	// Warm both up, then measure capacity in alternating order.
	capacity(floorBase)
	capacity(sidecarBase)
	time.Sleep(2 * time.Second) // let the per-second limit windows pass
	capSide := capacity(sidecarBase)
	capFloor := capacity(floorBase)
	refusedLine := func() string {
		var parts []string
		refused.Range(func(k, v any) bool {
			parts = append(parts, fmt.Sprintf("%d×%d", v.(*atomic.Int64).Load(), k.(int)))
			return true
		})
		refused.Clear()
		return strings.Join(parts, ", ")
	}
	env.Logf("webhooks: capacity sidecar %.0f req/s, floor %.0f req/s (non-2xx answers: %s)", capSide, capFloor, refusedLine())
	run.Add(results.NewFigure("webhooks.ingress.capacity", capSide, "req/s", "a bare net/http handler inserting the same inbox row", capFloor,
		&results.Goal{Of: "ratio", Limit: 0.6}, fmt.Sprintf("signed Standard Webhooks over %d connections from %d source addresses, %d closed-loop senders, %s, 2xx answers only", whSysConns, whSysConns, whSysWorkers, whSysCapacity)))
	for _, share := range []float64{0.5, 0.8} {
		time.Sleep(2 * time.Second)
		side, sideFailed := openLoop(sidecarBase, share*capSide)
		floor, floorFailed := openLoop(floorBase, share*capFloor)
		name := fmt.Sprintf("webhooks.ingress.p99_at_%.0f_pct", share*100)
		side.Name, floor.Name = name+".sidecar", name+".floor"
		run.AddLatency(side)
		run.AddLatency(floor)
		var goal *results.Goal
		if share == 0.5 {
			goal = &results.Goal{Of: "ratio", AtMost: true, Limit: 3}
		}
		run.Add(results.NewFigure(name, side.P99, "ms", fmt.Sprintf("the bare handler at %.0f %% of its own capacity (%.0f req/s)", share*100, share*capFloor), floor.P99, goal,
			fmt.Sprintf("open loop at %.0f %% of the sidecar's capacity (%.0f req/s) for %s, from the scheduled send; %d not answered 2xx (floor: %d)", share*100, share*capSide, whSysOpen, sideFailed, floorFailed)))
		env.Logf("webhooks at %.0f%%: sidecar p99 %.1f ms (%d failed), floor p99 %.1f ms (%d failed); non-2xx: %s", share*100, side.P99, sideFailed, floor.P99, floorFailed, refusedLine())
	}
	return nil
}
