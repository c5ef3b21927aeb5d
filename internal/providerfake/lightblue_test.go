package providerfake_test

// The Light Blue fake against Light Blue's documents:
//   HTTP POST API: https://lightbluesoftware.com/help/help-resources/sending-data-directly-to-the-light-blue-api-via-http-post
//                  (form POST to api.php with key and type=contact form; the body is a status
//                  code: 0 stored, negative on failure)
//   parameters:    https://lightbluesoftware.com/help/help-resources/supported-api-parameters
//   calendar feed: a password-protected iCalendar subscription (RFC 5545 over HTTP with Basic
//                  auth), answered conditionally (RFC 9110 ETag / If-None-Match,
//                  Last-Modified / If-Modified-Since → 304).

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func TestLightBlueEnquiryAPI(t *testing.T) {
	t.Parallel()
	lb := providerfake.NewLightBlue()
	defer lb.Close()
	lb.AddAPIKey("k1")
	post := func(form url.Values) (int, string) {
		resp, err := http.PostForm(lb.APIURL(), form)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	enquiry := url.Values{"key": {"k1"}, "type": {"contact form"}, "ContactNameFull": {"Ava Stone"},
		"ContactEmail": {"ava@example.com"}, "ShootDate": {"2027-06-12"}, "Reference": {"vh-1"}}
	status, code := post(enquiry)
	require.Equal(t, 200, status)
	require.Equal(t, "0", code, "stored")
	status, code = post(enquiry)
	require.Equal(t, "-4", code, "the same Reference again is a duplicate")
	require.Equal(t, 200, status)
	bad := url.Values{"key": {"nope"}, "type": {"contact form"}}
	status, code = post(bad)
	require.Equal(t, 401, status)
	require.Equal(t, "-1", code)
	_, code = post(url.Values{"key": {"k1"}, "type": {"invoice"}})
	require.Equal(t, "-3", code, "unsupported type")
	e := lb.Enquiries()
	require.Len(t, e, 1)
	require.Equal(t, "Ava Stone", e[0].Fields.Get("ContactNameFull"))
	require.Empty(t, e[0].Fields.Get("key"), "the key is not stored with the enquiry")

	lb.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 4 * time.Second})
	resp, err := http.PostForm(lb.APIURL(), enquiry)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "4", resp.Header.Get("Retry-After"))
}

func TestLightBlueFeedIsProtectedAndConditional(t *testing.T) {
	t.Parallel()
	lb := providerfake.NewLightBlue()
	defer lb.Close()
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
	feed := lb.SetFeed("studio", "user", "pass", ics)
	get := func(user, pass string, h http.Header) *http.Response {
		req, err := http.NewRequest(http.MethodGet, feed, nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("", "", nil)
	require.Equal(t, 401, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic "))
	require.Equal(t, 401, get("user", "wrong", nil).StatusCode)

	resp = get("user", "pass", nil)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/calendar")
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, ics, string(b))
	etag, mod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	require.NotEmpty(t, etag)
	require.NotEmpty(t, mod)
	require.Equal(t, 304, get("user", "pass", http.Header{"If-None-Match": {etag}}).StatusCode)
	require.Equal(t, 304, get("user", "pass", http.Header{"If-Modified-Since": {mod}}).StatusCode)

	lb.SetFeed("studio", "user", "pass", strings.Replace(ics, "END:VCALENDAR", "X-CHANGED:1\r\nEND:VCALENDAR", 1))
	resp = get("user", "pass", http.Header{"If-None-Match": {etag}})
	require.Equal(t, 200, resp.StatusCode, "a changed feed has a new ETag")
	require.NotEqual(t, etag, resp.Header.Get("ETag"))
	full, notModified := lb.FeedStats()
	require.Equal(t, 2, full)
	require.Equal(t, 2, notModified)
}
