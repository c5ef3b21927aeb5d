// Package google syncs Google calendars with google.golang.org/api/calendar/v3: a full
// listing first, then incremental rounds from the nextSyncToken of the last page (deletions
// arrive as status "cancelled"); a 410 answer means the token expired and a full sync is due.
// Push notifications come through watch channels, which never renew themselves: a new channel
// is created before the old one expires, then the old one is stopped.
package google

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/provider"
)

// Provider is the provider name in errors, metrics and rate limits.
const Provider = "google"

// Defaults of Source.
const (
	// PageSizeDefault is maxResults per events.list page (Google's default is 250).
	PageSizeDefault = 250
	// TimeoutDefault bounds each API call.
	TimeoutDefault = 15 * time.Second
	// CalendarDefault is the calendar synced when the connection's config names none.
	CalendarDefault = "primary"
)

// Tokens hands out a connection's current access token, refreshing it when due
// (oauth.Refresher).
type Tokens interface {
	Token(ctx context.Context, connectionID string) (*oauth2.Token, error)
}

// Source is the calendar.Source of google_calendar connections. The calendar id comes from the
// connection's config key "calendar_id" (default "primary").
type Source struct {
	// Endpoint is the API base URL, e.g. "https://www.googleapis.com/calendar/v3/". Defaults
	// to the SDK's own.
	Endpoint string
	// Tokens provides access tokens. Required.
	Tokens Tokens
	// HTTPClient is the base client (its transport gets the bearer token). Defaults to a
	// client with http.DefaultTransport.
	HTTPClient *http.Client
	// Limits rate-limits calls under Provider. Defaults to no limit.
	Limits *integration.Limits
	// PageSize is maxResults per page. Defaults to PageSizeDefault.
	PageSize int64
	// Timeout bounds each call. Defaults to TimeoutDefault.
	Timeout time.Duration
}

func (s *Source) service(ctx context.Context, conn integration.Connection) (*gcal.Service, error) {
	if s.Tokens == nil {
		return nil, errors.New("google: Source.Tokens is nil")
	}
	tok, err := s.Tokens.Token(ctx, conn.ID)
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport
	if s.HTTPClient != nil && s.HTTPClient.Transport != nil {
		base = s.HTTPClient.Transport
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(tok), Base: base}}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if s.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(s.Endpoint))
	}
	svc, err := gcal.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google: calendar service: %w", err)
	}
	return svc, nil
}

func (s *Source) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return TimeoutDefault
}

func calendarID(conn integration.Connection) string {
	if id := conn.Setting("calendar_id"); id != "" {
		return id
	}
	return CalendarDefault
}

// Fetch lists changes since cur.SyncToken (everything when empty), following pageToken to the
// last page, whose nextSyncToken becomes the next cursor.
func (s *Source) Fetch(ctx context.Context, conn integration.Connection, cur calendar.Cursor) (calendar.Batch, calendar.Cursor, error) {
	svc, err := s.service(ctx, conn)
	if err != nil {
		return calendar.Batch{}, cur, err
	}
	batch := calendar.Batch{Full: cur.SyncToken == ""}
	pageSize := s.PageSize
	if pageSize <= 0 {
		pageSize = PageSizeDefault
	}
	calID := calendarID(conn)
	pageToken := ""
	for {
		if err := s.Limits.Wait(ctx, Provider); err != nil {
			return calendar.Batch{}, cur, err
		}
		call := svc.Events.List(calID).MaxResults(pageSize).SingleEvents(true)
		if cur.SyncToken != "" {
			call = call.SyncToken(cur.SyncToken)
		}
		if pageToken != "" {
			call = call.PageToken(pageToken)
		}
		cctx, cancel := context.WithTimeout(ctx, s.timeout())
		page, err := call.Context(cctx).Do()
		cancel()
		if err != nil {
			return calendar.Batch{}, cur, classify("events.list", err)
		}
		for _, it := range page.Items {
			c, ok := toChange(it, conn.Location)
			if !ok {
				batch.Invalid++
				continue
			}
			batch.Changes = append(batch.Changes, c)
		}
		if page.NextPageToken != "" {
			pageToken = page.NextPageToken
			continue
		}
		if page.NextSyncToken == "" {
			return calendar.Batch{}, cur, &provider.Error{Provider: Provider, Op: "events.list", Message: "last page without nextSyncToken"}
		}
		return batch, calendar.Cursor{SyncToken: page.NextSyncToken}, nil
	}
}

// toChange converts a Google event. Cancelled and transparent (free) events are deletions.
func toChange(it *gcal.Event, vendorLoc *time.Location) (calendar.Change, bool) {
	if it == nil || it.Id == "" {
		return calendar.Change{}, false
	}
	if it.Status == "cancelled" || it.Transparency == "transparent" {
		return calendar.Change{Event: calendar.Event{ExternalID: it.Id}, Deleted: true}, true
	}
	if it.Start == nil || it.End == nil {
		return calendar.Change{}, false
	}
	ev := calendar.Event{ExternalID: it.Id, Tentative: it.Status == "tentative", TimeZone: it.Start.TimeZone}
	if it.Start.Date != "" {
		s, e, err := calendar.AllDay(it.Start.Date, it.End.Date, vendorLoc)
		if err != nil {
			return calendar.Change{}, false
		}
		ev.Start, ev.End, ev.AllDay = s, e, true
		ev.TimeZone = vendorLoc.String()
		return calendar.Change{Event: ev}, true
	}
	s, err1 := time.Parse(time.RFC3339, it.Start.DateTime)
	e, err2 := time.Parse(time.RFC3339, it.End.DateTime)
	if err1 != nil || err2 != nil || !e.After(s) {
		return calendar.Change{}, false
	}
	ev.Start, ev.End = s.UTC(), e.UTC()
	return calendar.Change{Event: ev}, true
}

// classify maps SDK errors: 410 → calendar.ErrCursorExpired, otherwise a
// *provider.Error (429, 403 rate limits and 5xx retryable, with Retry-After).
func classify(op string, err error) error {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		if gerr.Code == http.StatusGone {
			return fmt.Errorf("%w (google: %s)", calendar.ErrCursorExpired, gerr.Message)
		}
		retryable := provider.RetryableStatus(gerr.Code)
		limited := gerr.Code == http.StatusTooManyRequests
		for _, e := range gerr.Errors {
			if e.Reason == "rateLimitExceeded" || e.Reason == "userRateLimitExceeded" {
				retryable, limited = true, true
			}
		}
		return &provider.Error{Provider: Provider, Op: op, Status: gerr.Code, Retryable: retryable, RateLimited: limited,
			RetryAfter: provider.RetryAfterHeader(gerr.Header, time.Now()), Message: gerr.Message}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return provider.Transport(Provider, op, err)
}

// Channel is a watch channel.
type Channel struct {
	ID, ResourceID string
	Expiration     time.Time
}

// Watch opens a push channel on the connection's calendar: Google POSTs to address with
// X-Goog-Channel-Token = token on every change. ttl 0 means Google's default (7 days).
func (s *Source) Watch(ctx context.Context, conn integration.Connection, channelID, address, token string, ttl time.Duration) (Channel, error) {
	svc, err := s.service(ctx, conn)
	if err != nil {
		return Channel{}, err
	}
	if err := s.Limits.Wait(ctx, Provider); err != nil {
		return Channel{}, err
	}
	ch := &gcal.Channel{Id: channelID, Type: "web_hook", Address: address, Token: token}
	if ttl > 0 {
		ch.Params = map[string]string{"ttl": fmt.Sprint(int64(ttl / time.Second))}
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	got, err := svc.Events.Watch(calendarID(conn), ch).Context(cctx).Do()
	if err != nil {
		return Channel{}, classify("events.watch", err)
	}
	return Channel{ID: got.Id, ResourceID: got.ResourceId, Expiration: time.UnixMilli(got.Expiration).UTC()}, nil
}

// Stop stops a channel. A channel Google no longer knows (404) counts as stopped.
func (s *Source) Stop(ctx context.Context, conn integration.Connection, channelID, resourceID string) error {
	svc, err := s.service(ctx, conn)
	if err != nil {
		return err
	}
	if err := s.Limits.Wait(ctx, Provider); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	err = svc.Channels.Stop(&gcal.Channel{Id: channelID, ResourceId: resourceID}).Context(cctx).Do()
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return classify("channels.stop", err)
	}
	return nil
}
