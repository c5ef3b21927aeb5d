package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)



// Load shape of the webhooks benchmark.
const (
	whConnections = 100              // Standard Webhooks connections the load is spread over
	whWorkers     = 64               // closed-loop senders of valid traffic (keep-alive connections)
	whDuration    = 10 * time.Second // each measured phase
	whFixedRate   = 1000             // valid requests/s of the flood comparison (open loop)
	whFloodWorker = 32               // closed-loop senders of bad signatures, from 127.0.0.2
)

// benchWebhooks measures the ingress end to end on one machine, load generator included:
//
//   - webhooks.ingress_req_per_s, webhooks.ingress_p99_ms: whWorkers senders of valid,
//     signed Standard Webhooks (unique ids, 100 connections) for whDuration, closed loop;
//     every request verified, rate-limit counted in Postgres and stored in the inbox.
//   - webhooks.ingress_p99_ms_fixed_rate: valid traffic at whFixedRate req/s alone, and
//     webhooks.ingress_p99_ms_under_flood: the same while whFloodWorker senders flood bad
//     signatures from another address (each verified, answered 401 and audited);
//     webhooks.flood_rejected_per_s is the flood's rejection rate.
//
// The rate limits stay on (100k/s per address, 10k/s per connection) so their shared
// counters are part of the cost.
func benchWebhooks(ctx context.Context, env *Env) error {
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	pcfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		return err
	}
	pcfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	k, err := secret.NewKeyring(secret.Key{ID: "bench", Material: secret.GenerateKey()})
	if err != nil {
		return err
	}
	var vendor string
	if err := pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Bench', 'other') returning id`).Scan(&vendor); err != nil {
		return err
	}
	conns := make([]string, whConnections)
	secrets := make([][]byte, whConnections)
	for i := range conns {
		if err := pool.QueryRow(ctx, `insert into public.integration_connections (vendor_id, kind, display_name)
			values ($1, 'standard_webhooks', 'bench') returning id`, vendor).Scan(&conns[i]); err != nil {
			return err
		}
		secrets[i] = make([]byte, 32)
		_, _ = rand.Read(secrets[i])
		if err := integration.WriteCredential(ctx, k, pool, conns[i], integration.Credential{Secret: signature.FormatSecret(secrets[i])}); err != nil {
			return err
		}
	}

	quiet := slog.New(slog.DiscardHandler)
	auditLog := audit.NewBuffer(pool, audit.BufferConfig{Logger: quiet})
	defer auditLog.Close()
	h, err := webhook.New(pool, k, auditLog, webhook.Config{IPRate: 100_000, IPBurst: 100_000, ConnectionRate: 10_000,
		ConnectionBurst: 10_000, Logger: quiet})
	if err != nil {
		return err
	}
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	var seq atomic.Int64
	valid := func(client *http.Client) (time.Duration, error) {
		n := seq.Add(1)
		i := int(n % whConnections)
		body := []byte(fmt.Sprintf(`{"type":"lead.created","timestamp":"%s","data":{"n":%d,"name":"Ada Lovelace","date":"2027-06-12"}}`,
			time.Now().UTC().Format(time.RFC3339), n))
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/standard/"+conns[i], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		signature.SetHeaders(req.Header, signature.StandardHeaders, [][]byte{secrets[i]}, fmt.Sprintf("msg_bench_%d", n), time.Now(), body)
		began := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("valid webhook answered %d", resp.StatusCode)
		}
		return time.Since(began), nil
	}

	// Warm up (connections, caches, plans).
	warm := whClient(whWorkers, nil)
	for range 200 {
		if _, err := valid(warm); err != nil {
			return err
		}
	}

	// Phase 1: throughput, closed loop.
	lat, elapsed, err := whClosedLoop(ctx, whWorkers, whDuration, valid, whClient(whWorkers, nil))
	if err != nil {
		return err
	}
	env.Record("webhooks.ingress_req_per_s", float64(len(lat))/elapsed.Seconds())
	env.Record("webhooks.ingress_p50_ms", whPct(lat, 0.50))
	env.Record("webhooks.ingress_p99_ms", whPct(lat, 0.99))

	// Phase 2: fixed rate alone, then under a flood of bad signatures.
	fixed, err := whOpenLoop(ctx, whFixedRate, whDuration, valid, whClient(256, nil))
	if err != nil {
		return err
	}
	env.Record("webhooks.ingress_p99_ms_fixed_rate", whPct(fixed, 0.99))

	floodCtx, stopFlood := context.WithCancel(ctx)
	var rejected atomic.Int64
	var floodErr error
	var floodWG sync.WaitGroup
	floodClient := whClient(whFloodWorker, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)})
	forged := []byte("not-the-secret-0123456789abcdef0")
	floodStart := time.Now()
	var floodMu sync.Mutex
	for w := range whFloodWorker {
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			for floodCtx.Err() == nil {
				i := w % whConnections
				body := []byte(`{"type":"forged","data":{}}`)
				req, _ := http.NewRequestWithContext(floodCtx, http.MethodPost, base+"/webhooks/standard/"+conns[i], bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				signature.SetHeaders(req.Header, signature.StandardHeaders, [][]byte{forged}, fmt.Sprintf("msg_forged_%d", seq.Add(1)), time.Now(), body)
				resp, err := floodClient.Do(req)
				if err != nil {
					if floodCtx.Err() == nil {
						floodMu.Lock()
						floodErr = err
						floodMu.Unlock()
					}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized {
					rejected.Add(1)
				}
			}
		}()
	}
	underFlood, err := whOpenLoop(ctx, whFixedRate, whDuration, valid, whClient(256, nil))
	floodElapsed := time.Since(floodStart)
	stopFlood()
	floodWG.Wait()
	if err != nil {
		return err
	}
	if floodErr != nil {
		return fmt.Errorf("flood: %w", floodErr)
	}
	env.Record("webhooks.ingress_p99_ms_under_flood", whPct(underFlood, 0.99))
	env.Record("webhooks.flood_rejected_per_s", float64(rejected.Load())/floodElapsed.Seconds())

	var stored int
	if err := pool.QueryRow(ctx, `select count(*) from vendorhub.webhook_inbox`).Scan(&stored); err != nil {
		return err
	}
	if want := 200 + len(lat) + len(fixed) + len(underFlood); stored != want {
		return fmt.Errorf("inbox holds %d rows, want %d (one per valid request)", stored, want)
	}
	env.Logf("inbox rows: %d; flood requests rejected: %d", stored, rejected.Load())
	return nil
}

// whClient returns a keep-alive client with up to conns connections, dialling from local
// when set (a second loopback address stands for another source).
func whClient(conns int, local *net.TCPAddr) *http.Client {
	d := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
}

// whClosedLoop runs workers senders back to back for d and returns every latency.
func whClosedLoop(ctx context.Context, workers int, d time.Duration, send func(*http.Client) (time.Duration, error), client *http.Client) ([]time.Duration, time.Duration, error) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		ferr error
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	began := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				l, err := send(client)
				if err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					return
				}
				local = append(local, l)
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, time.Since(began), ferr
}

// whOpenLoop sends at rate requests per second for d, whatever the answers' latency (no
// coordinated omission: latency counts from the scheduled start).
func whOpenLoop(ctx context.Context, rate int, d time.Duration, send func(*http.Client) (time.Duration, error), client *http.Client) ([]time.Duration, error) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		ferr error
		wg   sync.WaitGroup
	)
	interval := time.Second / time.Duration(rate)
	began := time.Now()
	for i := 0; ; i++ {
		at := began.Add(time.Duration(i) * interval)
		if at.Sub(began) >= d || ctx.Err() != nil {
			break
		}
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait) // pacing the load generator, not waiting for a result
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := send(client)
			l := time.Since(at)
			mu.Lock()
			if err != nil {
				ferr = err
			}
			all = append(all, l)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, ferr
}

func whPct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}
