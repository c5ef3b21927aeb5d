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
//
// Topics follow the SELECT policy of the event's row (supabase/migrations/*rls*.sql): a topic's
// joiners (RLS on realtime.messages, 20261207000400_realtime_topics.sql) are exactly the
// row's readers, so no one receives an event about a row they may not read. Clients cannot
// broadcast on any of these topics (only on conversation:<id>:chatter), so none can be forged.
var DefaultRules = []Rule{
	// messages, conversation_participants: participants.
	{Type: event.MessageCreated, Topics: []string{"conversation:{conversation_id}"}, Category: CategoryNewMessage, Integrations: []string{IntegrationWebhookOutbound}},
	{Type: event.MessageRead, Topics: []string{"conversation:{conversation_id}"}},
	// wedding_vendors, vendor_status_updates: whoever sees the wedding (the vendor's members do).
	{Type: event.VendorStatusChanged, Topics: []string{"wedding:{wedding_id}", "vendor:{vendor_id}"}, Category: CategoryStatusChange, Integrations: []string{IntegrationWebhookOutbound, IntegrationCRMPush}},
	// availability_blocks: the vendor's members.
	{Type: event.AvailabilityChanged, Topics: []string{"vendor:{vendor_id}"}, Category: CategoryAvailability},
	// bookings: the vendor's members and the wedding's couple, not the wedding's other vendors.
	{Type: event.BookingUpdated, Topics: []string{"vendor:{vendor_id}", "couple:{wedding_id}"}, Category: CategoryBooking, Integrations: []string{IntegrationWebhookOutbound}},
	// integration_connections: the vendor's members.
	{Type: event.ConnectionChanged, Topics: []string{"vendor:{vendor_id}"}},
	{Type: event.WebhookReceived, Integrations: []string{IntegrationInboxProcess}},
	// notifications, deliveries: their user.
	{Type: event.NotificationCreated, Topics: []string{"user:{user_id}"}},
	{Type: event.DeliveryUpdated, Topics: []string{"user:{user_id}"}},
	{Type: event.IntegrationFailed, Topics: []string{"vendor:{vendor_id}"}, Category: CategoryIntegrationFailure},
	// A conflict names the vendor's other commitments (bookings, busy blocks): its members only.
	{Type: event.ConflictDetected, Topics: []string{"vendor:{vendor_id}"}, Category: CategoryConflict},
	{Type: event.BreakerChanged, Category: CategoryIntegrationFailure},
	// tasks: whoever sees the wedding.
	{Type: event.TaskUpdated, Topics: []string{"wedding:{wedding_id}"}, Category: CategoryTask, Escalate: &Escalation{DataFlag: DayOfFlag, Category: CategoryDayOfChange}},
	{Type: event.Heartbeat},
	// Not broadcast: the embedded gateway re-checks the channels it may have closed to someone.
	{Type: event.MembershipRemoved, Recheck: true},
}
