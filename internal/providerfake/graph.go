package providerfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Graph fakes the Microsoft Graph v1.0 endpoints vendorhub uses for Outlook calendars, at
// <URL>/v1.0:
//
//   - GET me/calendarView/delta?startDateTime&endDateTime: the first round pages with
//     @odata.nextLink ($skiptoken) and ends with @odata.deltaLink ($deltatoken); following the
//     deltaLink returns changes since, deletions as {"id", "@removed": {"reason": "deleted"}}.
//     Query parameters are only accepted on the first call. Prefer: odata.maxpagesize=N sets
//     the page size (default 10); Prefer: outlook.timezone="X" the time zone of dateTime values
//     (default UTC). An unknown or expired delta token answers 410 syncStateNotFound.
//   - POST subscriptions: validates notificationUrl (and lifecycleNotificationUrl) by POSTing
//     ?validationToken=… and requiring 200 with the token echoed as text/plain within 10 s;
//     expirationDateTime must be within MaxLifetime (raised to 45 minutes when shorter).
//   - PATCH subscriptions/{id} (renew), DELETE subscriptions/{id}, POST subscriptions/{id}/reauthorize.
//   - POST /{tenant}/oauth2/v2.0/token: Microsoft identity's token endpoint; refresh tokens
//     rotate on every use (Tokens.Rotate defaults to true).
//
// Change and lifecycle notifications are sent by Notify and Lifecycle.
type Graph struct {
	Base
	// Tokens is the token endpoint's state.
	Tokens *OAuthTokens
	// RequireAuth makes Graph answer 401 to requests without a live access token.
	RequireAuth bool
	// MaxLifetime caps subscription expirationDateTime (10,080 minutes for Outlook events). Set it
	// before use, or with SetMaxLifetime while requests may run.
	MaxLifetime time.Duration
	// ValidationTimeout bounds the validation handshake (10 s, as documented).
	ValidationTimeout time.Duration

	mu      sync.Mutex
	seq     int64
	events  map[string]*graphStored
	deltas  map[string]graphDelta
	subs    map[string]*GraphSubscription
	nextSub int
}

// GraphEvent is an event as the fake stores it; Start/End are instants (for all-day events,
// midnights in TimeZone).
type GraphEvent struct {
	ID        string
	Subject   string
	Start     time.Time
	End       time.Time
	AllDay    bool
	ShowAs    string // busy (default), free, tentative, oof, workingElsewhere
	Cancelled bool
	TimeZone  string // IANA zone the event was created in; all-day events are midnights there
}

// GraphSubscription is a subscription the fake holds.
type GraphSubscription struct {
	ID, Resource, ChangeType, ClientState     string
	NotificationURL, LifecycleNotificationURL string
	Expiration                                time.Time
	Reauthorized                              int
	Renewed                                   int
}

type graphStored struct {
	ev      GraphEvent
	seq     int64
	deleted bool
}

type graphDelta struct {
	From, Snap int64
	WinStart   time.Time
	WinEnd     time.Time
	Offset     int
}

// NewGraph starts the fake.
func NewGraph() *Graph {
	g := &Graph{
		Tokens:            newOAuthTokens(),
		MaxLifetime:       10080 * time.Minute,
		ValidationTimeout: 10 * time.Second,
		events:            map[string]*graphStored{},
		deltas:            map[string]graphDelta{},
		subs:              map[string]*GraphSubscription{},
	}
	g.Tokens.Rotate = true
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		g.Tokens.serveToken(w, r, "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.")
	})
	mux.HandleFunc("GET /v1.0/me/calendarView/delta", g.api(g.delta))
	mux.HandleFunc("POST /v1.0/subscriptions", g.api(g.createSub))
	mux.HandleFunc("PATCH /v1.0/subscriptions/{id}", g.api(g.renewSub))
	mux.HandleFunc("DELETE /v1.0/subscriptions/{id}", g.api(g.deleteSub))
	mux.HandleFunc("POST /v1.0/subscriptions/{id}/reauthorize", g.api(g.reauthorize))
	g.start(mux)
	return g
}

// BaseURL is Graph's service root, e.g. http://127.0.0.1:1234/v1.0.
func (g *Graph) BaseURL() string { return g.URL() + "/v1.0" }

// TokenURL is the token endpoint for tenant "common".
func (g *Graph) TokenURL() string { return g.URL() + "/common/oauth2/v2.0/token" }

// Put creates or updates an event.
func (g *Graph) Put(ev GraphEvent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	if ev.ShowAs == "" {
		ev.ShowAs = "busy"
	}
	g.events[ev.ID] = &graphStored{ev: ev, seq: g.seq}
}

// Delete removes an event; delta rounds report it with @removed.
func (g *Graph) Delete(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.events[id]; s != nil {
		g.seq++
		s.seq, s.deleted = g.seq, true
	}
}

// ExpireDeltaTokens invalidates every delta and skip token issued so far.
func (g *Graph) ExpireDeltaTokens() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deltas = map[string]graphDelta{}
}

// Subscriptions returns a copy of the live subscriptions.
func (g *Graph) Subscriptions() []GraphSubscription {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]GraphSubscription, 0, len(g.subs))
	for _, s := range g.subs {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (g *Graph) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ft, ok := g.Next(); ok {
			code := map[int]string{429: "TooManyRequests", 503: "serviceNotAvailable", 504: "gatewayTimeout"}[ft.Status]
			if code == "" {
				code = "generalException"
			}
			WriteFault(w, r, ft, "application/json", graphErrorBody(code, http.StatusText(ft.Status)))
			return
		}
		if g.RequireAuth && !g.Tokens.ValidAccess(r) {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
			return
		}
		h(w, r)
	}
}

func graphErrorBody(code, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"date": time.Now().UTC().Format(time.RFC3339), "request-id": randomToken("")}}})
	return string(b)
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, graphErrorBody(code, msg))
}

// preferValue extracts a preference from Prefer headers, e.g. odata.maxpagesize=5.
func preferValue(h http.Header, name string) string {
	for _, v := range h.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(k, name) {
				return strings.Trim(val, `"`)
			}
		}
	}
	return ""
}

func (g *Graph) delta(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pageSize := 10
	if s := preferValue(r.Header, "odata.maxpagesize"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			pageSize = n
		}
	}
	loc := time.UTC
	if tz := preferValue(r.Header, "outlook.timezone"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			graphError(w, http.StatusBadRequest, "ErrorTimeZoneNotSupported", "Time zone "+tz+" is not supported.")
			return
		}
		loc = l
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var st graphDelta
	switch {
	case q.Has("$skiptoken") || q.Has("$deltatoken"):
		tok := q.Get("$skiptoken") + q.Get("$deltatoken")
		s, ok := g.deltas[tok]
		if !ok {
			graphError(w, http.StatusGone, "syncStateNotFound", "The sync state generation is not found. Please restart the sync.")
			return
		}
		st = s
		if q.Has("$deltatoken") {
			st = graphDelta{From: s.Snap, Snap: g.seq, WinStart: s.WinStart, WinEnd: s.WinEnd}
		}
	default:
		ws, err1 := time.Parse(time.RFC3339, q.Get("startDateTime"))
		we, err2 := time.Parse(time.RFC3339, q.Get("endDateTime"))
		if err1 != nil || err2 != nil {
			graphError(w, http.StatusBadRequest, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
			return
		}
		st = graphDelta{Snap: g.seq, WinStart: ws, WinEnd: we}
	}
	var items []*graphStored
	for _, s := range g.events {
		if s.seq > st.Snap || s.seq <= st.From {
			continue
		}
		if s.deleted && st.From == 0 {
			continue // the first round lists only what exists
		}
		if !s.deleted && !(s.ev.Start.Before(st.WinEnd) && s.ev.End.After(st.WinStart)) {
			continue
		}
		items = append(items, s)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	end := min(st.Offset+pageSize, len(items))
	value := make([]map[string]any, 0, end-st.Offset)
	for _, s := range items[min(st.Offset, len(items)):end] {
		value = append(value, graphEventJSON(s, loc))
	}
	resp := map[string]any{"@odata.context": g.BaseURL() + "/$metadata#Collection(event)", "value": value}
	tok := randomToken("")
	if end < len(items) {
		next := st
		next.Offset = end
		g.deltas[tok] = next
		resp["@odata.nextLink"] = g.BaseURL() + "/me/calendarView/delta?$skiptoken=" + tok
	} else {
		g.deltas[tok] = graphDelta{From: st.From, Snap: st.Snap, WinStart: st.WinStart, WinEnd: st.WinEnd}
		resp["@odata.deltaLink"] = g.BaseURL() + "/me/calendarView/delta?$deltatoken=" + tok
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	if loc != time.UTC {
		w.Header().Set("Preference-Applied", `outlook.timezone="`+loc.String()+`"`)
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func graphEventJSON(s *graphStored, loc *time.Location) map[string]any {
	if s.deleted {
		return map[string]any{"@odata.type": "#microsoft.graph.event", "id": s.ev.ID, "@removed": map[string]string{"reason": "deleted"}}
	}
	ev := s.ev
	const layout = "2006-01-02T15:04:05.0000000"
	start, end := ev.Start.In(loc).Format(layout), ev.End.In(loc).Format(layout)
	if ev.AllDay {
		// All-day events are floating midnights: Graph returns the dates at 00:00 in the
		// requested time zone.
		evLoc := time.UTC
		if ev.TimeZone != "" {
			if l, err := time.LoadLocation(ev.TimeZone); err == nil {
				evLoc = l
			}
		}
		start = ev.Start.In(evLoc).Format("2006-01-02") + "T00:00:00.0000000"
		end = ev.End.In(evLoc).Format("2006-01-02") + "T00:00:00.0000000"
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.event", "@odata.etag": fmt.Sprintf(`W/"%d"`, s.seq),
		"id": ev.ID, "subject": ev.Subject, "isAllDay": ev.AllDay, "isCancelled": ev.Cancelled,
		"showAs": ev.ShowAs, "type": "singleInstance",
		"start": map[string]string{"dateTime": start, "timeZone": loc.String()},
		"end":   map[string]string{"dateTime": end, "timeZone": loc.String()},
	}
}

func (g *Graph) subJSON(s *GraphSubscription) map[string]any {
	m := map[string]any{
		"@odata.context": g.BaseURL() + "/$metadata#subscriptions/$entity",
		"id":             s.ID, "resource": s.Resource, "changeType": s.ChangeType,
		"clientState": s.ClientState, "notificationUrl": s.NotificationURL,
		"expirationDateTime":        s.Expiration.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"applicationId":             "00000000-0000-0000-0000-0000000000aa",
		"latestSupportedTlsVersion": "v1_2",
	}
	if s.LifecycleNotificationURL != "" {
		m["lifecycleNotificationUrl"] = s.LifecycleNotificationURL
	}
	return m
}

// SetMaxLifetime changes MaxLifetime safely while requests may run.
func (g *Graph) SetMaxLifetime(d time.Duration) {
	g.mu.Lock()
	g.MaxLifetime = d
	g.mu.Unlock()
}

func (g *Graph) checkExpiration(raw string) (time.Time, string) {
	exp, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, "expirationDateTime is not a valid DateTimeOffset."
	}
	g.mu.Lock()
	maxLife := g.MaxLifetime
	g.mu.Unlock()
	now := time.Now()
	if exp.After(now.Add(maxLife)) {
		return time.Time{}, fmt.Sprintf("Subscription expiration can only be %d minutes in the future.", int(maxLife/time.Minute))
	}
	if exp.Before(now.Add(45 * time.Minute)) {
		exp = now.Add(45 * time.Minute)
	}
	return exp, ""
}

// validate performs Graph's validation handshake against target.
func (g *Graph) validate(ctx context.Context, target string) error {
	tok := "Validation: Testing client application reachability for subscription Request-Id: " + randomToken("")
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("validationToken", tok)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, g.ValidationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return fmt.Errorf("content type %q", ct)
	}
	if string(body) != tok {
		return fmt.Errorf("response does not echo validationToken")
	}
	return nil
}

func (g *Graph) createSub(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ChangeType               string `json:"changeType"`
		NotificationURL          string `json:"notificationUrl"`
		LifecycleNotificationURL string `json:"lifecycleNotificationUrl"`
		Resource                 string `json:"resource"`
		ExpirationDateTime       string `json:"expirationDateTime"`
		ClientState              string `json:"clientState"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		graphError(w, http.StatusBadRequest, "BadRequest", "Invalid JSON body.")
		return
	}
	if req.Resource == "" || req.ChangeType == "" || req.NotificationURL == "" {
		graphError(w, http.StatusBadRequest, "InvalidRequest", "resource, changeType and notificationUrl are required.")
		return
	}
	if len(req.ClientState) > 128 {
		graphError(w, http.StatusBadRequest, "InvalidRequest", "clientState must be at most 128 characters.")
		return
	}
	exp, msg := g.checkExpiration(req.ExpirationDateTime)
	if msg != "" {
		graphError(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	for _, target := range []string{req.NotificationURL, req.LifecycleNotificationURL} {
		if target == "" {
			continue
		}
		if err := g.validate(r.Context(), target); err != nil {
			graphError(w, http.StatusBadRequest, "ValidationError", "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request: "+err.Error())
			return
		}
	}
	g.mu.Lock()
	g.nextSub++
	s := &GraphSubscription{ID: fmt.Sprintf("sub-%04d-%s", g.nextSub, randomToken("")[:8]), Resource: req.Resource,
		ChangeType: req.ChangeType, ClientState: req.ClientState, NotificationURL: req.NotificationURL,
		LifecycleNotificationURL: req.LifecycleNotificationURL, Expiration: exp}
	g.subs[s.ID] = s
	body := g.subJSON(s)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(body)
}

func (g *Graph) renewSub(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ExpirationDateTime string `json:"expirationDateTime"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		graphError(w, http.StatusBadRequest, "BadRequest", "Invalid JSON body.")
		return
	}
	exp, msg := g.checkExpiration(req.ExpirationDateTime)
	if msg != "" {
		graphError(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	g.mu.Lock()
	s, ok := g.subs[r.PathValue("id")]
	if !ok || time.Now().After(s.Expiration) {
		g.mu.Unlock()
		graphError(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
		return
	}
	s.Expiration = exp
	s.Renewed++
	body := g.subJSON(s)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (g *Graph) deleteSub(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	_, ok := g.subs[r.PathValue("id")]
	delete(g.subs, r.PathValue("id"))
	g.mu.Unlock()
	if !ok {
		graphError(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (g *Graph) reauthorize(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	s, ok := g.subs[r.PathValue("id")]
	if ok {
		s.Reauthorized++
	}
	g.mu.Unlock()
	if !ok {
		graphError(w, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (g *Graph) post(ctx context.Context, target string, payload any) (int, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Notify sends a change notification (changeType created, updated or deleted) for eventID to
// the subscription's notificationUrl and returns the receiver's status code.
func (g *Graph) Notify(ctx context.Context, subID, changeType, eventID string) (int, error) {
	g.mu.Lock()
	s, ok := g.subs[subID]
	if !ok {
		g.mu.Unlock()
		return 0, fmt.Errorf("providerfake: graph: no subscription %q", subID)
	}
	sub := *s
	g.mu.Unlock()
	res := "Users/00000000-0000-0000-0000-000000000001/Events/" + eventID
	return g.post(ctx, sub.NotificationURL, map[string]any{"value": []map[string]any{{
		"subscriptionId": sub.ID, "subscriptionExpirationDateTime": sub.Expiration.UTC().Format(time.RFC3339Nano),
		"changeType": changeType, "resource": res, "clientState": sub.ClientState,
		"tenantId":     "00000000-0000-0000-0000-0000000000tt",
		"resourceData": map[string]string{"@odata.type": "#Microsoft.Graph.Event", "@odata.id": res, "id": eventID},
	}}})
}

// Lifecycle sends a lifecycle notification (reauthorizationRequired, subscriptionRemoved or
// missed) to the subscription's lifecycleNotificationUrl. subscriptionRemoved also removes it.
func (g *Graph) Lifecycle(ctx context.Context, subID, lifecycleEvent string) (int, error) {
	g.mu.Lock()
	s, ok := g.subs[subID]
	if !ok {
		g.mu.Unlock()
		return 0, fmt.Errorf("providerfake: graph: no subscription %q", subID)
	}
	sub := *s
	if lifecycleEvent == "subscriptionRemoved" {
		delete(g.subs, subID)
	}
	g.mu.Unlock()
	if sub.LifecycleNotificationURL == "" {
		return 0, fmt.Errorf("providerfake: graph: subscription %q has no lifecycleNotificationUrl", subID)
	}
	return g.post(ctx, sub.LifecycleNotificationURL, map[string]any{"value": []map[string]any{{
		"subscriptionId": sub.ID, "subscriptionExpirationDateTime": sub.Expiration.UTC().Format(time.RFC3339Nano),
		"tenantId": "00000000-0000-0000-0000-0000000000tt", "clientState": sub.ClientState,
		"lifecycleEvent": lifecycleEvent,
	}}})
}
