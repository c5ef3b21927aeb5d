package providerfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// Twilio fakes the Twilio Messages API as github.com/twilio/twilio-go calls it through a
// host-rewriting transport: form-encoded POST /2010-04-01/Accounts/<sid>/Messages.json
// with basic auth <sid>:<token>, answering 201 with the message resource (sid "SM…",
// status "queued").
//
// Documented errors (https://www.twilio.com/docs/api/errors): 401 code 20003 for bad
// credentials; 400 code 21211 for a To that is not a valid E.164 number; 400 code 21610
// for a number passed to OptOut (the recipient replied STOP); 400 code 21604 for a missing
// To; faults with status 429 answer code 20429 (Too Many Requests), 5xx answer code 20500.
type Twilio struct {
	Base
	// AccountSID and AuthToken are the credentials the fake accepts.
	AccountSID, AuthToken string

	mu       sync.Mutex
	optedOut map[string]bool
	sent     []TwilioMessage
}

// TwilioMessage is one message the fake accepted.
type TwilioMessage struct {
	SID, To, From, Body, StatusCallback string
}

// Twilio error codes the fake answers with.
const (
	TwilioAuthenticate      = 20003
	TwilioTooManyRequests   = 20429
	TwilioInternal          = 20500
	TwilioInvalidTo         = 21211
	TwilioMissingTo         = 21604
	TwilioUnsubscribed      = 21610
	TwilioUnreachable       = 30003
	TwilioLandline          = 30006
	twilioMoreInfoURLPrefix = "https://www.twilio.com/docs/errors/"
)

// NewTwilio starts a Twilio fake on 127.0.0.1 accepting sid/token.
func NewTwilio(sid, token string) *Twilio {
	f := &Twilio{AccountSID: sid, AuthToken: token, optedOut: map[string]bool{}}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// OptOut makes sends to numbers answer 21610, as after the recipient replied STOP.
func (f *Twilio) OptOut(numbers ...string) {
	f.mu.Lock()
	for _, n := range numbers {
		f.optedOut[n] = true
	}
	f.mu.Unlock()
}

// Sent returns the messages accepted so far, in order.
func (f *Twilio) Sent() []TwilioMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TwilioMessage(nil), f.sent...)
}

// TwilioErrorBody renders Twilio's error resource.
func TwilioErrorBody(status, code int, msg string) string {
	b, _ := json.Marshal(map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("%s%d", twilioMoreInfoURLPrefix, code), "status": status})
	return string(b)
}

var twilioE164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (f *Twilio) serve(w http.ResponseWriter, r *http.Request) {
	path := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages.json"
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.AccountSID || pass != f.AuthToken {
		resendWriteJSON(w, http.StatusUnauthorized, TwilioErrorBody(401, TwilioAuthenticate, "Authenticate"))
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != path {
		resendWriteJSON(w, http.StatusNotFound, TwilioErrorBody(404, 20404, "The requested resource "+r.URL.Path+" was not found"))
		return
	}
	if ft, ok := f.Next(); ok {
		body := TwilioErrorBody(ft.Status, TwilioInternal, "Internal Server Error")
		if ft.Status == http.StatusTooManyRequests {
			body = TwilioErrorBody(429, TwilioTooManyRequests, "Too Many Requests")
		}
		WriteFault(w, r, ft, "application/json", body)
		return
	}
	if err := r.ParseForm(); err != nil {
		resendWriteJSON(w, 400, TwilioErrorBody(400, 20001, "Invalid form body"))
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case to == "":
		resendWriteJSON(w, 400, TwilioErrorBody(400, TwilioMissingTo, "A 'To' phone number is required."))
		return
	case !twilioE164.MatchString(to):
		resendWriteJSON(w, 400, TwilioErrorBody(400, TwilioInvalidTo, fmt.Sprintf("Invalid 'To' Phone Number: %s", to)))
		return
	case from == "" && r.PostForm.Get("MessagingServiceSid") == "":
		resendWriteJSON(w, 400, TwilioErrorBody(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"))
		return
	case body == "" && r.PostForm.Get("MediaUrl") == "":
		resendWriteJSON(w, 400, TwilioErrorBody(400, 21602, "Message body is required."))
		return
	}
	f.mu.Lock()
	if f.optedOut[to] {
		f.mu.Unlock()
		resendWriteJSON(w, 400, TwilioErrorBody(400, TwilioUnsubscribed, "Attempt to send to unsubscribed recipient"))
		return
	}
	var rb [16]byte
	_, _ = rand.Read(rb[:])
	sid := "SM" + hex.EncodeToString(rb[:])
	f.sent = append(f.sent, TwilioMessage{SID: sid, To: to, From: from, Body: body, StatusCallback: r.PostForm.Get("StatusCallback")})
	f.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC1123Z)
	res, _ := json.Marshal(map[string]any{
		"sid": sid, "account_sid": f.AccountSID, "to": to, "from": from, "body": body, "status": "queued",
		"num_segments": "1", "num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": now, "date_updated": now, "date_sent": nil, "error_code": nil, "error_message": nil,
		"price": nil, "price_unit": "USD", "messaging_service_sid": nil,
		"uri": path[:len(path)-len(".json")] + "/" + sid + ".json",
	})
	resendWriteJSON(w, http.StatusCreated, string(res))
}
