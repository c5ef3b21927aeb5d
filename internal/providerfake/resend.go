package providerfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resend fakes the Resend email API as github.com/resend/resend-go/v2 calls it when its
// Client.BaseURL is URL()+"/": POST /emails with a bearer API key.
//
// Documented behaviour (https://resend.com/docs/api-reference, .../idempotency-keys):
// 200 {"id": "<uuid>"}; 401 missing_api_key / 403 invalid_api_key; 422 validation_error for
// a missing from/to/subject or a malformed address; Idempotency-Key (≤ 256 chars, else 400
// invalid_idempotency_key): the same key with the same body answers the first id again and
// sends nothing; the same key with another body answers 409 invalid_idempotent_request; a
// key whose first request is still in flight answers 409 concurrent_idempotent_requests.
// 429 faults carry ratelimit-limit/-remaining/-reset and retry-after headers.
type Resend struct {
	Base
	// APIKey is the bearer key the fake accepts; every key is accepted when empty.
	APIKey string

	mu    sync.Mutex
	keys  map[string]*resendKey
	sent  []ResendEmail
	seq   int
	hold  chan string
	relse chan struct{}
}

type resendKey struct {
	body     []byte
	id       string
	inFlight bool
}

// ResendEmail is one email the fake accepted (sent once, whatever the retries).
type ResendEmail struct {
	ID             string
	IdempotencyKey string
	From           string
	To             []string
	Subject        string
	Text           string
	HTML           string
}

// NewResend starts a Resend fake on 127.0.0.1 accepting apiKey ("" accepts any key).
func NewResend(apiKey string) *Resend {
	f := &Resend{APIKey: apiKey, keys: map[string]*resendKey{}}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// Sent returns the emails accepted so far: one per distinct send, in order.
func (f *Resend) Sent() []ResendEmail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ResendEmail(nil), f.sent...)
}

// Hold makes the fake accept (and count as sent) each following email, announce its id on
// the returned channel, and then hold the response until release is called or the client
// goes away — the window in which a crashed sender has sent but not recorded.
func (f *Resend) Hold() (accepted <-chan string, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = make(chan string, 16)
	f.relse = make(chan struct{})
	rel := f.relse
	var once sync.Once
	return f.hold, func() {
		once.Do(func() {
			f.mu.Lock()
			f.hold = nil
			f.mu.Unlock()
			close(rel)
		})
	}
}

func resendErrorBody(status int, name, msg string) string {
	b, _ := json.Marshal(map[string]any{"statusCode": status, "name": name, "message": msg})
	return string(b)
}

func resendWriteJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *Resend) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/emails" {
		resendWriteJSON(w, http.StatusNotFound, resendErrorBody(404, "not_found", "The requested endpoint does not exist."))
		return
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") || auth == "Bearer " {
		resendWriteJSON(w, http.StatusUnauthorized, resendErrorBody(401, "missing_api_key", "Missing API key in the authorization header."))
		return
	}
	if f.APIKey != "" && auth != "Bearer "+f.APIKey {
		resendWriteJSON(w, http.StatusForbidden, resendErrorBody(403, "invalid_api_key", "API key is invalid."))
		return
	}
	if ft, ok := f.Next(); ok {
		if ft.Status == http.StatusTooManyRequests {
			if ft.Header == nil {
				ft.Header = http.Header{}
			}
			ft.Header.Set("ratelimit-limit", "2")
			ft.Header.Set("ratelimit-remaining", "0")
			ft.Header.Set("ratelimit-reset", strconv.Itoa(int((ft.RetryAfter+time.Second-1)/time.Second)))
		}
		WriteFault(w, r, ft, "application/json", resendFaultBody(ft.Status))
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		From    string          `json:"from"`
		To      json.RawMessage `json:"to"`
		Subject string          `json:"subject"`
		Text    string          `json:"text"`
		HTML    string          `json:"html"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		resendWriteJSON(w, http.StatusUnprocessableEntity, resendErrorBody(422, "validation_error", "Invalid JSON body."))
		return
	}
	to, err := resendRecipients(req.To)
	switch {
	case req.From == "":
		resendWriteJSON(w, 422, resendErrorBody(422, "validation_error", "Missing `from` field."))
		return
	case err != nil:
		resendWriteJSON(w, 422, resendErrorBody(422, "validation_error", err.Error()))
		return
	case req.Subject == "":
		resendWriteJSON(w, 422, resendErrorBody(422, "validation_error", "Missing `subject` field."))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 256 {
		resendWriteJSON(w, 400, resendErrorBody(400, "invalid_idempotency_key", "The key must be between 1-256 chars."))
		return
	}
	f.mu.Lock()
	if k, ok := f.keys[key]; ok && key != "" {
		switch {
		case !bytes.Equal(k.body, body):
			f.mu.Unlock()
			resendWriteJSON(w, 409, resendErrorBody(409, "invalid_idempotent_request",
				"Same idempotency key used with a different request payload. Change your idempotency key or payload."))
		case k.inFlight:
			f.mu.Unlock()
			resendWriteJSON(w, 409, resendErrorBody(409, "concurrent_idempotent_requests",
				"Same idempotency key used while original request is still in progress. Try the request again later."))
		default:
			id := k.id
			f.mu.Unlock()
			resendWriteJSON(w, 200, fmt.Sprintf(`{"id":%q}`, id))
		}
		return
	}
	f.seq++
	id := fmt.Sprintf("4ef9a417-02e9-4d39-ad75-%012d", f.seq)
	k := &resendKey{body: body, id: id, inFlight: true}
	if key != "" {
		f.keys[key] = k
	}
	f.sent = append(f.sent, ResendEmail{ID: id, IdempotencyKey: key, From: req.From, To: to, Subject: req.Subject, Text: req.Text, HTML: req.HTML})
	hold, rel := f.hold, f.relse
	f.mu.Unlock()
	if hold != nil {
		hold <- id
		select {
		case <-rel:
		case <-r.Context().Done():
		}
	}
	f.mu.Lock()
	k.inFlight = false
	f.mu.Unlock()
	resendWriteJSON(w, 200, fmt.Sprintf(`{"id":%q}`, id))
}

func resendFaultBody(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return resendErrorBody(429, "rate_limit_exceeded", "Too many requests. You can only make 2 requests per second.")
	case http.StatusUnprocessableEntity:
		return resendErrorBody(422, "validation_error", "Invalid `to` field.")
	case http.StatusConflict:
		return resendErrorBody(409, "concurrent_idempotent_requests", "Same idempotency key used while original request is still in progress.")
	default:
		return resendErrorBody(status, "application_error", "Something went wrong while processing your request.")
	}
}

// resendRecipients accepts "to" as a string or a list of 1..50 addresses.
func resendRecipients(raw json.RawMessage) ([]string, error) {
	var to []string
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("Missing `to` field.")
	}
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		to = []string{s}
	} else if err := json.Unmarshal(raw, &to); err != nil {
		return nil, fmt.Errorf("Invalid `to` field.")
	}
	if len(to) == 0 || len(to) > 50 {
		return nil, fmt.Errorf("Invalid `to` field: between 1 and 50 recipients.")
	}
	for _, a := range to {
		at := strings.LastIndexByte(a, '@')
		if at < 1 || at == len(a)-1 || strings.ContainsAny(a, " \t\r\n") {
			return nil, fmt.Errorf("Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.")
		}
	}
	return to, nil
}
