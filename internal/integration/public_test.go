package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/netguard"
	"github.com/wedsync/vendorhub/internal/provider"
)

// What members read is a fixed message: never the provider's body, a URL or an error's text.
func TestPublicMessage(t *testing.T) {
	t.Parallel()
	body := "<html>internal admin page, token=s3cret</html>"
	blocked := &netguard.BlockedError{Addr: netip.MustParseAddr("10.0.0.7"), Range: "private (RFC 1918)"}
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&provider.Error{Provider: "ical", Op: "feed", Status: 500, Retryable: true, Message: body}, "ical feed: the provider answered HTTP 500 Internal Server Error"},
		{&provider.Error{Provider: "ical", Op: "feed", Err: blocked}, "ical feed: refused: the address resolves to a private or internal address"},
		{provider.Transport("ical", "feed", errors.New(`Get "https://x/secret-path": EOF`)), "ical feed: no answer (the connection failed)"},
		{provider.Transport("ical", "feed", context.DeadlineExceeded), "ical feed: timed out"},
		{&provider.Error{Provider: "google", Op: "events.list", Status: 429, RateLimited: true, Message: body}, "google events.list: the provider answered HTTP 429 Too Many Requests"},
		{fmt.Errorf("wrapped: %w", integration.FixedError("ical: connection has no feed URL")), "ical: connection has no feed URL"},
		{errors.New("pq: " + body), integration.GenericFailure},
		{fmt.Errorf("x: %w", &netguard.TooLargeError{Limit: 10}), "refused: the response is larger than 10 bytes"},
		{fmt.Errorf("job: %w", &provider.Error{Provider: "lightblue", Op: "enquiry", Status: 200, Code: "-3", Message: body,
			Err: integration.FixedError("enquiry rejected with status -3 unsupported type")}), "lightblue enquiry: enquiry rejected with status -3 unsupported type"},
		{provider.BreakerOpen("twilio", "circuit_open", 0, errors.New(body)), "twilio: not called (its circuit breaker is open)"},
		{&provider.Error{Provider: "alert webhook", Err: blocked}, "alert webhook: refused: the address resolves to a private or internal address"},
	}
	for _, c := range cases {
		got := integration.PublicMessage(c.err)
		require.Equal(t, c.want, got)
		require.NotContains(t, got, "s3cret")
	}
}
