// Package outlook syncs Outlook calendars through Microsoft Graph v1.0 over plain net/http:
// delta queries on /me/calendarView/delta (a time window is required on v1.0; the first round
// pages with @odata.nextLink and ends with an @odata.deltaLink, which the next round follows;
// 410 means the delta state is gone and a new round is due) and change-notification
// subscriptions on me/events, created with a lifecycleNotificationUrl and renewed (PATCH)
// before they expire.
//
// A delta link only ever reports entries of the window its first round asked for,
// [now-WindowPast, now+WindowFuture) at that time. The window's end is kept with the cursor
// (calendar.Cursor.WindowEnd) and the window slides: once it has lost RebaseAfter of its
// future horizon (7 days by default), the next Fetch drops the delta link and starts a new
// full round over a window re-based on now. An entry scheduled beyond the old window's end thus
// shows up within RebaseAfter of coming into the horizon, without waiting for Graph to expire
// the delta state; the cost is one full listing of the window per connection per RebaseAfter.
// A cursor stored without a window end (older rows) is re-based on its next Fetch.
package outlook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/oauth2"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/provider"
)

// Provider is the provider name in errors, metrics and rate limits.
const Provider = "graph"

var metricRebases = promauto.NewCounter(prometheus.CounterOpts{
	Name: "vendorhub_calendar_graph_window_rebases_total",
	Help: "Graph delta rounds restarted because the delta link's calendarView window neared its end.",
})

// Defaults of Source.
const (
	BaseURLDefault      = "https://graph.microsoft.com/v1.0"
	PageSizeDefault     = 50
	TimeoutDefault      = 15 * time.Second
	WindowPastDefault   = 30 * 24 * time.Hour
	WindowFutureDefault = 2 * 365 * 24 * time.Hour
	RebaseAfterDefault  = 7 * 24 * time.Hour
	// ResourceDefault is the subscribed resource.
	ResourceDefault = "me/events"
)

// ErrSubscriptionGone reports a subscription Graph no longer has (404 on renew): create a new one.
var ErrSubscriptionGone = errors.New("outlook: subscription no longer exists")

// Tokens hands out a connection's current access token (oauth.Refresher).
type Tokens interface {
	Token(ctx context.Context, connectionID string) (*oauth2.Token, error)
}

// Source is the calendar.Source of outlook connections, and the client of their subscriptions.
type Source struct {
	// BaseURL is Graph's service root. Defaults to BaseURLDefault.
	BaseURL string
	// Tokens provides access tokens. Required.
	Tokens Tokens
	// HTTPClient sends requests. Defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Limits rate-limits calls under Provider. Defaults to no limit.
	Limits *integration.Limits
	// PageSize is sent as Prefer: odata.maxpagesize. Defaults to PageSizeDefault.
	PageSize int
	// Timeout bounds each call. Defaults to TimeoutDefault.
	Timeout time.Duration
	// WindowPast and WindowFuture bound the calendarView window of a full round, around now.
	// Default to WindowPastDefault and WindowFutureDefault.
	WindowPast, WindowFuture time.Duration
	// RebaseAfter re-bases the window (a new full round) once the delta link's window ends
	// less than WindowFuture - RebaseAfter from now. At least a day, at most WindowFuture.
	// Defaults to RebaseAfterDefault (7 days).
	RebaseAfter time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (s *Source) base() string {
	if s.BaseURL != "" {
		return strings.TrimRight(s.BaseURL, "/")
	}
	return BaseURLDefault
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// do sends one Graph request with the connection's bearer token and decodes a 2xx JSON answer
// into out (when non-nil).
func (s *Source) do(ctx context.Context, conn integration.Connection, op, method, target string, body any, header http.Header, out any) error {
	if s.Tokens == nil {
		return errors.New("outlook: Source.Tokens is nil")
	}
	tok, err := s.Tokens.Token(ctx, conn.ID)
	if err != nil {
		return err
	}
	if err := s.Limits.Wait(ctx, Provider); err != nil {
		return err
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = TimeoutDefault
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, method, target, rd)
	if err != nil {
		return err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	tok.SetAuthHeader(req)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return ctx.Err()
		}
		return provider.Transport(Provider, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return graphError(op, resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
		return &provider.Error{Provider: Provider, Op: op, Status: resp.StatusCode, Message: "malformed JSON answer", Err: err}
	}
	return nil
}

// graphError reads Graph's {"error": {"code", "message"}} body into a *provider.Error; a 410 on
// delta is calendar.ErrCursorExpired.
func graphError(op string, resp *http.Response) error {
	pe := provider.FromResponse(Provider, op, resp)
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(pe.Message), &body) == nil && body.Error.Code != "" {
		pe.Code, pe.Message = body.Error.Code, body.Error.Code+": "+body.Error.Message
	}
	if resp.StatusCode == http.StatusGone {
		return fmt.Errorf("%w (graph: %s)", calendar.ErrCursorExpired, pe.Message)
	}
	return pe
}

type graphDateTime struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type graphEvent struct {
	ID          string          `json:"id"`
	IsAllDay    bool            `json:"isAllDay"`
	IsCancelled bool            `json:"isCancelled"`
	ShowAs      string          `json:"showAs"`
	Start       *graphDateTime  `json:"start"`
	End         *graphDateTime  `json:"end"`
	Removed     json.RawMessage `json:"@removed"`
}

type deltaPage struct {
	Value     []graphEvent `json:"value"`
	NextLink  string       `json:"@odata.nextLink"`
	DeltaLink string       `json:"@odata.deltaLink"`
}

// Rebase reports whether a delta cursor's window must be re-based at now: it has no recorded
// end, or it ends less than WindowFuture - RebaseAfter from now.
func (s *Source) Rebase(cur calendar.Cursor, now time.Time) bool {
	if cur.DeltaLink == "" {
		return false
	}
	if cur.WindowEnd.IsZero() {
		return true
	}
	_, future := s.window()
	after := s.RebaseAfter
	if after <= 0 {
		after = RebaseAfterDefault
	}
	// At least a day: a window's end is truncated to a day, so a fresh window may already
	// have lost up to a day of its horizon.
	after = min(max(after, 24*time.Hour), future)
	return cur.WindowEnd.Before(now.Add(future - after))
}

func (s *Source) window() (past, future time.Duration) {
	past, future = s.WindowPast, s.WindowFuture
	if past <= 0 {
		past = WindowPastDefault
	}
	if future <= 0 {
		future = WindowFutureDefault
	}
	return past, future
}

// Fetch follows cur.DeltaLink (or starts a full round over [now-WindowPast, now+WindowFuture)
// when there is none or its window is due for re-basing) through every @odata.nextLink to the
// @odata.deltaLink, the next cursor, which records the window's end.
func (s *Source) Fetch(ctx context.Context, conn integration.Connection, cur calendar.Cursor) (calendar.Batch, calendar.Cursor, error) {
	now := s.now().UTC()
	link, windowEnd := cur.DeltaLink, cur.WindowEnd
	if s.Rebase(cur, now) {
		link = ""
		metricRebases.Inc()
	}
	batch := calendar.Batch{Full: link == ""}
	if link == "" {
		past, future := s.window()
		start, end := now.Add(-past).Truncate(24*time.Hour), now.Add(future).Truncate(24*time.Hour)
		q := url.Values{}
		q.Set("startDateTime", start.Format(time.RFC3339))
		q.Set("endDateTime", end.Format(time.RFC3339))
		link, windowEnd = s.base()+"/me/calendarView/delta?"+q.Encode(), end
	}
	pageSize := s.PageSize
	if pageSize <= 0 {
		pageSize = PageSizeDefault
	}
	h := http.Header{}
	h.Add("Prefer", "odata.maxpagesize="+strconv.Itoa(pageSize))
	h.Add("Prefer", `outlook.timezone="UTC"`)
	for pages := 0; ; pages++ {
		if pages > 10000 {
			return calendar.Batch{}, cur, &provider.Error{Provider: Provider, Op: "delta", Message: "too many pages"}
		}
		var page deltaPage
		if err := s.do(ctx, conn, "delta", http.MethodGet, link, nil, h, &page); err != nil {
			return calendar.Batch{}, cur, err
		}
		for _, ev := range page.Value {
			c, ok := toChange(ev, conn.Location)
			if !ok {
				batch.Invalid++
				continue
			}
			batch.Changes = append(batch.Changes, c)
		}
		switch {
		case page.NextLink != "":
			link = page.NextLink
		case page.DeltaLink != "":
			return batch, calendar.Cursor{DeltaLink: page.DeltaLink, WindowEnd: windowEnd}, nil
		default:
			return calendar.Batch{}, cur, &provider.Error{Provider: Provider, Op: "delta", Message: "page without nextLink or deltaLink"}
		}
	}
}

// toChange converts a Graph event. Removed, cancelled and free events are deletions.
func toChange(ev graphEvent, vendorLoc *time.Location) (calendar.Change, bool) {
	if ev.ID == "" {
		return calendar.Change{}, false
	}
	if len(ev.Removed) > 0 || ev.IsCancelled || ev.ShowAs == "free" || ev.ShowAs == "workingElsewhere" {
		return calendar.Change{Event: calendar.Event{ExternalID: ev.ID}, Deleted: true}, true
	}
	if ev.Start == nil || ev.End == nil {
		return calendar.Change{}, false
	}
	out := calendar.Event{ExternalID: ev.ID, Tentative: ev.ShowAs == "tentative"}
	if ev.IsAllDay {
		// All-day events are floating dates: the vendor's days.
		sd, _, _ := strings.Cut(ev.Start.DateTime, "T")
		ed, _, _ := strings.Cut(ev.End.DateTime, "T")
		st, en, err := calendar.AllDay(sd, ed, vendorLoc)
		if err != nil {
			return calendar.Change{}, false
		}
		out.Start, out.End, out.AllDay, out.TimeZone = st, en, true, vendorLoc.String()
		return calendar.Change{Event: out}, true
	}
	st, err1 := parseGraphTime(*ev.Start)
	en, err2 := parseGraphTime(*ev.End)
	if err1 != nil || err2 != nil || !en.After(st) {
		return calendar.Change{}, false
	}
	out.Start, out.End, out.TimeZone = st.UTC(), en.UTC(), ev.Start.TimeZone
	return calendar.Change{Event: out}, true
}

// parseGraphTime reads Graph's dateTimeTimeZone ("2026-06-01T10:00:00.0000000" + zone).
func parseGraphTime(d graphDateTime) (time.Time, error) {
	loc := time.UTC
	if d.TimeZone != "" && d.TimeZone != "UTC" {
		l, err := time.LoadLocation(d.TimeZone)
		if err != nil {
			return time.Time{}, fmt.Errorf("outlook: time zone %q: %w", d.TimeZone, err)
		}
		loc = l
	}
	return time.ParseInLocation("2006-01-02T15:04:05.9999999", d.DateTime, loc)
}

// Subscription is a change-notification subscription.
type Subscription struct {
	ID          string    `json:"id"`
	Resource    string    `json:"resource"`
	ClientState string    `json:"clientState"`
	Expiration  time.Time `json:"expirationDateTime"`
}

// Subscribe creates a subscription on me/events for created, updated and deleted events.
// Graph validates both URLs (validationToken handshake) before answering.
func (s *Source) Subscribe(ctx context.Context, conn integration.Connection, notificationURL, lifecycleURL, clientState string, expires time.Time) (Subscription, error) {
	body := map[string]string{
		"changeType": "created,updated,deleted", "notificationUrl": notificationURL,
		"resource": ResourceDefault, "expirationDateTime": expires.UTC().Format(time.RFC3339),
		"clientState": clientState,
	}
	if lifecycleURL != "" {
		body["lifecycleNotificationUrl"] = lifecycleURL
	}
	var sub Subscription
	err := s.do(ctx, conn, "subscriptions.create", http.MethodPost, s.base()+"/subscriptions", body, nil, &sub)
	return sub, err
}

// Renew moves a subscription's expiration (PATCH). A 404 is ErrSubscriptionGone.
func (s *Source) Renew(ctx context.Context, conn integration.Connection, id string, expires time.Time) (Subscription, error) {
	var sub Subscription
	err := s.do(ctx, conn, "subscriptions.renew", http.MethodPatch, s.base()+"/subscriptions/"+url.PathEscape(id),
		map[string]string{"expirationDateTime": expires.UTC().Format(time.RFC3339)}, nil, &sub)
	return sub, goneOn404(err)
}

// Reauthorize answers a reauthorizationRequired lifecycle notification.
func (s *Source) Reauthorize(ctx context.Context, conn integration.Connection, id string) error {
	return goneOn404(s.do(ctx, conn, "subscriptions.reauthorize", http.MethodPost, s.base()+"/subscriptions/"+url.PathEscape(id)+"/reauthorize", nil, nil, nil))
}

// Unsubscribe deletes a subscription; one already gone counts as deleted.
func (s *Source) Unsubscribe(ctx context.Context, conn integration.Connection, id string) error {
	err := goneOn404(s.do(ctx, conn, "subscriptions.delete", http.MethodDelete, s.base()+"/subscriptions/"+url.PathEscape(id), nil, nil, nil))
	if errors.Is(err, ErrSubscriptionGone) {
		return nil
	}
	return err
}

func goneOn404(err error) error {
	var pe *provider.Error
	if errors.As(err, &pe) && pe.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %s", ErrSubscriptionGone, pe.Message)
	}
	return err
}
