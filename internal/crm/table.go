package crm

import (
	"strings"
	"time"
)

// Table is one CRM's Zapier bridge as data: its trigger names and the payload keys of each
// Record field. Map is the one mapper every table-described CRM (HoneyBook, Dubsado) uses;
// the rules per trigger live in Map, the CRM's names in its Table.
type Table struct {
	// Name is the CRM's name in errors.
	Name string
	// Triggers maps the CRM's trigger names, lower case, to triggers.
	Triggers map[string]Trigger
	// ProjectName lists the keys of the project's name, first non-empty wins.
	ProjectName []string
	// ClientName lists the keys whose values, joined by a space, make the client's name.
	ClientName []string
	// ClientID lists the keys of a NewClient record's id, first non-empty wins.
	ClientID []string
	// Stage is the key of the CRM's stage or status name.
	Stage string
	// Start and End are the keys of the project's dates; DateLabel names them in errors.
	Start, End, DateLabel string
	// ContractSigned is the key of a ContractSigned record's signing date.
	ContractSigned string
}

// Map implements Mapper: the payload's trigger picks the rule, the table names the fields.
//
//	NewClient       a contact: id from ClientID, no date or status
//	NewInquiry      status inquiry (upgrade only)
//	ProjectBooked   status booked (upgrade only)
//	ContractSigned  status booked (upgrade only), ContractSignedAt from ContractSigned (required)
//	PaymentReceived status booked (upgrade only), payment fields (SetPayment)
//	StatusChanged   statuses from the Stage name (StageStatus); Stage required
//
// Every trigger but NewClient needs project_id; dates are optional.
func (t Table) Map(payload []byte, loc *time.Location) (Record, error) {
	f, err := ParseFields(t.Name, payload)
	if err != nil {
		return Record{}, err
	}
	name := f["trigger"]
	tr, ok := t.Triggers[strings.ToLower(name)]
	if !ok {
		return Record{}, &MappingError{CRM: t.Name, Trigger: name, Reason: "unknown trigger"}
	}
	fail := func(reason string) (Record, error) {
		return Record{}, &MappingError{CRM: t.Name, Trigger: name, Reason: reason}
	}
	names := make([]string, 0, len(t.ClientName))
	for _, k := range t.ClientName {
		names = append(names, f[k])
	}
	r := Record{Trigger: tr, ProjectID: f["project_id"], ProjectName: f.First(t.ProjectName...),
		ClientEmail: strings.ToLower(f["client_email"]), ClientName: strings.TrimSpace(strings.Join(names, " ")), Stage: f[t.Stage]}
	if tr == NewClient {
		r.ProjectID = f.First(t.ClientID...)
		if r.ProjectID == "" {
			return fail(strings.Join(t.ClientID, " or ") + " is required")
		}
		return r, nil
	}
	if r.ProjectID == "" {
		return fail("project_id is required")
	}
	if d := f[t.Start]; d != "" {
		if r.Start, r.End, r.AllDay, err = Span(d, f[t.End], loc); err != nil {
			return fail(t.DateLabel + ": " + err.Error())
		}
	}
	switch tr {
	case NewInquiry:
		r.WeddingStatus, r.BookingStatus, r.Upgrade = "inquiry", "inquiry", true
	case ProjectBooked:
		r.WeddingStatus, r.BookingStatus, r.Upgrade = "booked", "booked", true
	case ContractSigned:
		at, _, err := ParseTime(f[t.ContractSigned], loc)
		if err != nil {
			return fail(t.ContractSigned + " is missing or not a date")
		}
		r.ContractSignedAt = at
		r.WeddingStatus, r.BookingStatus, r.Upgrade = "booked", "booked", true
	case PaymentReceived:
		if reason := SetPayment(&r, f, loc); reason != "" {
			return fail(reason)
		}
	case StatusChanged:
		if r.Stage == "" {
			return fail(t.Stage + " is required")
		}
		r.WeddingStatus, r.BookingStatus, _ = StageStatus(r.Stage)
	}
	return r, nil
}
