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
	"strings"
	"time"

	"github.com/wedsync/vendorhub/internal/crm"
)

// Name is the CRM's name in errors.
const Name = "honeybook"

// Mapper is HoneyBook's crm.Mapper.
type Mapper struct{}

var triggers = map[string]crm.Trigger{
	"new inquiry": crm.NewInquiry, "new_inquiry": crm.NewInquiry,
	"new client": crm.NewClient, "new_client": crm.NewClient,
	"project booked": crm.ProjectBooked, "project_booked": crm.ProjectBooked,
	"payment received": crm.PaymentReceived, "payment_received": crm.PaymentReceived,
	"project stage changed": crm.StatusChanged, "project_stage_changed": crm.StatusChanged, "status_changed": crm.StatusChanged,
}

// Map implements crm.Mapper.
func (Mapper) Map(payload []byte, loc *time.Location) (crm.Record, error) {
	f, err := crm.ParseFields(Name, payload)
	if err != nil {
		return crm.Record{}, err
	}
	name := f["trigger"]
	tr, ok := triggers[strings.ToLower(name)]
	if !ok {
		return crm.Record{}, &crm.MappingError{CRM: Name, Trigger: name, Reason: "unknown trigger"}
	}
	fail := func(reason string) (crm.Record, error) {
		return crm.Record{}, &crm.MappingError{CRM: Name, Trigger: name, Reason: reason}
	}
	r := crm.Record{Trigger: tr, ProjectID: f["project_id"], ProjectName: f.First("project_name", "project_type"),
		ClientEmail: strings.ToLower(f["client_email"]), ClientName: f["client_name"], Stage: f["stage"]}
	if tr == crm.NewClient {
		r.ProjectID = f.First("client_id", "client_email")
		if r.ProjectID == "" {
			return fail("client_id or client_email is required")
		}
		return r, nil
	}
	if r.ProjectID == "" {
		return fail("project_id is required")
	}
	if d := f["project_date"]; d != "" {
		if r.Start, r.End, r.AllDay, err = crm.Span(d, f["project_end"], loc); err != nil {
			return fail("project_date: " + err.Error())
		}
	}
	switch tr {
	case crm.NewInquiry:
		r.WeddingStatus, r.BookingStatus, r.Upgrade = "inquiry", "inquiry", true
	case crm.ProjectBooked:
		r.WeddingStatus, r.BookingStatus, r.Upgrade = "booked", "booked", true
	case crm.PaymentReceived:
		if reason := crm.SetPayment(&r, f, loc); reason != "" {
			return fail(reason)
		}
	case crm.StatusChanged:
		if r.Stage == "" {
			return fail("stage is required")
		}
		r.WeddingStatus, r.BookingStatus, _ = crm.StageStatus(r.Stage)
	}
	return r, nil
}
