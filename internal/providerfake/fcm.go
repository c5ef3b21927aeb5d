package providerfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// FCM fakes the Firebase Cloud Messaging HTTP v1 API as the firebase.google.com/go/v4
// messaging client calls it when pointed at URL() with option.WithEndpoint:
// POST /projects/<project>/messages:send (one request per token; the SDK's multicast fans
// out), answering 200 {"name": "projects/<project>/messages/<n>"}.
//
// Documented errors (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):
// a token passed to Unregister answers 404 NOT_FOUND with FcmError UNREGISTERED; a token
// passed to Invalidate answers 400 INVALID_ARGUMENT "The registration token is not a valid
// FCM registration token"; faults built with FCMFault answer QUOTA_EXCEEDED (429, with
// Retry-After), UNAVAILABLE (503), INTERNAL (500) or a payload INVALID_ARGUMENT (400, with
// google.rpc.BadRequest). Note the SDK itself retries 503 with real sleeps: prefer INTERNAL
// in tests that need a fast 5xx.
type FCM struct {
	Base
	mu           sync.Mutex
	unregistered map[string]bool
	invalid      map[string]bool
	sent         []FCMMessage
}

// FCMMessage is one message the fake accepted.
type FCMMessage struct {
	ID    string
	Token string
	Title string
	Body  string
	Data  map[string]string
}

// NewFCM starts an FCM fake on 127.0.0.1. Close it when done.
func NewFCM() *FCM {
	f := &FCM{unregistered: map[string]bool{}, invalid: map[string]bool{}}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// Unregister makes sends to tokens answer 404 UNREGISTERED, as for an uninstalled app.
func (f *FCM) Unregister(tokens ...string) {
	f.mu.Lock()
	for _, t := range tokens {
		f.unregistered[t] = true
	}
	f.mu.Unlock()
}

// Invalidate makes sends to tokens answer 400 INVALID_ARGUMENT for a malformed token.
func (f *FCM) Invalidate(tokens ...string) {
	f.mu.Lock()
	for _, t := range tokens {
		f.invalid[t] = true
	}
	f.mu.Unlock()
}

// Sent returns the messages accepted so far, in order.
func (f *FCM) Sent() []FCMMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FCMMessage(nil), f.sent...)
}

// FCM error codes of google.firebase.fcm.v1.FcmError, as the fake answers them.
const (
	FCMUnregistered    = "UNREGISTERED"
	FCMInvalidArgument = "INVALID_ARGUMENT"
	FCMQuotaExceeded   = "QUOTA_EXCEEDED"
	FCMUnavailable     = "UNAVAILABLE"
	FCMInternal        = "INTERNAL"
)

// FCMFault returns a fault answering with FCM's documented error for code (one of the
// FCM* constants; QUOTA_EXCEEDED is 429, UNAVAILABLE 503, INTERNAL 500, UNREGISTERED 404,
// INVALID_ARGUMENT 400 with a payload BadRequest).
func FCMFault(code string) Fault {
	status, grpc, msg := fcmStatus(code)
	return Fault{Status: status, Body: fcmErrorBody(status, grpc, code, msg, code == FCMInvalidArgument)}
}

func fcmStatus(code string) (int, string, string) {
	switch code {
	case FCMUnregistered:
		return http.StatusNotFound, "NOT_FOUND", "Requested entity was not found."
	case FCMInvalidArgument:
		return http.StatusBadRequest, "INVALID_ARGUMENT", "Request contains an invalid argument."
	case FCMQuotaExceeded:
		return http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'."
	case FCMUnavailable:
		return http.StatusServiceUnavailable, "UNAVAILABLE", "The service is currently unavailable."
	default:
		return http.StatusInternalServerError, "INTERNAL", "Internal error encountered."
	}
}

// fcmErrorBody renders the v1 error body: google.rpc.Status with an FcmError detail, plus
// a google.rpc.BadRequest for payload errors.
func fcmErrorBody(status int, grpc, fcmCode, msg string, badRequest bool) string {
	details := []map[string]any{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcmCode}}
	if badRequest {
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.BadRequest",
			"fieldViolations": []map[string]string{{"field": "message.data", "description": "Invalid data payload"}}})
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": grpc, "details": details}})
	return string(b)
}

func (f *FCM) serve(w http.ResponseWriter, r *http.Request) {
	project, ok := strings.CutPrefix(r.URL.Path, "/projects/")
	project, ok2 := strings.CutSuffix(project, "/messages:send")
	if !ok || !ok2 || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if ft, ok := f.Next(); ok {
		status, grpc, msg := fcmStatus(fcmCodeForStatus(ft.Status))
		WriteFault(w, r, ft, "application/json", fcmErrorBody(status, grpc, fcmCodeForStatus(ft.Status), msg, false))
		return
	}
	var req struct {
		Message struct {
			Token        string            `json:"token"`
			Data         map[string]string `json:"data"`
			Notification struct {
				Title string `json:"title"`
				Body  string `json:"body"`
			} `json:"notification"`
		} `json:"message"`
		ValidateOnly bool `json:"validate_only"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message.Token == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(fcmErrorBody(400, "INVALID_ARGUMENT", FCMInvalidArgument, "Request contains an invalid argument.", true)))
		return
	}
	f.mu.Lock()
	unreg, inval := f.unregistered[req.Message.Token], f.invalid[req.Message.Token]
	var id string
	if !unreg && !inval && !req.ValidateOnly {
		id = fmt.Sprintf("projects/%s/messages/%d", project, len(f.sent)+1)
		f.sent = append(f.sent, FCMMessage{ID: id, Token: req.Message.Token, Title: req.Message.Notification.Title,
			Body: req.Message.Notification.Body, Data: req.Message.Data})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case unreg:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(fcmErrorBody(404, "NOT_FOUND", FCMUnregistered, "Requested entity was not found.", false)))
	case inval:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(fcmErrorBody(400, "INVALID_ARGUMENT", FCMInvalidArgument,
			"The registration token is not a valid FCM registration token", false)))
	default:
		if id == "" {
			id = fmt.Sprintf("projects/%s/messages/fake_message_id", project)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"name": id})
	}
}

func fcmCodeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return FCMUnregistered
	case http.StatusBadRequest:
		return FCMInvalidArgument
	case http.StatusTooManyRequests:
		return FCMQuotaExceeded
	case http.StatusServiceUnavailable:
		return FCMUnavailable
	default:
		return FCMInternal
	}
}
