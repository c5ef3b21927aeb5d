package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/provider"
)

// Transport delivers a batch of messages to Realtime subscribers.
type Transport interface {
	// Send delivers msgs. A *provider.Error with a Status tells the publisher whether and
	// when to retry; any other error is retried with back-off.
	Send(ctx context.Context, msgs []Message) error
}

// BroadcastPath is the REST batch broadcast endpoint, relative to SUPABASE_URL.
const BroadcastPath = "/realtime/v1/api/broadcast"

// RESTTransport posts batches to Supabase Realtime's REST broadcast API.
type RESTTransport struct {
	// URL is the project URL (SUPABASE_URL), e.g. https://<ref>.supabase.co.
	URL string
	// APIKey is the service-role key (SUPABASE_SERVICE_ROLE_KEY), sent as apikey and bearer.
	APIKey string
	// Client sends the requests. Default: a client with a 10 s timeout.
	Client *http.Client
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Send posts {"messages":[…]} and expects 202.
func (t *RESTTransport) Send(ctx context.Context, msgs []Message) error {
	body, err := json.Marshal(struct {
		Messages []Message `json:"messages"`
	}{msgs})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.URL, "/")+BroadcastPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("apikey", t.APIKey)
	req.Header.Set("Authorization", "Bearer "+t.APIKey)
	c := t.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	e := provider.FromResponse(Provider, "broadcast", resp) // never contains our key
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return e
}

// Provider names Supabase Realtime's REST API in errors.
const Provider = "realtime"

// oversized reports a payload or body the server refused for its size (422 from the tenant's
// payload limit, 413 from the body limit).
func oversized(status int) bool {
	return status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge
}
