package providerfake_test

// The Microsoft Graph fake against Microsoft's documents:
//   event delta:   https://learn.microsoft.com/en-us/graph/api/event-delta
//                  https://learn.microsoft.com/en-us/graph/delta-query-events (startDateTime and
//                  endDateTime required on the first call, @odata.nextLink pages, @odata.deltaLink
//                  last, @removed for deletions, Prefer odata.maxpagesize / outlook.timezone,
//                  410 syncStateNotFound)
//   subscriptions: https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions
//                  https://learn.microsoft.com/en-us/graph/api/resources/subscription (clientState
//                  ≤ 128 chars; 10,080-minute maximum for Outlook events)
//   webhooks:      https://learn.microsoft.com/graph/change-notifications-delivery-webhooks
//                  (validationToken POST answered 200 text/plain with the token within 10 s;
//                  change notifications {value: [{subscriptionId, changeType, resource,
//                  clientState, resourceData, …}]})
//   lifecycle:     https://learn.microsoft.com/graph/change-notifications-lifecycle-events
//   errors:        https://learn.microsoft.com/en-us/graph/errors ({error: {code, message,
//                  innerError}}, 429 with Retry-After)

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/providerfake"
)

func graphGet(t *testing.T, u string, prefer ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for _, p := range prefer {
		req.Header.Add("Prefer", p)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, resp.Header, m
}

func TestGraphDeltaAsDocumented(t *testing.T) {
	t.Parallel()
	g := providerfake.NewGraph()
	defer g.Close()
	day := time.Date(2027, 6, 12, 9, 0, 0, 0, time.UTC)
	for i, id := range []string{"a", "b", "c"} {
		g.Put(providerfake.GraphEvent{ID: id, Subject: id, Start: day.Add(time.Duration(i) * time.Hour), End: day.Add(time.Duration(i+1) * time.Hour)})
	}
	g.Put(providerfake.GraphEvent{ID: "outside", Start: day.AddDate(5, 0, 0), End: day.AddDate(5, 0, 0).Add(time.Hour)})

	status, _, m := graphGet(t, g.BaseURL()+"/me/calendarView/delta")
	require.Equal(t, 400, status, "the window is required on v1.0")
	require.Equal(t, "ErrorInvalidParameter", m["error"].(map[string]any)["code"])

	first := g.BaseURL() + "/me/calendarView/delta?startDateTime=2027-01-01T00:00:00Z&endDateTime=2028-01-01T00:00:00Z"
	status, h, m := graphGet(t, first, "odata.maxpagesize=2", `outlook.timezone="Europe/London"`)
	require.Equal(t, 200, status)
	require.Equal(t, `outlook.timezone="Europe/London"`, h.Get("Preference-Applied"))
	require.Len(t, m["value"], 2)
	require.Nil(t, m["@odata.deltaLink"], "deltaLink only on the last page")
	ev := m["value"].([]any)[0].(map[string]any)
	require.Equal(t, "2027-06-12T10:00:00.0000000", ev["start"].(map[string]any)["dateTime"], "in the preferred zone")
	require.Equal(t, "Europe/London", ev["start"].(map[string]any)["timeZone"])
	next := m["@odata.nextLink"].(string)
	_, _, m = graphGet(t, next, "odata.maxpagesize=2")
	require.Len(t, m["value"], 1, "the event outside the window is not listed")
	deltaLink := m["@odata.deltaLink"].(string)

	g.Delete("b")
	g.Put(providerfake.GraphEvent{ID: "d", Start: day, End: day.Add(time.Hour)})
	_, _, m = graphGet(t, deltaLink)
	vals := m["value"].([]any)
	require.Len(t, vals, 2)
	removed := vals[0].(map[string]any)
	require.Equal(t, "b", removed["id"])
	require.Equal(t, map[string]any{"reason": "deleted"}, removed["@removed"])
	require.Equal(t, "d", vals[1].(map[string]any)["id"])

	g.ExpireDeltaTokens()
	status, _, m = graphGet(t, m["@odata.deltaLink"].(string))
	require.Equal(t, 410, status)
	require.Equal(t, "syncStateNotFound", m["error"].(map[string]any)["code"])

	g.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 5 * time.Second})
	status, h, m = graphGet(t, first)
	require.Equal(t, 429, status)
	require.Equal(t, "5", h.Get("Retry-After"))
	e := m["error"].(map[string]any)
	require.Equal(t, "TooManyRequests", e["code"])
	require.NotEmpty(t, e["innerError"].(map[string]any)["request-id"])
}

// graphEndpoint answers Graph's validation handshake and records notifications.
type graphEndpoint struct {
	mu   sync.Mutex
	got  []map[string]any
	echo bool
}

func (e *graphEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("validationToken"); tok != "" {
		if !e.echo {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, tok)
		return
	}
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	e.mu.Lock()
	e.got = append(e.got, m)
	e.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestGraphSubscriptionsAndNotifications(t *testing.T) {
	t.Parallel()
	g := providerfake.NewGraph()
	defer g.Close()
	ep := &graphEndpoint{echo: true}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	create := func(body map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(g.BaseURL()+"/subscriptions", "application/json", strings.NewReader(string(b)))
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return resp.StatusCode, m
	}
	in := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	sub := map[string]any{"changeType": "created,updated,deleted", "resource": "me/events",
		"notificationUrl": srv.URL + "/webhooks/graph/c1", "lifecycleNotificationUrl": srv.URL + "/webhooks/graph/c1",
		"expirationDateTime": in(6 * 24 * time.Hour), "clientState": "secret-state"}
	status, m := create(sub)
	require.Equal(t, 201, status, m)
	id := m["id"].(string)
	require.Equal(t, "secret-state", m["clientState"])

	tooLong := map[string]any{}
	for k, v := range sub {
		tooLong[k] = v
	}
	tooLong["expirationDateTime"] = in(10081 * time.Minute)
	status, m = create(tooLong)
	require.Equal(t, 400, status)
	require.Contains(t, m["error"].(map[string]any)["message"], "10080 minutes")
	tooLong["expirationDateTime"], tooLong["clientState"] = in(time.Hour), strings.Repeat("x", 129)
	status, _ = create(tooLong)
	require.Equal(t, 400, status, "clientState ≤ 128 characters")
	short := map[string]any{}
	for k, v := range sub {
		short[k] = v
	}
	short["expirationDateTime"] = in(5 * time.Minute)
	status, m = create(short)
	require.Equal(t, 201, status)
	exp, err := time.Parse(time.RFC3339Nano, m["expirationDateTime"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(45*time.Minute), exp, time.Minute, "raised to 45 minutes")

	ep.echo = false
	status, m = create(sub)
	require.Equal(t, 400, status, "an endpoint that does not echo validationToken is refused")
	require.Equal(t, "ValidationError", m["error"].(map[string]any)["code"])
	ep.echo = true

	// A change notification carries the subscription's clientState and the event's id.
	code, err := g.Notify(t.Context(), id, "updated", "evt-1")
	require.NoError(t, err)
	require.Equal(t, 202, code)
	code, err = g.Lifecycle(t.Context(), id, "reauthorizationRequired")
	require.NoError(t, err)
	require.Equal(t, 202, code)
	ep.mu.Lock()
	got := ep.got
	ep.mu.Unlock()
	require.Len(t, got, 2)
	n := got[0]["value"].([]any)[0].(map[string]any)
	require.Equal(t, id, n["subscriptionId"])
	require.Equal(t, "updated", n["changeType"])
	require.Equal(t, "secret-state", n["clientState"])
	require.Equal(t, "evt-1", n["resourceData"].(map[string]any)["id"])
	require.Equal(t, "reauthorizationRequired", got[1]["value"].([]any)[0].(map[string]any)["lifecycleEvent"])

	// Renew (PATCH), reauthorize, delete.
	req, _ := http.NewRequest(http.MethodPatch, g.BaseURL()+"/subscriptions/"+url.PathEscape(id), strings.NewReader(`{"expirationDateTime":"`+in(5*24*time.Hour)+`"}`))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	resp, err = http.Post(g.BaseURL()+"/subscriptions/"+id+"/reauthorize", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	req, _ = http.NewRequest(http.MethodDelete, g.BaseURL()+"/subscriptions/"+id, nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 204, resp.StatusCode)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 404, resp.StatusCode)
}
