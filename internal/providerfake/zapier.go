package providerfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ZapierBridge sends what a vendor's Zap sends to vendorhub: a CRM trigger (HoneyBook or
// Dubsado) followed by the "Webhooks by Zapier" POST action, with payload type json, the
// static headers the Zap template sets (the per-connection secret) and Zapier's User-Agent.
// It is a client, not a server: Target is the vendorhub ingress URL.
type ZapierBridge struct {
	// Target is the ingress URL, e.g. http://127.0.0.1:54380/webhooks/dubsado/<connection>.
	Target string
	// Header holds the Zap's static headers, e.g. the connection secret.
	Header http.Header
	// Client sends the requests. Defaults to http.DefaultClient.
	Client *http.Client
}

// Send POSTs payload (marshalled as JSON) and returns the status code and body.
func (z *ZapierBridge) Send(ctx context.Context, payload any) (int, []byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.Target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range z.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Zapier")
	c := z.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, nil
}

// ZapierCatchHook fakes "Webhooks by Zapier" Catch Hook triggers: the URLs a Zap listens on,
// POST /hooks/catch/{account}/{hook}/, answering 200 {"status":"success", "attempt", "id",
// "request_id"} as Zapier does. vendorhub's signed outbound events land here and feed Zapier
// actions such as Dubsado's "Create Project" (a new inquiry in the hub becomes a lead).
//
// Zapier itself accepts any request; a Zap that cares checks the Standard Webhooks signature
// in a code step. The fake does that check for the test with the secrets given to SetSecrets
// (the same verifier as WebhookReceiver, written from the specification) and records the
// outcome in ZapierCatch.Verified, without changing its answer.
type ZapierCatchHook struct {
	Base

	mu      sync.Mutex
	catches []ZapierCatch
	secrets [][]byte
}

// ZapierCatch is one request a catch hook accepted.
type ZapierCatch struct {
	Account, Hook string
	Header        http.Header
	Body          []byte
	// Verified is true when the request carries a valid Standard Webhooks signature under one
	// of the hook's secrets; Problem says why not.
	Verified bool
	Problem  string
}

// SetSecrets sets the "whsec_…" secrets the Zap's signature check accepts.
func (z *ZapierCatchHook) SetSecrets(secrets ...string) {
	keys := standardKeys(secrets)
	z.mu.Lock()
	z.secrets = keys
	z.mu.Unlock()
}

// NewZapierCatchHook starts the fake.
func NewZapierCatchHook() *ZapierCatchHook {
	z := &ZapierCatchHook{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/catch/{account}/{hook}/", z.catch)
	mux.HandleFunc("POST /hooks/catch/{account}/{hook}", z.catch)
	z.start(mux)
	return z
}

// HookURL is the catch URL for account and hook.
func (z *ZapierCatchHook) HookURL(account, hook string) string {
	return fmt.Sprintf("%s/hooks/catch/%s/%s/", z.URL(), account, hook)
}

// Catches returns the accepted requests.
func (z *ZapierCatchHook) Catches() []ZapierCatch {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]ZapierCatch(nil), z.catches...)
}

func (z *ZapierCatchHook) catch(w http.ResponseWriter, r *http.Request) {
	if ft, ok := z.Next(); ok {
		WriteFault(w, r, ft, "application/json", `{"status":"error"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") && !strings.Contains(ct, "form") && !strings.Contains(ct, "text") {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	z.mu.Lock()
	c := ZapierCatch{Account: r.PathValue("account"), Hook: r.PathValue("hook"), Header: r.Header.Clone(), Body: body}
	c.Verified, c.Problem = verifyStandard(z.secrets, time.Now(), r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
		r.Header.Get("webhook-signature"), body)
	z.catches = append(z.catches, c)
	n := len(z.catches)
	z.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"attempt": fmt.Sprintf("attempt-%d", n), "id": fmt.Sprintf("catch-%d", n),
		"request_id": fmt.Sprintf("req-%d", n), "status": "success",
	})
}
