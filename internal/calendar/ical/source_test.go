package ical

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/calendar"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
)

func conn(feed string) integration.Connection {
	return integration.Connection{ID: "c1", Kind: integration.ICal, Config: []byte(`{"feed_url": "` + feed + `"}`), Location: time.UTC}
}

// The default client refuses a loopback feed before any request; the error names neither the
// URL nor its secret path.
func TestSourceRefusesInternalFeedByDefault(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, _, err := (&Source{}).Fetch(t.Context(), conn(srv.URL+"/secret-path-123.ics"), calendar.Cursor{})
	require.ErrorIs(t, err, netguard.ErrBlocked)
	require.NotContains(t, err.Error(), "secret-path-123")
	require.Equal(t, "ical feed: refused: the address resolves to a private or internal address", integration.PublicMessage(err))
	require.False(t, provider.IsOutage(err), "a refusal does not trip the breaker")
	require.Equal(t, provider.Permanent, provider.ClassOf(err), "a refusal is not retried")
	require.Zero(t, hits.Load())
}

// A 10 MiB answer stops at the client's cap: a *LimitError, stored as a fixed message.
func TestSourceFeedTooLarge(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("BEGIN:VCALENDAR\r\n" + strings.Repeat("X-PAD:"+strings.Repeat("z", 100)+"\r\n", (10<<20)/108)))
	}))
	t.Cleanup(srv.Close)
	s := &Source{HTTPClient: NewHTTPClient(true, 0)}
	_, _, err := s.Fetch(t.Context(), conn(srv.URL+"/big.ics"), calendar.Cursor{})
	var le *LimitError
	require.True(t, errors.As(err, &le), "got %v", err)
	require.Equal(t, MaxFeedBytes, le.Max)
	require.Equal(t, "ical feed: the feed exceeds the feed size in bytes limit (5242880)", integration.PublicMessage(err))
	require.Equal(t, provider.Permanent, provider.ClassOf(err), "an oversized feed is not retried")
}
