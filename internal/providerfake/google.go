package providerfake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wedsync/vendorhub/internal/calendar/ical"
)

// GoogleCalendar fakes the parts of the Google Calendar API v3 vendorhub uses, at
// <URL>/calendar/v3/ (point the SDK there with option.WithEndpoint(URL()+"/calendar/v3/")):
//
//   - GET  calendars/{calendarId}/events: full listing and incremental sync. nextSyncToken is on
//     the last page only; pageToken pages; syncToken returns changes since the token, deletions
//     included as status "cancelled"; an expired or unknown syncToken answers 410 fullSyncRequired.
//     timeMin/timeMax (RFC 3339 with offset, else 400) keep events ending after timeMin and
//     starting before timeMax; a sync token remembers the window of its full sync (Google
//     refuses timeMin/timeMax beside syncToken). Recurring events (GoogleEvent.Recurrence) come
//     back as the series with its "recurrence" lines, or with singleEvents=true as instances
//     (id "<series>_<start>", recurringEventId, originalStartTime), expanded by the project's
//     own RFC 5545 code (internal/calendar/ical) up to timeMax, or two years ahead without one.
//   - POST calendars/{calendarId}/events/watch: push channels (id unique, type web_hook, token,
//     params.ttl default 604800 s); the answer carries resourceId and expiration in ms.
//   - POST channels/stop.
//   - POST /token: the OAuth token endpoint (see OAuthTokens; Google does not rotate refresh
//     tokens unless Tokens.Rotate is set).
//
// Push notifications are sent by Notify, with Google's X-Goog-* headers and an empty body.
type GoogleCalendar struct {
	Base
	// Tokens is the OAuth token endpoint's state.
	Tokens *OAuthTokens
	// RequireAuth makes the Calendar API answer 401 to requests without a live access token.
	RequireAuth bool

	mu        sync.Mutex
	seq       int64
	calendars map[string]map[string]*googleStored
	syncToks  map[string]googleSyncState
	channels  map[string]*GoogleChannel
	msgNum    map[string]int
	lists     int
}

// GoogleEvent is an event as the fake stores it. Timed events set Start/End; all-day events
// set StartDate/EndDate ("2006-01-02", end exclusive).
type GoogleEvent struct {
	ID          string
	Summary     string
	Status      string // confirmed (default), tentative, cancelled
	Start, End  time.Time
	StartDate   string
	EndDate     string
	TimeZone    string
	Transparent bool
	// Recurrence holds RFC 5545 RRULE, EXDATE and RDATE lines, as the API's "recurrence" field.
	Recurrence []string
}

// GoogleChannel is a watch channel the fake created.
type GoogleChannel struct {
	ID, ResourceID, CalendarID, Address, Token string
	Expiration                                 time.Time
	Stopped                                    bool
}

type googleStored struct {
	ev      GoogleEvent
	seq     int64
	deleted bool
	updated time.Time
}

type googleSyncState struct {
	calendar string
	seq      int64
	window   googleWindow // of the full sync that led to the token
}

// googleWindow is events.list's timeMin/timeMax; zero times are unbounded.
type googleWindow struct{ min, max time.Time }

// NewGoogleCalendar starts the fake.
func NewGoogleCalendar() *GoogleCalendar {
	g := &GoogleCalendar{
		Tokens:    newOAuthTokens(),
		calendars: map[string]map[string]*googleStored{},
		syncToks:  map[string]googleSyncState{},
		channels:  map[string]*GoogleChannel{},
		msgNum:    map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		g.Tokens.serveToken(w, r, "Token has been expired or revoked.")
	})
	mux.HandleFunc("GET /calendar/v3/calendars/{calendarId}/events", g.api(g.list))
	mux.HandleFunc("POST /calendar/v3/calendars/{calendarId}/events/watch", g.api(g.watch))
	mux.HandleFunc("POST /calendar/v3/channels/stop", g.api(g.stop))
	g.start(mux)
	return g
}

// TokenURL is the OAuth token endpoint.
func (g *GoogleCalendar) TokenURL() string { return g.URL() + "/token" }

// Endpoint is the value for option.WithEndpoint.
func (g *GoogleCalendar) Endpoint() string { return g.URL() + "/calendar/v3/" }

// ListCalls counts events.list requests answered with 200.
func (g *GoogleCalendar) ListCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lists
}

// Put creates or updates an event; it becomes a change for every older sync token.
func (g *GoogleCalendar) Put(calendarID string, ev GoogleEvent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cal := g.calendars[calendarID]
	if cal == nil {
		cal = map[string]*googleStored{}
		g.calendars[calendarID] = cal
	}
	g.seq++
	if ev.Status == "" {
		ev.Status = "confirmed"
	}
	cal[ev.ID] = &googleStored{ev: ev, seq: g.seq, updated: time.Now().UTC()}
}

// Delete cancels an event: incremental syncs see it with status "cancelled".
func (g *GoogleCalendar) Delete(calendarID, eventID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.calendars[calendarID][eventID]; s != nil {
		g.seq++
		s.seq, s.deleted, s.updated = g.seq, true, time.Now().UTC()
	}
}

// ExpireSyncTokens invalidates every sync token issued so far, as Google does after a while
// or for internal reasons; the next incremental sync answers 410.
func (g *GoogleCalendar) ExpireSyncTokens() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.syncToks = map[string]googleSyncState{}
}

// Channels returns the channels created so far.
func (g *GoogleCalendar) Channels() []GoogleChannel {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]GoogleChannel, 0, len(g.channels))
	for _, c := range g.channels {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Expiration.Before(out[j].Expiration) })
	return out
}

// Notify sends a push notification for channelID with resource state ("sync", "exists" or
// "not_exists"), as Google does, and returns the receiver's status code.
func (g *GoogleCalendar) Notify(ctx context.Context, channelID, state string) (int, error) {
	g.mu.Lock()
	c, ok := g.channels[channelID]
	if !ok {
		g.mu.Unlock()
		return 0, fmt.Errorf("providerfake: google: no channel %q", channelID)
	}
	ch := *c
	n := g.msgNum[channelID] + 1
	g.msgNum[channelID] = n
	g.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.Address, http.NoBody)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Goog-Channel-ID", ch.ID)
	if ch.Token != "" {
		req.Header.Set("X-Goog-Channel-Token", ch.Token)
	}
	req.Header.Set("X-Goog-Channel-Expiration", ch.Expiration.UTC().Format(http.TimeFormat))
	req.Header.Set("X-Goog-Resource-ID", ch.ResourceID)
	req.Header.Set("X-Goog-Resource-URI", g.Endpoint()+"calendars/"+url.PathEscape(ch.CalendarID)+"/events?alt=json")
	req.Header.Set("X-Goog-Resource-State", state)
	req.Header.Set("X-Goog-Message-Number", strconv.Itoa(n))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// api wraps a Calendar API handler with scripted faults and the bearer check.
func (g *GoogleCalendar) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ft, ok := g.Next(); ok {
			WriteFault(w, r, ft, "application/json; charset=UTF-8", googleErrorBody(ft.Status, googleReason(ft.Status), http.StatusText(ft.Status)))
			return
		}
		if g.RequireAuth && !g.Tokens.ValidAccess(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
			googleError(w, http.StatusUnauthorized, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
			return
		}
		h(w, r)
	}
}

func googleReason(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rateLimitExceeded"
	case status == http.StatusForbidden:
		return "rateLimitExceeded"
	case status >= 500:
		return "backendError"
	case status == http.StatusGone:
		return "fullSyncRequired"
	default:
		return "badRequest"
	}
}

func googleErrorBody(code int, reason, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"errors": []map[string]string{{"domain": "global", "reason": reason, "message": msg}},
	}})
	return string(b)
}

func googleError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(googleErrorBody(code, reason, msg)))
}

type googlePage struct {
	Mode   string `json:"m"` // "full" or "inc"
	From   int64  `json:"f"` // exclusive lower seq bound (inc)
	Snap   int64  `json:"s"` // inclusive upper seq bound
	Offset int    `json:"o"`
	Cal    string `json:"c"`
}

func (g *GoogleCalendar) list(w http.ResponseWriter, r *http.Request) {
	calID := r.PathValue("calendarId")
	q := r.URL.Query()
	max := 250
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			googleError(w, http.StatusBadRequest, "invalid", "Invalid value for maxResults")
			return
		}
		max = min(n, 2500)
	}
	syncTok, pageTok := q.Get("syncToken"), q.Get("pageToken")
	single := q.Get("singleEvents") == "true"
	var win googleWindow
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"timeMin", &win.min}, {"timeMax", &win.max}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				googleError(w, http.StatusBadRequest, "badRequest", "Bad Request")
				return
			}
			*b.dst = t
		}
	}
	if syncTok != "" {
		for _, p := range []string{"iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin"} {
			if q.Has(p) {
				googleError(w, http.StatusBadRequest, "invalid", "Invalid combination of parameters: syncToken and "+p)
				return
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var page googlePage
	switch {
	case pageTok != "":
		raw, err := base64.RawURLEncoding.DecodeString(pageTok)
		if err != nil || json.Unmarshal(raw, &page) != nil || page.Cal != calID {
			googleError(w, http.StatusBadRequest, "invalid", "Invalid page token value.")
			return
		}
	case syncTok != "":
		st, ok := g.syncToks[syncTok]
		if !ok || st.calendar != calID {
			googleError(w, http.StatusGone, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
			return
		}
		page = googlePage{Mode: "inc", From: st.seq, Snap: g.seq, Cal: calID}
		win = st.window
	default:
		page = googlePage{Mode: "full", Snap: g.seq, Cal: calID}
	}
	showDeleted := page.Mode == "inc" || q.Get("showDeleted") == "true"
	var items []*googleStored
	for _, s := range g.calendars[calID] {
		if s.seq > page.Snap || s.seq <= page.From {
			continue
		}
		if s.deleted && !showDeleted {
			continue
		}
		items = append(items, s)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	var all []map[string]any
	for _, s := range items {
		all = append(all, googleListed(s, single, win)...)
	}
	end := min(page.Offset+max, len(all))
	out := all[min(page.Offset, len(all)):end]
	resp := map[string]any{
		"kind": "calendar#events", "summary": calID, "timeZone": "UTC",
		"updated": time.Now().UTC().Format(time.RFC3339Nano), "accessRole": "owner",
		"items": out,
	}
	if end < len(all) {
		next := page
		next.Offset = end
		b, _ := json.Marshal(next)
		resp["nextPageToken"] = base64.RawURLEncoding.EncodeToString(b)
	} else {
		tok := randomToken("st-")
		g.syncToks[tok] = googleSyncState{calendar: calID, seq: page.Snap, window: win}
		resp["nextSyncToken"] = tok
	}
	g.lists++
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(resp)
}

// googleListed is what events.list returns for s: the event itself (recurring: the series with
// its recurrence lines) or, with singleEvents, its instances; only what overlaps win.
func googleListed(s *googleStored, single bool, win googleWindow) []map[string]any {
	ev := s.ev
	if len(ev.Recurrence) == 0 || !single {
		start, end := googleSpan(ev)
		outside := (!win.min.IsZero() && !end.After(win.min)) || (!win.max.IsZero() && !start.Before(win.max))
		if outside && len(ev.Recurrence) == 0 { // a series is listed whole
			return nil
		}
		m := googleEventJSON(s)
		if len(ev.Recurrence) > 0 && !s.deleted {
			m["recurrence"] = ev.Recurrence
		}
		return []map[string]any{m}
	}
	to := win.max
	if to.IsZero() {
		to = time.Now().AddDate(2, 0, 0)
	}
	res, err := ical.Parse(context.Background(), strings.NewReader(googleICS(ev)), win.min, to, time.UTC)
	if err != nil {
		return nil
	}
	instances := res.Events
	out := make([]map[string]any, 0, len(instances))
	for _, in := range instances {
		inst := *s
		inst.ev.Recurrence = nil
		inst.ev.Start, inst.ev.End = in.Start, in.End
		suffix := in.Start.UTC().Format("20060102T150405Z")
		orig := map[string]string{"dateTime": in.Start.In(googleZone(ev)).Format(time.RFC3339), "timeZone": ev.TimeZone}
		if ev.StartDate != "" {
			inst.ev.StartDate, inst.ev.EndDate = in.Start.Format("2006-01-02"), in.End.Format("2006-01-02")
			suffix = in.Start.Format("20060102")
			orig = map[string]string{"date": inst.ev.StartDate}
		}
		inst.ev.ID = ev.ID + "_" + suffix
		m := googleEventJSON(&inst)
		m["recurringEventId"] = ev.ID
		m["originalStartTime"] = orig
		out = append(out, m)
	}
	return out
}

// googleZone is ev's time zone (UTC when unset or unknown).
func googleZone(ev GoogleEvent) *time.Location {
	if l, err := time.LoadLocation(ev.TimeZone); err == nil && ev.TimeZone != "" {
		return l
	}
	return time.UTC
}

// googleSpan is ev's start and end (all-day dates at UTC midnight, the fake's calendar zone).
func googleSpan(ev GoogleEvent) (time.Time, time.Time) {
	if ev.StartDate != "" {
		s, _ := time.Parse("2006-01-02", ev.StartDate)
		e, _ := time.Parse("2006-01-02", ev.EndDate)
		return s, e
	}
	return ev.Start, ev.End
}

// googleICS renders a recurring event as one VEVENT for internal/calendar/ical to expand.
func googleICS(ev GoogleEvent) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//vendorhub//providerfake//EN\r\nBEGIN:VEVENT\r\n")
	b.WriteString("UID:" + ev.ID + "\r\nDTSTAMP:20000101T000000Z\r\n")
	switch {
	case ev.StartDate != "":
		s, e := googleSpan(ev)
		b.WriteString("DTSTART;VALUE=DATE:" + s.Format("20060102") + "\r\nDTEND;VALUE=DATE:" + e.Format("20060102") + "\r\n")
	case ev.TimeZone != "":
		loc := googleZone(ev)
		b.WriteString("DTSTART;TZID=" + ev.TimeZone + ":" + ev.Start.In(loc).Format("20060102T150405") + "\r\n")
		b.WriteString("DTEND;TZID=" + ev.TimeZone + ":" + ev.End.In(loc).Format("20060102T150405") + "\r\n")
	default:
		b.WriteString("DTSTART:" + ev.Start.UTC().Format("20060102T150405Z") + "\r\nDTEND:" + ev.End.UTC().Format("20060102T150405Z") + "\r\n")
	}
	for _, line := range ev.Recurrence {
		b.WriteString(line + "\r\n")
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

func googleEventJSON(s *googleStored) map[string]any {
	ev := s.ev
	status := ev.Status
	if s.deleted {
		status = "cancelled"
	}
	m := map[string]any{"kind": "calendar#event", "id": ev.ID, "status": status,
		"updated": s.updated.Format(time.RFC3339Nano), "etag": fmt.Sprintf(`"%d"`, s.seq)}
	if s.deleted {
		return m // deleted events carry only id and status, as Google's incremental sync does
	}
	m["summary"] = ev.Summary
	if ev.Transparent {
		m["transparency"] = "transparent"
	}
	if ev.StartDate != "" {
		m["start"] = map[string]string{"date": ev.StartDate}
		m["end"] = map[string]string{"date": ev.EndDate}
		return m
	}
	loc := googleZone(ev)
	m["start"] = map[string]string{"dateTime": ev.Start.In(loc).Format(time.RFC3339), "timeZone": ev.TimeZone}
	m["end"] = map[string]string{"dateTime": ev.End.In(loc).Format(time.RFC3339), "timeZone": ev.TimeZone}
	return m
}

func (g *GoogleCalendar) watch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID      string            `json:"id"`
		Type    string            `json:"type"`
		Address string            `json:"address"`
		Token   string            `json:"token"`
		Params  map[string]string `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		googleError(w, http.StatusBadRequest, "parseError", "Parse Error")
		return
	}
	if req.ID == "" || len(req.ID) > 64 {
		googleError(w, http.StatusBadRequest, "required", "Channel id must be 1 to 64 characters.")
		return
	}
	if req.Type != "web_hook" && req.Type != "webhook" {
		googleError(w, http.StatusBadRequest, "invalid", "Invalid value for type.")
		return
	}
	u, err := url.Parse(req.Address)
	// Google requires https; the fake also accepts plain http on loopback for local tests.
	if err != nil || !(u.Scheme == "https" || (u.Scheme == "http" && strings.HasPrefix(u.Host, "127.0.0.1"))) {
		googleError(w, http.StatusBadRequest, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS: "+req.Address)
		return
	}
	ttl := 604800 * time.Second
	if s := req.Params["ttl"]; s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			googleError(w, http.StatusBadRequest, "invalid", "Invalid ttl.")
			return
		}
		ttl = time.Duration(n) * time.Second
	}
	calID := r.PathValue("calendarId")
	g.mu.Lock()
	if _, dup := g.channels[req.ID]; dup {
		g.mu.Unlock()
		googleError(w, http.StatusBadRequest, "channelIdNotUnique", "Channel id "+req.ID+" not unique")
		return
	}
	ch := &GoogleChannel{ID: req.ID, ResourceID: "res-" + calID, CalendarID: calID, Address: req.Address,
		Token: req.Token, Expiration: time.Now().Add(ttl).Truncate(time.Millisecond)}
	g.channels[req.ID] = ch
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "api#channel", "id": ch.ID, "resourceId": ch.ResourceID,
		"resourceUri": g.Endpoint() + "calendars/" + url.PathEscape(calID) + "/events?alt=json",
		"token":       ch.Token, "expiration": strconv.FormatInt(ch.Expiration.UnixMilli(), 10),
	})
}

func (g *GoogleCalendar) stop(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID         string `json:"id"`
		ResourceID string `json:"resourceId"`
	}
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(r.Body)
	if err := json.Unmarshal(body.Bytes(), &req); err != nil {
		googleError(w, http.StatusBadRequest, "parseError", "Parse Error")
		return
	}
	g.mu.Lock()
	ch, ok := g.channels[req.ID]
	if !ok || ch.ResourceID != req.ResourceID {
		g.mu.Unlock()
		googleError(w, http.StatusNotFound, "notFound", "Channel '"+req.ID+"' not found for project")
		return
	}
	ch.Stopped = true
	g.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
