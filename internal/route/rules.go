package route

import "github.com/wedsync/vendorhub/internal/event"

// Integration job kinds named by the rules.
const (
	IntegrationWebhookOutbound = "webhook.outbound" // signed POST to the vendor's subscribed endpoints
	IntegrationCRMPush         = "crm.push"         // push a status change to the vendor's CRM
	IntegrationInboxProcess    = "inbox.process"    // process a verified inbound webhook
)

// Notification categories named by the rules (users set preferences per category).
const (
	CategoryNewMessage         = "new_message"
	CategoryStatusChange       = "status_change"
	CategoryAvailability       = "availability"
	CategoryBooking            = "booking"
	CategoryConflict           = "conflict"
	CategoryIntegrationFailure = "integration_failure"
	CategoryTask               = "task"
	CategoryDayOfChange        = "day_of_change"
)

// DayOfFlag is the boolean field of a task.updated event's data that marks a day-of
// critical task; it escalates the category to CategoryDayOfChange.
const DayOfFlag = "critical"

// DefaultRules is the routing table: one row per event type in event.Types.
// supabase-config/routes.md explains it for humans; a test keeps the two in step.
var DefaultRules = []Rule{
	{Type: event.MessageCreated, Topics: []string{"conversation:{conversation_id}"}, Category: CategoryNewMessage, Integrations: []string{IntegrationWebhookOutbound}},
	{Type: event.MessageRead, Topics: []string{"conversation:{conversation_id}"}},
	{Type: event.VendorStatusChanged, Topics: []string{"wedding:{wedding_id}", "vendor:{vendor_id}"}, Category: CategoryStatusChange, Integrations: []string{IntegrationWebhookOutbound, IntegrationCRMPush}},
	{Type: event.AvailabilityChanged, Topics: []string{"vendor:{vendor_id}"}, Category: CategoryAvailability},
	{Type: event.BookingUpdated, Topics: []string{"vendor:{vendor_id}", "wedding:{wedding_id}"}, Category: CategoryBooking, Integrations: []string{IntegrationWebhookOutbound}},
	{Type: event.ConnectionChanged, Topics: []string{"vendor:{vendor_id}"}},
	{Type: event.WebhookReceived, Integrations: []string{IntegrationInboxProcess}},
	{Type: event.NotificationCreated, Topics: []string{"user:{user_id}"}},
	{Type: event.DeliveryUpdated, Topics: []string{"user:{user_id}"}},
	{Type: event.IntegrationFailed, Topics: []string{"vendor:{vendor_id}"}, Category: CategoryIntegrationFailure},
	{Type: event.ConflictDetected, Topics: []string{"vendor:{vendor_id}", "wedding:{wedding_id}"}, Category: CategoryConflict},
	{Type: event.BreakerChanged, Category: CategoryIntegrationFailure},
	{Type: event.TaskUpdated, Topics: []string{"wedding:{wedding_id}"}, Category: CategoryTask, Escalate: &Escalation{DataFlag: DayOfFlag, Category: CategoryDayOfChange}},
	{Type: event.Heartbeat},
}
