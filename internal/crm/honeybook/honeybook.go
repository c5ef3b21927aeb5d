// Package honeybook maps HoneyBook's Zapier triggers (New Inquiry, New Client, Project Booked,
// Payment Received, Project Stage Changed: polling triggers, so data can arrive up to 15 minutes
// late) onto crm.Records. HoneyBook has no public API: the vendor's Zap ends with "Webhooks by
// Zapier" POST to /webhooks/honeybook/<connection> with the X-Vendorhub-Secret header and this
// JSON body (payload type json), each value mapped from the trigger's output field of the same
// name:
//
//	trigger         "New Inquiry" | "New Client" | "Project Booked" | "Payment Received" | "Project Stage Changed"
//	project_id      Project ID            (required except New Client)
//	project_name    Project Name
//	project_type    Project Type
//	project_date    Project Date / Event Date (date, or date and time)
//	project_end     Project End Date (optional)
//	stage           Stage / Pipeline Stage (Project Stage Changed)
//	client_name     Client Full Name
//	client_email    Client Email
//	client_id       Client ID (New Client)
//	payment_id      Payment ID (Payment Received)
//	payment_amount  Amount (Payment Received)
//	payment_date    Paid Date (Payment Received)
//	currency        Currency (optional, ISO 4217)
package honeybook

import (
	"time"

	"github.com/wedsync/vendorhub/internal/crm"
)

// Name is the CRM's name in errors.
const Name = "honeybook"

// Mapper is HoneyBook's crm.Mapper: crm.Table's rules with HoneyBook's names.
type Mapper struct{}

// Table is HoneyBook's trigger and field names.
var Table = crm.Table{
	Name: Name,
	Triggers: map[string]crm.Trigger{
		"new inquiry": crm.NewInquiry, "new_inquiry": crm.NewInquiry,
		"new client": crm.NewClient, "new_client": crm.NewClient,
		"project booked": crm.ProjectBooked, "project_booked": crm.ProjectBooked,
		"payment received": crm.PaymentReceived, "payment_received": crm.PaymentReceived,
		"project stage changed": crm.StatusChanged, "project_stage_changed": crm.StatusChanged, "status_changed": crm.StatusChanged,
	},
	ProjectName: []string{"project_name", "project_type"},
	ClientName:  []string{"client_name"},
	ClientID:    []string{"client_id", "client_email"},
	Stage:       "stage",
	Start:       "project_date", End: "project_end", DateLabel: "project_date",
}

// Map implements crm.Mapper.
func (Mapper) Map(payload []byte, loc *time.Location) (crm.Record, error) {
	return Table.Map(payload, loc)
}
