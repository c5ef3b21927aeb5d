package ical

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/provider"
)

// Defaults of Source.
const (
	TimeoutDefault      = 30 * time.Second
	MaxBytesDefault     = 10 << 20
	WindowPastDefault   = 30 * 24 * time.Hour
	WindowFutureDefault = 2 * 365 * 24 * time.Hour
)

// Source is the calendar.Source of ical and lightblue connections. The feed URL is the
// connection's config key "feed_url"; a feed behind HTTP Basic has config "username" and the
// credential's Password. Every fetch that returns a body is a full snapshot (Batch.Full).
type Source struct {
	// Provider names the rate-limit group and errors ("ical" or "lightblue"). Defaults to "ical".
	Provider string
	// Credentials provides feed passwords. Required for protected feeds.
	Credentials integration.Credentials
	// HTTPClient sends requests. Defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Limits rate-limits fetches under Provider. Defaults to no limit.
	Limits *integration.Limits
	// Timeout bounds each fetch. Defaults to TimeoutDefault.
	Timeout time.Duration
	// MaxBytes caps a feed's size. Defaults to MaxBytesDefault (10 MiB).
	MaxBytes int64
	// WindowPast and WindowFuture bound recurrence expansion around now. Default to
	// WindowPastDefault and WindowFutureDefault.
	WindowPast, WindowFuture time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// ErrNoFeedURL reports a connection without config "feed_url".
var ErrNoFeedURL = errors.New("ical: connection has no feed_url")

func (s *Source) provider() string {
	if s.Provider != "" {
		return s.Provider
	}
	return "ical"
}

// Fetch requests the feed conditionally; 304 is calendar.ErrNotModified.
func (s *Source) Fetch(ctx context.Context, conn integration.Connection, cur calendar.Cursor) (calendar.Batch, calendar.Cursor, error) {
	feed := conn.Setting("feed_url")
	if feed == "" {
		return calendar.Batch{}, cur, ErrNoFeedURL
	}
	if err := s.Limits.Wait(ctx, s.provider()); err != nil {
		return calendar.Batch{}, cur, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = TimeoutDefault
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, feed, http.NoBody)
	if err != nil {
		return calendar.Batch{}, cur, &provider.Error{Provider: s.provider(), Op: "feed", Message: "bad feed_url", Err: err}
	}
	if user := conn.Setting("username"); user != "" {
		if s.Credentials == nil {
			return calendar.Batch{}, cur, errors.New("ical: protected feed but Source.Credentials is nil")
		}
		cred, err := s.Credentials.Credential(ctx, conn.ID)
		if err != nil {
			return calendar.Batch{}, cur, err
		}
		req.SetBasicAuth(user, cred.Password)
	}
	if cur.ETag != "" {
		req.Header.Set("If-None-Match", cur.ETag)
	}
	if cur.LastModified != "" {
		req.Header.Set("If-Modified-Since", cur.LastModified)
	}
	req.Header.Set("Accept", "text/calendar")
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return calendar.Batch{}, cur, ctx.Err()
		}
		return calendar.Batch{}, cur, provider.Transport(s.provider(), "feed", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return calendar.Batch{}, cur, calendar.ErrNotModified
	}
	if resp.StatusCode != http.StatusOK {
		return calendar.Batch{}, cur, provider.FromResponse(s.provider(), "feed", resp)
	}
	max := s.MaxBytes
	if max <= 0 {
		max = MaxBytesDefault
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return calendar.Batch{}, cur, provider.Transport(s.provider(), "feed", err)
	}
	if int64(len(body)) > max {
		return calendar.Batch{}, cur, &provider.Error{Provider: s.provider(), Op: "feed", Status: resp.StatusCode, Message: "feed larger than the size limit"}
	}
	past, future := s.WindowPast, s.WindowFuture
	if past <= 0 {
		past = WindowPastDefault
	}
	if future <= 0 {
		future = WindowFutureDefault
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	events, invalid, err := Parse(bytes.NewReader(body), now.Add(-past), now.Add(future), conn.Location)
	if err != nil {
		return calendar.Batch{}, cur, &provider.Error{Provider: s.provider(), Op: "feed", Status: resp.StatusCode, Message: "not iCalendar", Err: err}
	}
	b := calendar.Batch{Full: true, Invalid: invalid, Changes: make([]calendar.Change, 0, len(events))}
	for _, ev := range events {
		b.Changes = append(b.Changes, calendar.Change{Event: ev})
	}
	return b, calendar.Cursor{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}, nil
}
