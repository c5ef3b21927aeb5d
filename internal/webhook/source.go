package webhook

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// Source is the <source> segment of /webhooks/<source>/<connection>.
type Source string

// The sources the ingress accepts.
const (
	SourceStandard       Source = "standard"        // any Standard Webhooks sender (webhook-* headers)
	SourceResend         Source = "resend"          // Resend email events (Svix: svix-* headers)
	SourceTwilio         Source = "twilio"          // Twilio status callbacks and inbound SMS (X-Twilio-Signature)
	SourceHoneyBook      Source = "honeybook"       // HoneyBook via a Zapier bridge (shared secret header)
	SourceDubsado        Source = "dubsado"         // Dubsado via a Zapier bridge (shared secret header)
	SourceGoogleCalendar Source = "google-calendar" // Google Calendar push channels (X-Goog-Channel-Token)
	SourceOutlook        Source = "outlook"         // Microsoft Graph change notifications (clientState)
)

// Headers read by the shared-secret sources.
const (
	// ZapierSecretHeader carries a Zapier bridge's per-connection secret (a static header of
	// the Zap template).
	ZapierSecretHeader = "X-Vendorhub-Secret"
	// EventIDHeader optionally names a Zapier bridge event (e.g. {{zap_meta_id}}); without it
	// the body's SHA-256 is the event id.
	EventIDHeader = "X-Event-Id"
	// GraphValidationParam is the query parameter of Graph's validation handshake.
	GraphValidationParam = "validationToken"
)

// Sources lists every source, in a stable order.
var Sources = []Source{SourceStandard, SourceResend, SourceTwilio, SourceHoneyBook, SourceDubsado, SourceGoogleCalendar, SourceOutlook}

// InboxSource is the vendorhub.webhook_inbox.source value of s.
func (s Source) InboxSource() string { return sources[s].inbox }

// Kind is the integration_connections.kind a connection of s must have.
func (s Source) Kind() string { return sources[s].kind }

// inbound is one request on its way through the checks.
type inbound struct {
	r         *http.Request
	body      []byte
	mediaType string
	secrets   []string // the connection's secrets (several during rotation)
	publicURL string   // the URL as the sender signed it
	now       time.Time
	tolerance time.Duration
}

// accepted is what a verified and decoded request stores.
type accepted struct {
	eventID string
	payload json.RawMessage
}

type sourceSpec struct {
	inbox, kind string
	// mediaTypes are the accepted content types of a non-empty body.
	mediaTypes []string
	// emptyBody: a body-less request is valid (Google's notifications).
	emptyBody bool
	// okStatus answers a stored or duplicate request.
	okStatus int
	// verify checks the signature; decode runs only after it passed.
	verify func(in *inbound) (signature.Message, error)
	decode func(in *inbound, msg signature.Message) (accepted, error)
}

var (
	jsonTypes = []string{"application/json"}
	formTypes = []string{"application/x-www-form-urlencoded", "application/json"}
)

var sources = map[Source]sourceSpec{
	SourceStandard: {inbox: "standard", kind: "standard_webhooks", mediaTypes: jsonTypes, okStatus: http.StatusOK,
		verify: verifyStandardWith(signature.StandardHeaders), decode: decodeSigned},
	SourceResend: {inbox: "resend", kind: "resend", mediaTypes: jsonTypes, okStatus: http.StatusOK,
		verify: verifyStandardWith(signature.SvixHeaders), decode: decodeSigned},
	SourceTwilio: {inbox: "twilio", kind: "twilio", mediaTypes: formTypes, okStatus: http.StatusOK,
		verify: verifyTwilio, decode: decodeTwilio},
	SourceHoneyBook: {inbox: "honeybook", kind: "honeybook", mediaTypes: jsonTypes, okStatus: http.StatusOK,
		verify: verifyZapier, decode: decodeZapier},
	SourceDubsado: {inbox: "dubsado", kind: "dubsado", mediaTypes: jsonTypes, okStatus: http.StatusOK,
		verify: verifyZapier, decode: decodeZapier},
	SourceGoogleCalendar: {inbox: "google_calendar", kind: "google_calendar", mediaTypes: jsonTypes, emptyBody: true,
		okStatus: http.StatusOK, verify: verifyGoogle, decode: decodeGoogle},
	SourceOutlook: {inbox: "outlook", kind: "outlook", mediaTypes: jsonTypes, okStatus: http.StatusAccepted,
		verify: verifyGraph, decode: decodeGraph},
}

// mediaTypeOK reports whether the request's content type is one spec accepts.
func (spec sourceSpec) mediaTypeOK(mediaType string, bodyLen int) bool {
	if bodyLen == 0 && spec.emptyBody {
		return true
	}
	for _, t := range spec.mediaTypes {
		if mediaType == t {
			return true
		}
	}
	return false
}

func parseMediaType(h string) string {
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return ""
	}
	return mt
}

// verifyStandardWith verifies a Standard Webhooks or Svix request against every secret of the
// connection (several during rotation).
func verifyStandardWith(names signature.Headers) func(in *inbound) (signature.Message, error) {
	return func(in *inbound) (signature.Message, error) {
		keys := make([][]byte, 0, len(in.secrets))
		for _, s := range in.secrets {
			if k, err := signature.ParseSecret(s); err == nil {
				keys = append(keys, k)
			}
		}
		return signature.VerifyStandard(keys, names, in.r.Header, in.body, in.now, in.tolerance)
	}
}

func decodeSigned(in *inbound, msg signature.Message) (accepted, error) {
	if !validEventID(msg.ID) {
		return accepted{}, malformed("message id is not 1-256 visible ASCII characters")
	}
	p, err := DecodeJSON(in.body)
	if err != nil {
		return accepted{}, err
	}
	return accepted{eventID: msg.ID, payload: p}, nil
}

func verifyTwilio(in *inbound) (signature.Message, error) {
	sig := in.r.Header.Get(signature.TwilioHeader)
	var err error = &signature.Error{Kind: signature.ErrInvalidSecret, Detail: "no auth token configured"}
	for _, tok := range in.secrets {
		if err = signature.VerifyTwilio(tok, in.publicURL, in.body, sig); err == nil {
			return signature.Message{}, nil
		}
	}
	return signature.Message{}, err
}

func decodeTwilio(in *inbound, _ signature.Message) (accepted, error) {
	if in.mediaType == "application/json" {
		p, err := DecodeJSON(in.body)
		if err != nil {
			return accepted{}, err
		}
		return accepted{eventID: bodyID(in.body), payload: p}, nil
	}
	p, vals, err := DecodeForm(in.body)
	if err != nil {
		return accepted{}, err
	}
	// A message or call moves through statuses: each (sid, status) is one event.
	id := ""
	for _, pair := range [][2]string{{"MessageSid", "MessageStatus"}, {"SmsSid", "SmsStatus"}, {"CallSid", "CallStatus"}} {
		if sid := vals.Get(pair[0]); sid != "" {
			id = sid + ":" + vals.Get(pair[1])
			break
		}
	}
	if !validEventID(id) {
		id = bodyID(in.body)
	}
	return accepted{eventID: id, payload: p}, nil
}

func verifyShared(in *inbound, presented, what string) error {
	err := error(&signature.Error{Kind: signature.ErrInvalidSecret, Detail: "no secret configured"})
	for _, s := range in.secrets {
		if err = signature.VerifyShared(s, presented, what); err == nil {
			return nil
		}
	}
	return err
}

func verifyZapier(in *inbound) (signature.Message, error) {
	return signature.Message{}, verifyShared(in, in.r.Header.Get(ZapierSecretHeader), ZapierSecretHeader)
}

func decodeZapier(in *inbound, _ signature.Message) (accepted, error) {
	p, err := DecodeJSON(in.body)
	if err != nil {
		return accepted{}, err
	}
	id := in.r.Header.Get(EventIDHeader)
	switch {
	case id == "":
		id = bodyID(in.body)
	case !validEventID(id):
		return accepted{}, malformed("%s is not 1-256 visible ASCII characters", EventIDHeader)
	}
	return accepted{eventID: id, payload: p}, nil
}

// verifyGoogle checks the channel token; Google signs no timestamp, but a notification of a
// channel that expired (X-Goog-Channel-Expiration, beyond the tolerance) is a replay.
func verifyGoogle(in *inbound) (signature.Message, error) {
	if err := verifyShared(in, in.r.Header.Get("X-Goog-Channel-Token"), "X-Goog-Channel-Token"); err != nil {
		return signature.Message{}, err
	}
	if exp := in.r.Header.Get("X-Goog-Channel-Expiration"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return signature.Message{}, &signature.Error{Kind: signature.ErrInvalidTimestamp, Detail: "X-Goog-Channel-Expiration"}
		}
		if in.now.Sub(t) > in.tolerance {
			return signature.Message{}, &signature.Error{Kind: signature.ErrTimestampTooOld, Detail: "channel expired (X-Goog-Channel-Expiration)"}
		}
	}
	return signature.Message{}, nil
}

// googleHeaders are stored as the payload of a Google notification (its body is empty).
var googleHeaders = []string{"X-Goog-Channel-ID", "X-Goog-Resource-State", "X-Goog-Resource-ID",
	"X-Goog-Resource-URI", "X-Goog-Message-Number", "X-Goog-Channel-Expiration", "X-Goog-Changed"}

func decodeGoogle(in *inbound, _ signature.Message) (accepted, error) {
	h := in.r.Header
	channel, number, state := h.Get("X-Goog-Channel-ID"), h.Get("X-Goog-Message-Number"), h.Get("X-Goog-Resource-State")
	if channel == "" || number == "" {
		return accepted{}, malformed("X-Goog-Channel-ID and X-Goog-Message-Number are required")
	}
	switch state {
	case "sync", "exists", "not_exists":
	default:
		return accepted{}, malformed("X-Goog-Resource-State must be sync, exists or not_exists")
	}
	obj := map[string]any{}
	for _, name := range googleHeaders {
		if v := h.Get(name); v != "" {
			if !validHeaderText(v) {
				return accepted{}, malformed("%s is not storable text", name)
			}
			obj[strings.ToLower(name)] = v
		}
	}
	if len(in.body) > 0 {
		body, err := DecodeJSON(in.body)
		if err != nil {
			return accepted{}, err
		}
		obj["body"] = body
	}
	id := channel + ":" + number
	if !validEventID(id) {
		return accepted{}, malformed("channel id and message number are not visible ASCII")
	}
	p, err := json.Marshal(obj)
	if err != nil {
		return accepted{}, malformed("headers cannot be encoded")
	}
	return accepted{eventID: id, payload: p}, nil
}

// graphNotifications is the part of a Graph notification batch the ingress checks.
type graphNotifications struct {
	Value []struct {
		ClientState *string `json:"clientState"`
		// SubscriptionExpiration: a change notification of an expired subscription is a replay
		// (lifecycle notifications, e.g. subscriptionRemoved, may legitimately come after it).
		SubscriptionExpiration *time.Time `json:"subscriptionExpirationDateTime"`
		LifecycleEvent         string     `json:"lifecycleEvent"`
	} `json:"value"`
}

// verifyGraph checks clientState on every notification of the batch. The JSON is parsed before
// the check because the secret is inside it; an unparsable body fails as a missing clientState.
func verifyGraph(in *inbound) (signature.Message, error) {
	var n graphNotifications
	if err := json.Unmarshal(in.body, &n); err != nil || len(n.Value) == 0 {
		return signature.Message{}, &signature.Error{Kind: signature.ErrMissingHeader, Detail: "clientState (no notifications in body)"}
	}
	for _, item := range n.Value {
		presented := ""
		if item.ClientState != nil {
			presented = *item.ClientState
		}
		if err := verifyShared(in, presented, "clientState"); err != nil {
			return signature.Message{}, err
		}
		if exp := item.SubscriptionExpiration; exp != nil && item.LifecycleEvent == "" && in.now.Sub(*exp) > in.tolerance {
			return signature.Message{}, &signature.Error{Kind: signature.ErrTimestampTooOld, Detail: "subscription expired (subscriptionExpirationDateTime)"}
		}
	}
	return signature.Message{}, nil
}

func decodeGraph(in *inbound, _ signature.Message) (accepted, error) {
	p, err := DecodeJSON(in.body)
	if err != nil {
		return accepted{}, err
	}
	return accepted{eventID: bodyID(in.body), payload: p}, nil
}

func validHeaderText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// storedHeaders is the allow-list of request headers kept with an inbox row (lower-case); no
// credential or signature is ever stored.
var storedHeaders = []string{"content-type", "user-agent", "webhook-id", "webhook-timestamp", "svix-id",
	"svix-timestamp", "x-event-id", "x-goog-channel-id", "x-goog-resource-state", "x-goog-message-number",
	"i-twilio-idempotency-token", "x-twilio-webhooks-signature-settings"}

func headersJSON(h http.Header) []byte {
	obj := make(map[string]string, 4)
	for _, name := range storedHeaders {
		if v := h.Get(name); v != "" && len(v) <= 512 && validHeaderText(v) {
			obj[name] = v
		}
	}
	b, _ := json.Marshal(obj)
	return b
}
