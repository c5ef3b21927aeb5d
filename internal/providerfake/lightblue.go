package providerfake

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// LightBlue fakes Light Blue's online services as vendorhub uses them:
//
//   - POST /api.php: the inbound-only HTTP POST API (form fields key, type=contact form, and
//     enquiry fields such as ContactNameFull, ContactEmail, Message, ShootDate, Reference). The
//     body answers a status code: "0" stored, "-3" unsupported type, "-4" duplicate (the same
//     ID/Reference was sent before for that key). A wrong or missing API key answers 401 with
//     "-1", and scripted faults give 429 (Retry-After) or 5xx.
//   - GET /calendar/{feed}.ics: the password-protected iCalendar feed of shoots (HTTP Basic;
//     a feed published with an empty user name is public),
//     with ETag and Last-Modified; If-None-Match / If-Modified-Since answer 304.
type LightBlue struct {
	Base

	mu        sync.Mutex
	keys      map[string]bool
	refs      map[string]bool
	enquiries []LightBlueEnquiry
	feeds     map[string]*lightBlueFeed
	feedGets  int
	notMod    int
}

// LightBlueEnquiry is one enquiry the API stored.
type LightBlueEnquiry struct {
	Key    string
	Fields url.Values
}

type lightBlueFeed struct {
	user, pass string
	body       []byte
	etag       string
	modified   time.Time
}

// NewLightBlue starts the fake.
func NewLightBlue() *LightBlue {
	lb := &LightBlue{keys: map[string]bool{}, refs: map[string]bool{}, feeds: map[string]*lightBlueFeed{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api.php", lb.api)
	mux.HandleFunc("GET /calendar/{feed}", lb.feed)
	lb.start(mux)
	return lb
}

// APIURL is the enquiry endpoint.
func (lb *LightBlue) APIURL() string { return lb.URL() + "/api.php" }

// AddAPIKey makes key a valid API key (as a vendor's Light Blue account has).
func (lb *LightBlue) AddAPIKey(key string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.keys[key] = true
}

// Enquiries returns the enquiries stored so far.
func (lb *LightBlue) Enquiries() []LightBlueEnquiry {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return append([]LightBlueEnquiry(nil), lb.enquiries...)
}

// FeedStats returns how many feed requests were answered with a body and with 304.
func (lb *LightBlue) FeedStats() (full, notModified int) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.feedGets, lb.notMod
}

// SetFeed publishes ics as feed name (password protected with user/pass) and returns its URL.
// Changing the content changes the ETag and Last-Modified.
func (lb *LightBlue) SetFeed(name, user, pass, ics string) string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	sum := sha256.Sum256([]byte(ics))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	f := lb.feeds[name]
	if f == nil || f.etag != etag {
		// Last-Modified has one-second resolution; keep it strictly increasing per feed.
		mod := time.Now().UTC().Truncate(time.Second)
		if f != nil && !mod.After(f.modified) {
			mod = f.modified.Add(time.Second)
		}
		lb.feeds[name] = &lightBlueFeed{user: user, pass: pass, body: []byte(ics), etag: etag, modified: mod}
	}
	return lb.URL() + "/calendar/" + name + ".ics"
}

func (lb *LightBlue) api(w http.ResponseWriter, r *http.Request) {
	if ft, ok := lb.Next(); ok {
		WriteFault(w, r, ft, "text/plain; charset=utf-8", http.StatusText(ft.Status))
		return
	}
	reply := func(status int, code string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, code)
	}
	if err := r.ParseForm(); err != nil {
		reply(http.StatusBadRequest, "-2")
		return
	}
	key := r.PostForm.Get("key")
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if !lb.keys[key] {
		reply(http.StatusUnauthorized, "-1")
		return
	}
	if r.PostForm.Get("type") != "contact form" {
		reply(http.StatusOK, "-3")
		return
	}
	ref := r.PostForm.Get("Reference")
	if ref == "" {
		ref = r.PostForm.Get("ID")
	}
	if ref != "" {
		if lb.refs[key+"\x00"+ref] {
			reply(http.StatusOK, "-4")
			return
		}
		lb.refs[key+"\x00"+ref] = true
	}
	fields := url.Values{}
	for k, v := range r.PostForm {
		if k != "key" {
			fields[k] = v
		}
	}
	lb.enquiries = append(lb.enquiries, LightBlueEnquiry{Key: key, Fields: fields})
	reply(http.StatusOK, "0")
}

func (lb *LightBlue) feed(w http.ResponseWriter, r *http.Request) {
	if ft, ok := lb.Next(); ok {
		WriteFault(w, r, ft, "text/plain; charset=utf-8", http.StatusText(ft.Status))
		return
	}
	name := r.PathValue("feed")
	if len(name) > 4 && name[len(name)-4:] == ".ics" {
		name = name[:len(name)-4]
	}
	lb.mu.Lock()
	f, ok := lb.feeds[name]
	var cp lightBlueFeed
	if ok {
		cp = *f
	}
	lb.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	u, p, basic := r.BasicAuth()
	if cp.user != "" && (!basic || subtle.ConstantTimeCompare([]byte(u), []byte(cp.user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(cp.pass)) != 1) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Light Blue calendar"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("ETag", cp.etag)
	w.Header().Set("Last-Modified", cp.modified.Format(http.TimeFormat))
	notModified := false
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		notModified = inm == cp.etag
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !cp.modified.After(t) {
			notModified = true
		}
	}
	lb.mu.Lock()
	if notModified {
		lb.notMod++
	} else {
		lb.feedGets++
	}
	lb.mu.Unlock()
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	_, _ = w.Write(cp.body)
}
