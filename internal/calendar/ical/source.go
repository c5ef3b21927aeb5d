package ical

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
	"github.com/wedsync/vendorhub/internal/secret"
)

// Defaults of Source.
const (
	TimeoutDefault      = 30 * time.Second
	WindowPastDefault   = 30 * 24 * time.Hour
	WindowFutureDefault = 2 * 365 * 24 * time.Hour
	// MaxRedirects is how many redirects a feed fetch follows (each hop address-checked).
	MaxRedirects = 3
)

// NewHTTPClient returns the guarded client feeds are fetched with (netguard): at most
// MaxRedirects redirects, MaxFeedBytes of body, timeout; allowPrivate turns the address check
// off (VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS).
func NewHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	return netguard.New(netguard.Options{AllowPrivate: allowPrivate, Timeout: cmp.Or(timeout, TimeoutDefault),
		MaxRedirects: MaxRedirects, MaxBodyBytes: MaxFeedBytes})
}

// Source is the calendar.Source of ical and lightblue connections. The feed URL is sealed in
// the connection's credential (Credential.FeedURL; integration.SetFeedURL), read from config
// "feed_url" until the connector seals it; a feed behind HTTP Basic has config "username" and
// the credential's Password. Every fetch that returns a body is a full snapshot (Batch.Full).
type Source struct {
	// Provider names the rate-limit group and errors ("ical" or "lightblue"). Defaults to "ical".
	Provider string
	// Credentials provides feed URLs and passwords. Required for sealed feed URLs.
	Credentials integration.Credentials
	// HTTPClient sends requests. Defaults to NewHTTPClient(false, Timeout): private and
	// internal addresses refused.
	HTTPClient *http.Client
	// Limits rate-limits fetches under Provider. Defaults to no limit.
	Limits *integration.Limits
	// Timeout bounds each fetch. Defaults to TimeoutDefault.
	Timeout time.Duration
	// WindowPast and WindowFuture bound recurrence expansion around now. Default to
	// WindowPastDefault and WindowFutureDefault.
	WindowPast, WindowFuture time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time

	once   sync.Once
	client *http.Client
}

// ErrNoFeedURL reports a connection without a feed URL.
var ErrNoFeedURL error = integration.FixedError("ical: connection has no feed URL")

func (s *Source) provider() string {
	if s.Provider != "" {
		return s.Provider
	}
	return "ical"
}

func (s *Source) httpClient() *http.Client {
	s.once.Do(func() {
		s.client = s.HTTPClient
		if s.client == nil {
			s.client = NewHTTPClient(false, s.Timeout)
		}
	})
	return s.client
}

// feed returns the connection's feed URL and its credential.
func (s *Source) feed(ctx context.Context, conn integration.Connection) (string, integration.Credential, error) {
	var cred integration.Credential
	if s.Credentials != nil {
		c, err := s.Credentials.Credential(ctx, conn.ID)
		if err != nil && !errors.Is(err, secret.ErrNotFound) {
			return "", cred, err
		}
		cred = c
	}
	u := cmp.Or(cred.FeedURL, conn.Setting("feed_url"))
	if u == "" {
		return "", cred, ErrNoFeedURL
	}
	return u, cred, nil
}

// feedError keeps the feed URL (a secret) out of transport errors and classifies them: a
// refused address or an oversized feed is permanent (the same fetch fails the same way), any
// other failed round trip transient.
func (s *Source) feedError(err error) error {
	err = netguard.Cause(err)
	var tooLarge *netguard.TooLargeError
	if errors.As(err, &tooLarge) {
		return s.permanent(0, &LimitError{Limit: "feed size in bytes", Max: int(tooLarge.Limit)})
	}
	if errors.Is(err, netguard.ErrBlocked) {
		return s.permanent(0, err)
	}
	return provider.Transport(s.provider(), "feed", err)
}

// permanent is a feed failure that will recur on every fetch (a refused address, a limit, a
// feed that does not parse); err carries the fixed member-facing message.
func (s *Source) permanent(status int, err error) *provider.Error {
	return &provider.Error{Provider: s.provider(), Op: "feed", Status: status, Err: err}
}

// Fetch requests the feed conditionally; 304 is calendar.ErrNotModified.
func (s *Source) Fetch(ctx context.Context, conn integration.Connection, cur calendar.Cursor) (calendar.Batch, calendar.Cursor, error) {
	feed, cred, err := s.feed(ctx, conn)
	if err != nil {
		return calendar.Batch{}, cur, err
	}
	if err := s.Limits.Wait(ctx, s.provider()); err != nil {
		return calendar.Batch{}, cur, err
	}
	cctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, TimeoutDefault))
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, feed, http.NoBody)
	if err != nil {
		return calendar.Batch{}, cur, s.permanent(0, integration.FixedError("the feed URL is not valid"))
	}
	if user := conn.Setting("username"); user != "" {
		req.SetBasicAuth(user, cred.Password)
	}
	if cur.ETag != "" {
		req.Header.Set("If-None-Match", cur.ETag)
	}
	if cur.LastModified != "" {
		req.Header.Set("If-Modified-Since", cur.LastModified)
	}
	req.Header.Set("Accept", "text/calendar")
	resp, err := s.httpClient().Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return calendar.Batch{}, cur, ctx.Err()
		}
		return calendar.Batch{}, cur, s.feedError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return calendar.Batch{}, cur, calendar.ErrNotModified
	}
	if resp.StatusCode != http.StatusOK {
		return calendar.Batch{}, cur, provider.FromResponse(s.provider(), "feed", resp)
	}
	past, future := cmp.Or(s.WindowPast, WindowPastDefault), cmp.Or(s.WindowFuture, WindowFutureDefault)
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	res, err := Parse(cctx, resp.Body, now.Add(-past), now.Add(future), conn.Location)
	var limit *LimitError
	var perr *ParseError
	switch {
	case errors.As(err, &limit), errors.As(err, &perr):
		return calendar.Batch{}, cur, s.permanent(resp.StatusCode, err)
	case err != nil && ctx.Err() != nil:
		return calendar.Batch{}, cur, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		// The fetch timeout ran out while the feed was read or expanded: too costly a feed.
		return calendar.Batch{}, cur, s.permanent(resp.StatusCode,
			&LimitError{Limit: "fetch time in seconds", Max: int(cmp.Or(s.Timeout, TimeoutDefault) / time.Second)})
	case err != nil:
		return calendar.Batch{}, cur, s.feedError(err)
	}
	b := calendar.Batch{Full: true, Invalid: res.Invalid, Changes: make([]calendar.Change, 0, len(res.Events))}
	for _, ev := range res.Events {
		b.Changes = append(b.Changes, calendar.Change{Event: ev})
	}
	return b, calendar.Cursor{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}, nil
}
