package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/audit"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testBundle is one ingress on a fresh database, with a connection per source.
type testBundle struct {
	db      *pgtest.DB
	keyring *secret.Keyring
	audit   *audit.Buffer
	h       *webhook.Handler
	srv     *httptest.Server
	now     time.Time
	vendor  string
	conns   map[webhook.Source]string // connection id per source
	secrets map[webhook.Source]string
}

func randomSecret(t *testing.T, src webhook.Source) string {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	switch src {
	case webhook.SourceStandard, webhook.SourceResend:
		return signature.FormatSecret(b)
	default:
		return "sec-" + hex.EncodeToString(b[:16])
	}
}

func setup(t *testing.T, cfg webhook.Config) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	k, err := secret.ParseKeyring("t1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	require.NoError(t, err)
	b := &testBundle{db: db, keyring: k, now: time.Now(), conns: map[webhook.Source]string{}, secrets: map[webhook.Source]string{}}
	require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Ingress Photo', 'photographer') returning id`).Scan(&b.vendor))
	for _, src := range webhook.Sources {
		var id string
		require.NoError(t, db.Pool.QueryRow(ctx, `insert into public.integration_connections (vendor_id, kind, display_name)
			values ($1, $2, $3) returning id`, b.vendor, src.Kind(), string(src)).Scan(&id))
		b.conns[src] = id
		b.secrets[src] = randomSecret(t, src)
		require.NoError(t, integration.WriteCredential(ctx, k, db.Pool, id, integration.Credential{Secret: b.secrets[src]}))
	}
	b.audit = audit.NewBuffer(db.Pool, audit.BufferConfig{FlushInterval: 10 * time.Millisecond})
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return b.now }
	}
	h, err := webhook.New(db.Pool, k, b.audit, cfg)
	require.NoError(t, err)
	b.h = h
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, h)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		b.srv.Close()
		h.Close()
		b.audit.Close()
	})
	return b
}

// sender builds signed requests for one source.
type sender struct {
	b   *testBundle
	src webhook.Source
	// conn is the URL connection segment; defaults to the bundle's connection of src.
	conn string
}

func (b *testBundle) sender(src webhook.Source) *sender {
	return &sender{b: b, src: src, conn: b.conns[src]}
}

func (s *sender) url() string { return s.b.srv.URL + "/webhooks/" + string(s.src) + "/" + s.conn }

// validBody returns a body unique to n in the source's format.
func (s *sender) validBody(n int) []byte {
	switch s.src {
	case webhook.SourceTwilio:
		v := url.Values{}
		v.Set("MessageSid", fmt.Sprintf("SM%032d", n))
		v.Set("MessageStatus", "delivered")
		v.Set("To", "+15005550006")
		return []byte(v.Encode())
	case webhook.SourceGoogleCalendar:
		return nil
	case webhook.SourceOutlook:
		return []byte(fmt.Sprintf(`{"value":[{"subscriptionId":"sub-%d","clientState":%q,"changeType":"updated","resource":"me/events/%d","subscriptionExpirationDateTime":%q}]}`,
			n, s.b.secrets[s.src], n, s.b.now.Add(6*24*time.Hour).UTC().Format(time.RFC3339)))
	default:
		return []byte(fmt.Sprintf(`{"type":"lead.created","data":{"n":%d,"name":"Ada"}}`, n))
	}
}

func (s *sender) contentType() string {
	switch s.src {
	case webhook.SourceTwilio:
		return "application/x-www-form-urlencoded"
	case webhook.SourceGoogleCalendar:
		return ""
	default:
		return "application/json; charset=utf-8"
	}
}

// request builds a correctly signed request for body (message number n), signed at ts.
func (s *sender) request(t *testing.T, n int, body []byte, ts time.Time) *http.Request {
	t.Helper()
	target := s.url()
	secretText := s.b.secrets[s.src]
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	require.NoError(t, err)
	if ct := s.contentType(); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	msgID := fmt.Sprintf("msg_%d_%d", n, ts.UnixNano())
	switch s.src {
	case webhook.SourceStandard, webhook.SourceResend:
		key, err := signature.ParseSecret(secretText)
		require.NoError(t, err)
		names := signature.StandardHeaders
		if s.src == webhook.SourceResend {
			names = signature.SvixHeaders
		}
		signature.SetHeaders(req.Header, names, [][]byte{key}, msgID, ts, body)
	case webhook.SourceTwilio:
		params, err := url.ParseQuery(string(body))
		require.NoError(t, err)
		req.Header.Set(signature.TwilioHeader, signature.SignTwilio(secretText, target, params))
	case webhook.SourceHoneyBook, webhook.SourceDubsado:
		req.Header.Set(webhook.ZapierSecretHeader, secretText)
		req.Header.Set(webhook.EventIDHeader, msgID)
	case webhook.SourceGoogleCalendar:
		req.Header.Set("X-Goog-Channel-ID", "chan-1")
		req.Header.Set("X-Goog-Channel-Token", secretText)
		req.Header.Set("X-Goog-Resource-State", "exists")
		req.Header.Set("X-Goog-Resource-ID", "res-1")
		req.Header.Set("X-Goog-Message-Number", fmt.Sprint(n+1))
		req.Header.Set("X-Goog-Channel-Expiration", s.b.now.Add(7*24*time.Hour).UTC().Format(http.TimeFormat))
	case webhook.SourceOutlook:
		// clientState is inside the body.
	}
	return req
}

// corrupt breaks the request's signature while leaving it well-formed.
func (s *sender) corrupt(req *http.Request) {
	switch s.src {
	case webhook.SourceStandard:
		req.Header.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
	case webhook.SourceResend:
		req.Header.Set("svix-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
	case webhook.SourceTwilio:
		req.Header.Set(signature.TwilioHeader, "vOEb5UThFn24KEfnOFLQY2AE5FY=")
	case webhook.SourceHoneyBook, webhook.SourceDubsado:
		req.Header.Set(webhook.ZapierSecretHeader, "guessed-secret")
	case webhook.SourceGoogleCalendar:
		req.Header.Set("X-Goog-Channel-Token", "guessed-token")
	}
}

// malformedRequest is a request whose signature is valid but whose content cannot be stored.
func (s *sender) malformedRequest(t *testing.T, ts time.Time) *http.Request {
	t.Helper()
	switch s.src {
	case webhook.SourceTwilio:
		// Twilio's JSON callbacks: the URL carries bodySHA256 and the signature covers the URL.
		body := []byte(`{"MessageSid": "SM1", "broken"`)
		sum := sha256.Sum256(body)
		target := s.url() + "?bodySHA256=" + hex.EncodeToString(sum[:])
		req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.TwilioHeader, signature.SignTwilio(s.b.secrets[s.src], target, nil))
		return req
	case webhook.SourceOutlook:
		// clientState is valid, but a NUL character cannot be stored by jsonb.
		body := []byte(fmt.Sprintf(`{"value":[{"clientState":%q,"resource":"a\u0000b"}]}`, s.b.secrets[s.src]))
		return s.request(t, 0, body, ts)
	case webhook.SourceGoogleCalendar:
		req := s.request(t, 0, nil, ts)
		req.Header.Set("X-Goog-Resource-State", "exploded")
		return req
	default:
		return s.request(t, 0, []byte(`{"type": "lead.created", "data": {`), ts)
	}
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func (b *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func (b *testBundle) inboxRows(t *testing.T, src webhook.Source) int {
	return b.count(t, `select count(*) from vendorhub.webhook_inbox where source = $1`, src.InboxSource())
}

// auditRows flushes the audit buffer and counts rejections of src carrying reasonLike.
func (b *testBundle) auditRows(t *testing.T, action string, src webhook.Source, reasonLike string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.audit.Flush(ctx))
	return b.count(t, `select count(*) from vendorhub.audit_log where action = $1 and subject like $2 and reason like $3
		and source_ip = '127.0.0.1'`, action, "webhook:"+string(src)+"/%", "%"+reasonLike+"%")
}

// The done-when matrix, per source.
func TestIngressPerSource(t *testing.T) {
	t.Parallel()
	for _, src := range webhook.Sources {
		t.Run(string(src), func(t *testing.T) {
			t.Parallel()
			b := setup(t, webhook.Config{MaxBodyBytes: 4096, ConnectionRate: 2, ConnectionBurst: 1000, IPRate: -1})
			s := b.sender(src)

			// valid → 2xx and one inbox row
			resp, body := do(t, s.request(t, 1, s.validBody(1), b.now))
			require.Contains(t, []int{200, 202}, resp.StatusCode, body)
			require.Contains(t, body, `"stored"`)
			require.Equal(t, 1, b.inboxRows(t, src))
			var conn, payload, headers string
			require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select connection_id::text, payload::text, headers::text
				from vendorhub.webhook_inbox where source = $1`, src.InboxSource()).Scan(&conn, &payload, &headers))
			require.Equal(t, b.conns[src], conn)
			require.NotContains(t, headers, b.secrets[src], "no secret stored with the row")
			require.NotContains(t, strings.ToLower(headers), "signature")

			// duplicate → 200 and no new row (the same request again)
			resp, body = do(t, s.request(t, 1, s.validBody(1), b.now))
			require.Contains(t, []int{200, 202}, resp.StatusCode, body)
			require.Contains(t, body, `"duplicate"`)
			require.Equal(t, 1, b.inboxRows(t, src))

			// bad signature → 401 and an audit row
			req := s.request(t, 2, s.validBody(2), b.now)
			if src == webhook.SourceOutlook {
				req = s.request(t, 2, bytes.ReplaceAll(s.validBody(2), []byte(b.secrets[src]), []byte("guessed-client-state")), b.now)
			} else {
				s.corrupt(req)
			}
			resp, _ = do(t, req)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, 1, b.auditRows(t, audit.ActionWebhookRejected, src, "signature mismatch"))

			// stale or future timestamp → 401. Standard Webhooks and Svix sign a timestamp (both
			// directions checked); Google and Graph notifications carry their channel's or
			// subscription's expiry (an expired one is a replay). Twilio and the Zapier bridges
			// carry no time at all: their replays are absorbed as duplicates.
			switch src {
			case webhook.SourceStandard, webhook.SourceResend:
				for _, ts := range []time.Time{b.now.Add(-6 * time.Minute), b.now.Add(6 * time.Minute)} {
					resp, _ = do(t, s.request(t, 3, s.validBody(3), ts))
					require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				}
				require.Equal(t, 1, b.auditRows(t, audit.ActionWebhookRejected, src, "timestamp too old"))
				require.Equal(t, 1, b.auditRows(t, audit.ActionWebhookRejected, src, "timestamp too far in the future"))
			case webhook.SourceGoogleCalendar:
				req := s.request(t, 3, nil, b.now)
				req.Header.Set("X-Goog-Channel-Expiration", b.now.Add(-6*time.Minute).UTC().Format(http.TimeFormat))
				resp, _ = do(t, req)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, 1, b.auditRows(t, audit.ActionWebhookRejected, src, "channel expired"))
			case webhook.SourceOutlook:
				stale := fmt.Sprintf(`{"value":[{"clientState":%q,"resource":"r","subscriptionExpirationDateTime":%q}]}`,
					b.secrets[src], b.now.Add(-6*time.Minute).UTC().Format(time.RFC3339))
				resp, _ = do(t, s.request(t, 3, []byte(stale), b.now))
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, 1, b.auditRows(t, audit.ActionWebhookRejected, src, "subscription expired"))
			}

			// oversized → 413
			big := s.request(t, 4, bytes.Repeat([]byte("x"), 5000), b.now)
			resp, _ = do(t, big)
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			// also without a Content-Length (chunked)
			chunked := s.request(t, 4, nil, b.now)
			chunked.Body = io.NopCloser(io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("y"), 5000))))
			chunked.ContentLength = -1
			resp, _ = do(t, chunked)
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			require.Equal(t, 2, b.auditRows(t, audit.ActionWebhookRejected, src, "body larger than"))

			// wrong content type → 415
			req = s.request(t, 5, s.validBody(5), b.now)
			req.Header.Set("Content-Type", "text/xml")
			if src == webhook.SourceGoogleCalendar {
				req = s.request(t, 5, []byte("<x/>"), b.now)
				req.Header.Set("Content-Type", "text/xml")
			}
			resp, _ = do(t, req)
			require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
			require.Equal(t, 1, b.auditRows(t, audit.ActionWebhookRejected, src, "content type"))

			// malformed content after a valid signature → 400 and an audit row
			resp, _ = do(t, s.malformedRequest(t, b.now))
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Equal(t, 1, b.auditRows(t, audit.ActionWebhookMalformed, src, ""))

			// Nothing rejected was stored.
			require.Equal(t, 1, b.inboxRows(t, src))

			// flood → 429 with Retry-After: the shared per-second window lets ConnectionRate (2)
			// requests of the connection through per second, across instances.
			const flood = 10
			var (
				mu      sync.Mutex
				limited int
				wg      sync.WaitGroup
			)
			reqs := make([]*http.Request, flood)
			for i := range reqs {
				reqs[i] = s.request(t, 100+i, s.validBody(100+i), b.now)
			}
			start := time.Now()
			for _, r := range reqs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, _ := do(t, r)
					if resp.StatusCode == http.StatusTooManyRequests {
						require.Equal(t, "1", resp.Header.Get("Retry-After"))
						mu.Lock()
						limited++
						mu.Unlock()
					} else {
						require.Contains(t, []int{200, 202}, resp.StatusCode)
					}
				}()
			}
			wg.Wait()
			windows := int(time.Since(start)/time.Second) + 2
			require.GreaterOrEqual(t, limited, flood-2*windows)
			require.Equal(t, 1+flood-limited, b.inboxRows(t, src))
			require.Equal(t, limited, b.auditRows(t, audit.ActionWebhookRejected, src, "rate limit"))

			// No secret in the audit log.
			var auditText string
			require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select string_agg(a::text, ' ') from vendorhub.audit_log a`).Scan(&auditText))
			require.NotContains(t, auditText, b.secrets[src])
		})
	}
}

func TestGraphValidationHandshake(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	s := b.sender(webhook.SourceOutlook)
	token := "Validation: Testing client application reachability for subscription Request-Id: 6d3a-44"
	start := time.Now()
	resp, body := do(t, mustRequest(t, http.MethodPost, s.url()+"?validationToken="+url.QueryEscape(token), "", nil))
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, token, body)
	require.Zero(t, b.inboxRows(t, webhook.SourceOutlook))

	// Unknown connection: no echo.
	resp, _ = do(t, mustRequest(t, http.MethodPost, b.srv.URL+"/webhooks/outlook/00000000-0000-0000-0000-000000000001?validationToken=x", "", nil))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// clientState is checked on every notification of a batch.
	two := fmt.Sprintf(`{"value":[{"clientState":%q,"resource":"a"},{"clientState":"forged","resource":"b"}]}`, b.secrets[webhook.SourceOutlook])
	resp, _ = do(t, s.request(t, 0, []byte(two), b.now))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	missing := fmt.Sprintf(`{"value":[{"clientState":%q,"resource":"a"},{"resource":"b"}]}`, b.secrets[webhook.SourceOutlook])
	resp, _ = do(t, s.request(t, 0, []byte(missing), b.now))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Zero(t, b.inboxRows(t, webhook.SourceOutlook))
}

func TestRoutingRejections(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	s := b.sender(webhook.SourceStandard)
	cases := []struct {
		name   string
		req    *http.Request
		status int
		reason string
	}{
		{"unknown source", mustRequest(t, http.MethodPost, b.srv.URL+"/webhooks/stripe/"+b.conns[webhook.SourceStandard], "application/json", []byte("{}")), 404, "unknown source"},
		{"GET", mustRequest(t, http.MethodGet, s.url(), "", nil), 405, "method GET"},
		{"unknown connection", func() *http.Request {
			s2 := *s
			s2.conn = "00000000-0000-0000-0000-0000000000aa"
			return s2.request(t, 1, s.validBody(1), b.now)
		}(), 404, "unknown connection"},
		{"connection of another kind", func() *http.Request {
			s2 := *s
			s2.conn = b.conns[webhook.SourceDubsado]
			return s2.request(t, 1, s.validBody(1), b.now)
		}(), 404, "another kind"},
		{"not a uuid", func() *http.Request {
			s2 := *s
			s2.conn = "../../etc"
			return s2.request(t, 1, s.validBody(1), b.now)
		}(), 404, "unknown connection"},
		{"missing signature", func() *http.Request {
			r := s.request(t, 1, s.validBody(1), b.now)
			r.Header.Del("webhook-signature")
			return r
		}(), 401, "missing signature header"},
	}
	for _, c := range cases {
		resp, _ := do(t, c.req)
		require.Equal(t, c.status, resp.StatusCode, c.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.audit.Flush(ctx))
	for _, c := range cases {
		require.Equal(t, 1, b.count(t, `select count(*) from vendorhub.audit_log where reason like $1`, "%"+c.reason+"%"), c.name)
	}
	require.Zero(t, b.count(t, `select count(*) from vendorhub.webhook_inbox`))

	// A disabled connection answers 410 Gone (after the cache expires; Forget drops it).
	_, err := b.db.Pool.Exec(ctx, `update public.integration_connections set status = 'disabled' where id = $1`, b.conns[webhook.SourceStandard])
	require.NoError(t, err)
	b.h.Forget(b.conns[webhook.SourceStandard])
	resp, _ := do(t, s.request(t, 9, s.validBody(9), b.now))
	require.Equal(t, http.StatusGone, resp.StatusCode)
}

func TestPerAddressLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{IPRate: 1, IPBurst: 3})
	s := b.sender(webhook.SourceStandard)
	codes := map[int]int{}
	for i := range 6 {
		r := s.request(t, i, s.validBody(i), b.now)
		s.corrupt(r) // even bad requests consume the address's budget
		resp, _ := do(t, r)
		codes[resp.StatusCode]++
	}
	require.Equal(t, 3, codes[http.StatusUnauthorized])
	require.Equal(t, 3, codes[http.StatusTooManyRequests])
	require.Equal(t, 3, b.auditRows(t, audit.ActionWebhookRejected, webhook.SourceStandard, "rate limit: source address"))
}

// The per-connection limit holds across instances: two ingress handlers with generous local
// buckets share the per-second window in Postgres.
func TestConnectionLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{ConnectionRate: 4, ConnectionBurst: 1000, IPRate: -1})
	aud2 := audit.NewBuffer(b.db.Pool, audit.BufferConfig{})
	h2, err := webhook.New(b.db.Pool, b.keyring, aud2, webhook.Config{ConnectionRate: 4, ConnectionBurst: 1000, IPRate: -1,
		Now: func() time.Time { return b.now }})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, h2)
	srv2 := httptest.NewServer(mux)
	t.Cleanup(func() { srv2.Close(); h2.Close(); aud2.Close() })

	s := b.sender(webhook.SourceDubsado)
	const perInstance = 12
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 2 * perInstance {
		req := s.request(t, i, s.validBody(i), b.now)
		if i%2 == 1 { // every other request goes to the second instance
			u, _ := url.Parse(srv2.URL)
			req.URL.Host = u.Host
			req.Host = u.Host
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := do(t, req)
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	windows := int(time.Since(start)/time.Second) + 2 // seconds the burst may have straddled
	require.Equal(t, 2*perInstance, codes[200]+codes[429], "codes %v", codes)
	require.LessOrEqual(t, codes[200], 4*windows, "codes %v", codes)
	require.Less(t, codes[200], 2*perInstance)
	require.Equal(t, codes[200], b.inboxRows(t, webhook.SourceDubsado))
}

func TestSystemConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{SystemConnections: []webhook.SystemConnection{
		{Source: webhook.SourceTwilio, Name: "default", Secret: "hub-auth-token"}}})
	s := b.sender(webhook.SourceTwilio)
	s.conn = "default"
	b.secrets[webhook.SourceTwilio] = "hub-auth-token"
	resp, body := do(t, s.request(t, 1, s.validBody(1), b.now))
	require.Equal(t, 200, resp.StatusCode, body)
	var conn *string
	var payload map[string]any
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `select connection_id::text, payload from vendorhub.webhook_inbox`).Scan(&conn, &payload))
	require.Nil(t, conn)
	require.Equal(t, "delivered", payload["MessageStatus"])

	_, err := webhook.New(b.db.Pool, b.keyring, b.audit, webhook.Config{SystemConnections: []webhook.SystemConnection{
		{Source: webhook.SourceTwilio, Name: "00000000-0000-0000-0000-000000000000", Secret: "x"}}})
	require.Error(t, err)
}

// A stored webhook is processed from the WAL: the inbox insert emits webhook.received.
func TestStoredWebhookEmitsEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	ctx := context.Background()
	slot := fmt.Sprintf("wh_it_%d", time.Now().UnixNano())
	_, err := b.db.Pool.Exec(ctx, `select pg_create_logical_replication_slot($1, 'test_decoding')`, slot)
	require.NoError(t, err)
	s := b.sender(webhook.SourceHoneyBook)
	resp, body := do(t, s.request(t, 1, s.validBody(1), b.now))
	require.Equal(t, 200, resp.StatusCode)
	var stored struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &stored))
	var msgs []string
	rows, err := b.db.Pool.Query(ctx, `select data from pg_logical_slot_get_changes($1, null, null) where data like 'message:%'`, slot)
	require.NoError(t, err)
	for rows.Next() {
		var d string
		require.NoError(t, rows.Scan(&d))
		msgs = append(msgs, d)
	}
	require.NoError(t, rows.Err())
	_, err = b.db.Pool.Exec(ctx, `select pg_drop_replication_slot($1)`, slot)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0], `"webhook.received"`)
	require.Contains(t, msgs[0], stored.ID)
	require.NotContains(t, msgs[0], "Ada", "the event carries ids, not the payload")
}

func mustRequest(t *testing.T, method, u, ct string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	require.NoError(t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return req
}

var _ = pgxpool.Pool{}
