package providerfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WebhookReceiver is a vendor's endpoint for vendorhub's outbound webhooks. It checks every
// request's Standard Webhooks signature with its own verifier (written from the specification,
// sharing no code with vendorhub's signer): HMAC-SHA256 of "id.timestamp.body" under the
// base64 secret after "whsec_", any "v1," entry of the space-separated webhook-signature
// header, timestamp within 5 minutes. Verified requests answer 200, others 401, unless a
// scripted Fault (410, 5xx, a delay) answers instead.
type WebhookReceiver struct {
	Base

	mu       sync.Mutex
	secrets  [][]byte
	received []ReceivedWebhook
	now      func() time.Time
}

// ReceivedWebhook is one request the receiver got.
type ReceivedWebhook struct {
	ID        string // webhook-id
	Timestamp string // webhook-timestamp as sent
	Body      []byte
	Verified  bool   // the signature checked out under one of the receiver's secrets
	Problem   string // why not, when not
	Status    int    // what the receiver answered (0: the sender left before the answer)
}

// NewWebhookReceiver starts a receiver accepting signatures under any of secrets ("whsec_…").
func NewWebhookReceiver(secrets ...string) *WebhookReceiver {
	r := &WebhookReceiver{now: time.Now}
	r.SetSecrets(secrets...)
	r.start(http.HandlerFunc(r.serve))
	return r
}

// SetSecrets replaces the secrets the receiver accepts (a vendor updating its configuration).
func (r *WebhookReceiver) SetSecrets(secrets ...string) {
	keys := standardKeys(secrets)
	r.mu.Lock()
	r.secrets = keys
	r.mu.Unlock()
}

// standardKeys decodes "whsec_<base64>" secrets, skipping malformed ones.
func standardKeys(secrets []string) [][]byte {
	keys := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		if k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_")); err == nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// SetClock replaces the clock the timestamp check uses.
func (r *WebhookReceiver) SetClock(now func() time.Time) {
	r.mu.Lock()
	r.now = now
	r.mu.Unlock()
}

// Received returns every request so far, in arrival order.
func (r *WebhookReceiver) Received() []ReceivedWebhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReceivedWebhook(nil), r.received...)
}

// Accepted returns, per webhook-id, how many verified requests were answered 2xx.
func (r *WebhookReceiver) Accepted() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, w := range r.received {
		if w.Verified && w.Status >= 200 && w.Status < 300 {
			out[w.ID]++
		}
	}
	return out
}

func (r *WebhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body) // Base recorded the request and left a fresh copy of the body
	rw := ReceivedWebhook{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"), Body: body}
	rw.Verified, rw.Problem = r.verify(rw.ID, rw.Timestamp, req.Header.Get("webhook-signature"), rw.Body)
	ft, faulted := r.Next()
	if faulted {
		rw.Status = ft.Status
		if !WriteFault(w, req, ft, "application/json", `{"error":"scripted"}`) {
			rw.Status = 0 // the sender went away before the answer
		}
	} else {
		rw.Status = http.StatusUnauthorized
		answer := `{"error":"` + rw.Problem + `"}`
		if rw.Verified {
			rw.Status, answer = http.StatusOK, `{"ok":true}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rw.Status)
		_, _ = w.Write([]byte(answer))
	}
	r.mu.Lock()
	r.received = append(r.received, rw)
	r.mu.Unlock()
}

func (r *WebhookReceiver) verify(id, ts, sigHeader string, body []byte) (bool, string) {
	r.mu.Lock()
	now, keys := r.now(), r.secrets
	r.mu.Unlock()
	return verifyStandard(keys, now, id, ts, sigHeader, body)
}

// verifyStandard checks a Standard Webhooks signature, from the specification: HMAC-SHA256
// under one of keys of "id.timestamp.body", any "v1," entry of sigHeader, timestamp within 5
// minutes of now. It returns why not, when not.
func verifyStandard(keys [][]byte, now time.Time, id, ts, sigHeader string, body []byte) (bool, string) {
	if id == "" || ts == "" || sigHeader == "" {
		return false, "missing webhook headers"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false, "bad timestamp"
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false, "timestamp outside tolerance"
	}
	signed := id + "." + ts + "." + string(body)
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(signed))
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		for _, got := range strings.Fields(sigHeader) {
			if hmac.Equal([]byte(got), []byte(want)) {
				return true, ""
			}
		}
	}
	return false, "no valid signature"
}
