// Package providerfake holds local HTTP fakes of the third-party APIs vendorhub calls
// (FCM, Resend, Twilio, Google Calendar, Microsoft Graph, Zapier, Light Blue, Supabase
// Realtime's REST broadcast) and receives from. Each fake follows its provider's documented
// behaviour — status codes, error bodies, 429 with Retry-After, signatures — and is the only
// fake of that provider in the tree: tests, benchmarks and `vendorhub dev` all reuse it.
//
// Every fake embeds Base: a loopback server, a request Recorder and a queue of Faults a test
// can push to make the next requests fail in a documented way.
package providerfake

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one request a fake received.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	At     time.Time
}

// Recorder keeps the requests a fake received, safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	reqs    []Request
	changed chan struct{}
}

// Record stores r (its body is read and replaced so handlers can read it again) and returns the body.
func (rec *Recorder) Record(r *http.Request) []byte {
	req := capture(r)
	rec.add(req)
	return req.Body
}

// capture reads r's body, puts it back for the handler, and returns the request's record.
func capture(r *http.Request) Request {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, At: time.Now()}
}

// add appends req and wakes WaitFor callers.
func (rec *Recorder) add(req Request) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, req)
	if rec.changed != nil {
		close(rec.changed)
		rec.changed = nil
	}
	rec.mu.Unlock()
}

// Requests returns a copy of every request recorded so far.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// Len is the number of requests recorded so far.
func (rec *Recorder) Len() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// WaitFor blocks until at least n requests have been recorded or ctx ends, without polling.
func (rec *Recorder) WaitFor(ctx context.Context, n int) ([]Request, error) {
	for {
		rec.mu.Lock()
		if len(rec.reqs) >= n {
			out := append([]Request(nil), rec.reqs...)
			rec.mu.Unlock()
			return out, nil
		}
		if rec.changed == nil {
			rec.changed = make(chan struct{})
		}
		ch := rec.changed
		rec.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return rec.Requests(), ctx.Err()
		}
	}
}

// Fault is a scripted answer that replaces a fake's normal response.
type Fault struct {
	// Status is the HTTP status to answer with.
	Status int
	// RetryAfter, when non-zero, is sent as a Retry-After header in whole seconds.
	RetryAfter time.Duration
	// Header holds extra response headers.
	Header http.Header
	// Body is the response body; fakes fill in their provider's documented error body when empty.
	Body string
	// Delay holds the response back, to simulate a slow or hanging provider.
	Delay time.Duration
}

// Faults is a FIFO of scripted faults, plus an optional fault applied to every request.
type Faults struct {
	mu     sync.Mutex
	queue  []Fault
	always *Fault
}

// Push queues faults for the next requests, one each.
func (f *Faults) Push(faults ...Fault) {
	f.mu.Lock()
	f.queue = append(f.queue, faults...)
	f.mu.Unlock()
}

// Always makes every request answer with fault until Clear is called.
func (f *Faults) Always(fault Fault) {
	f.mu.Lock()
	f.always = &fault
	f.mu.Unlock()
}

// Clear drops every queued and standing fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	f.queue, f.always = nil, nil
	f.mu.Unlock()
}

// Next pops the next fault, if any.
func (f *Faults) Next() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) > 0 {
		ft := f.queue[0]
		f.queue = f.queue[1:]
		return ft, true
	}
	if f.always != nil {
		return *f.always, true
	}
	return Fault{}, false
}

// Base is embedded by every fake: a loopback server, a recorder, scripted faults and an
// optional injected latency.
type Base struct {
	Recorder
	Faults
	srv     *httptest.Server
	latency atomic.Pointer[Latency]
}

// Latency makes a fake behave like a provider across a network: every answer is held back by
// a delay drawn uniformly from [Min, Max], and after it a share of requests is answered with
// 503 (Err5xx) or 429 with Retry-After: 1 (Err429) instead of the fake's own answer. The
// benchmarks use it; tests that need a particular failure use Faults.
type Latency struct {
	Min, Max       time.Duration
	Err5xx, Err429 float64 // shares of requests, 0..1
}

// SetLatency injects l into every later request (the zero Latency turns it off).
func (b *Base) SetLatency(l Latency) { b.latency.Store(&l) }

// inject applies the injected latency; it reports false when it answered the request itself
// (an injected error) or the client left during the delay.
func (b *Base) inject(w http.ResponseWriter, r *http.Request) bool {
	l := b.latency.Load()
	if l == nil || (l.Max <= 0 && l.Err5xx <= 0 && l.Err429 <= 0) {
		return true
	}
	d := l.Min
	if l.Max > l.Min {
		d += rand.N(l.Max - l.Min + 1)
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return false
		}
	}
	switch x := rand.Float64(); {
	case x < l.Err5xx:
		http.Error(w, "injected: service unavailable", http.StatusServiceUnavailable)
		return false
	case x < l.Err5xx+l.Err429:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "injected: too many requests", http.StatusTooManyRequests)
		return false
	}
	return true
}

// start serves h on a free 127.0.0.1 port. Every request is recorded on arrival, before h
// answers it, so a test can wait for a request that is still hanging on a Delay fault; state a
// fake keeps of what it accepted (e.g. FCM.Sent) may lag the recorder by that one answer.
func (b *Base) start(h http.Handler) {
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.Record(r)
		if b.inject(w, r) {
			h.ServeHTTP(w, r)
		}
	}))
}

// URL is the fake's base URL, e.g. http://127.0.0.1:41234.
func (b *Base) URL() string { return b.srv.URL }

// Close stops the server.
func (b *Base) Close() { b.srv.Close() }

// WriteFault writes ft, using defaultBody when ft.Body is empty. It reports false when the
// request's context ended during ft.Delay.
func WriteFault(w http.ResponseWriter, r *http.Request, ft Fault, contentType, defaultBody string) bool {
	if ft.Delay > 0 {
		select {
		case <-time.After(ft.Delay):
		case <-r.Context().Done():
			return false
		}
	}
	for k, vs := range ft.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if ft.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ft.RetryAfter+time.Second-1)/time.Second)))
	}
	body := ft.Body
	if body == "" {
		body = defaultBody
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(ft.Status)
	_, _ = io.WriteString(w, body)
	return true
}
