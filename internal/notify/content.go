package notify

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wedsync/vendorhub/internal/event"
)

// content is the in-app notification text of an event: title and body, short and free of
// anything a recipient may not see (the body preview the trigger already cut to 140 chars).
func content(ev event.Event, category string) (title, body string) {
	var d map[string]any
	_ = json.Unmarshal(ev.Data, &d)
	str := func(k string) string {
		if s, ok := d[k].(string); ok {
			return s
		}
		return ""
	}
	switch {
	case category == CategoryDayOfChange:
		title = "Day-of schedule change"
		body = firstNonEmpty(str("title"), str("summary"), humanType(ev.Type))
	case ev.Type == event.MessageCreated:
		title, body = "New message", str("body_preview")
	case ev.Type == event.VendorStatusChanged:
		title = "Vendor status changed"
		if o, n := str("old_status"), str("new_status"); n != "" {
			body = strings.TrimPrefix(o+" → "+n, " → ")
		}
	case ev.Type == event.BookingUpdated:
		title, body = "Booking updated", str("status")
	case ev.Type == event.AvailabilityChanged:
		title = "Availability changed"
	case ev.Type == event.TaskUpdated:
		title, body = "Task updated", firstNonEmpty(str("title"), str("status"))
	case ev.Type == event.ConflictDetected:
		title, body = "Booking conflict", str("reason")
	case ev.Type == event.IntegrationFailed:
		title, body = "Integration failed", firstNonEmpty(str("reason"), str("error_code"))
	default:
		title = humanType(ev.Type)
	}
	if len([]rune(body)) > 2000 {
		body = string([]rune(body)[:1999]) + "…"
	}
	return title, body
}

func humanType(t event.Type) string {
	s := strings.NewReplacer(".", " ", "_", " ").Replace(string(t))
	if s == "" {
		return "Update"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// digestTitle words a digest: "4 new messages from 3 vendors" when every sender works for
// a vendor, else "… from 3 people".
func digestTitle(messages, senders int, allVendors bool) string {
	noun := "people"
	if allVendors {
		noun = "vendors"
		if senders == 1 {
			noun = "vendor"
		}
	} else if senders == 1 {
		noun = "person"
	}
	m := "messages"
	if messages == 1 {
		m = "message"
	}
	return fmt.Sprintf("%d new %s from %d %s", messages, m, senders, noun)
}
