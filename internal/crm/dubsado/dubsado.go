// Package dubsado maps Dubsado's Zapier triggers (instant: New Project as Lead, New Project as
// Job, Project Status Updated, Contract Signed, New Payment Received) onto crm.Records. The
// vendor's Zap ends with "Webhooks by Zapier" POST to /webhooks/dubsado/<connection> with the
// X-Vendorhub-Secret header and this JSON body, each value mapped from the trigger's output field
// of the same name:
//
//	trigger              "New Project as Lead" | "New Project as Job" | "Project Status Updated" |
//	                     "Contract Signed" | "New Payment Received"
//	project_id           Project ID (required)
//	project_name         Project Name
//	project_status       Project Status
//	start_date           Project Start Date (date, or date and time)
//	end_date             Project End Date
//	client_first_name    Client: First Name
//	client_last_name     Client: Last Name
//	client_email         Client: Email
//	contract_id          Contract ID (Contract Signed)
//	contract_signed_date Date Signed (Contract Signed)
//	payment_id           Payment ID (New Payment Received)
//	payment_amount       Amount (New Payment Received)
//	payment_date         Payment Date (New Payment Received)
//	currency             Currency (optional, ISO 4217)
//
// The other direction — a new inquiry in the hub becoming a lead in Dubsado — uses Dubsado's
// "Create Project" Zapier action. A new inquiry is a vendor.status_changed event of scope
// "connection" with new_status "inquiry" and no old_status (a couple connected the vendor to
// their wedding as an inquiry; a status moved by a CRM trigger has an old status and never
// echoes back). For each active Dubsado connection of the vendor whose Zapier catch hook is
// registered as an outbound endpoint (webhook_endpoints.connection_id), the connectors' hand-off
// sink enqueues a Standard Webhooks-signed delivery whose body is a Message of type
// CreateProjectType carrying a Project; the outbound worker sends it (retries, secrets, replay)
// and the vendor's Zap maps its data fields onto the action.
package dubsado

import (
	"time"

	"github.com/wedsync/vendorhub/internal/crm"
)

// Name is the CRM's name in errors.
const Name = "dubsado"

// Mapper is Dubsado's crm.Mapper: crm.Table's rules with Dubsado's names.
type Mapper struct{}

// Table is Dubsado's trigger and field names.
var Table = crm.Table{
	Name: Name,
	Triggers: map[string]crm.Trigger{
		"new project as lead": crm.NewInquiry, "new_project_as_lead": crm.NewInquiry,
		"new project as job": crm.ProjectBooked, "new_project_as_job": crm.ProjectBooked,
		"project status updated": crm.StatusChanged, "project_status_updated": crm.StatusChanged,
		"contract signed": crm.ContractSigned, "contract_signed": crm.ContractSigned,
		"new payment received": crm.PaymentReceived, "new_payment_received": crm.PaymentReceived,
	},
	ProjectName: []string{"project_name"},
	ClientName:  []string{"client_first_name", "client_last_name"},
	Stage:       "project_status",
	Start:       "start_date", End: "end_date", DateLabel: "start_date/end_date",
	ContractSigned: "contract_signed_date",
}

// Map implements crm.Mapper.
func (Mapper) Map(payload []byte, loc *time.Location) (crm.Record, error) {
	return Table.Map(payload, loc)
}
