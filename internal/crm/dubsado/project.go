package dubsado

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// CreateProjectType is the type of the hub's message to a Dubsado connection's Zapier catch
// hook: a new inquiry to turn into a lead with Dubsado's "Create Project" action.
const CreateProjectType = "dubsado.create_project"

// LeadStatus is the project status the action is asked to create (a lead, not a job).
const LeadStatus = "Lead"

// Project is what Dubsado's "Create Project" Zapier action needs, one field per action input,
// named like the trigger fields this package maps in (the vendor's Zap maps data.<field> to the
// action's input of the same name):
//
//	project_name       Project Name           the wedding's title
//	project_status     Project Status         always "Lead"
//	start_date         Project Start Date     the wedding date (YYYY-MM-DD, the wedding's zone)
//	end_date           Project End Date       the same day
//	client_first_name  Client: First Name     the couple member the hub knows first
//	client_last_name   Client: Last Name
//	client_email       Client: Email          (Dubsado finds or creates the client by email)
//	lead_source        Lead Source            always "vendorhub"
//	notes              Project Notes          who asked, for which wedding, and the reference
//	reference          (for the Zap's dedupe)  "vendorhub-<wedding_vendors id>", stable per inquiry
//
// wedding_id, vendor_id and timezone are there for Zaps that look the wedding up in the hub.
type Project struct {
	Reference       string `json:"reference"`
	ProjectName     string `json:"project_name"`
	ProjectStatus   string `json:"project_status"`
	StartDate       string `json:"start_date"`
	EndDate         string `json:"end_date"`
	ClientFirstName string `json:"client_first_name"`
	ClientLastName  string `json:"client_last_name"`
	ClientEmail     string `json:"client_email"`
	LeadSource      string `json:"lead_source"`
	Notes           string `json:"notes"`
	WeddingID       string `json:"wedding_id"`
	VendorID        string `json:"vendor_id"`
	TimeZone        string `json:"timezone"`
}

// Inquiry is a new inquiry in the hub: a couple connected the vendor to their wedding.
type Inquiry struct {
	// WeddingVendorID is the wedding_vendors row (the inquiry's stable reference).
	WeddingVendorID string
	WeddingID       string
	VendorID        string
	// Title is the wedding's title; Date its day; TimeZone its zone.
	Title    string
	Date     time.Time
	TimeZone string
	// ClientName and ClientEmail are the first couple member's; Couple names them all.
	ClientName, ClientEmail, Couple string
}

// ErrNoClientEmail reports an inquiry without any couple email: Dubsado creates clients by
// email, so there is nothing to send.
var ErrNoClientEmail = errors.New("dubsado: inquiry has no client email")

// NewProject maps an inquiry onto the action's fields.
func NewProject(in Inquiry) (Project, error) {
	if in.ClientEmail == "" {
		return Project{}, ErrNoClientEmail
	}
	first, last, _ := strings.Cut(strings.TrimSpace(in.ClientName), " ")
	if first == "" {
		first, _, _ = strings.Cut(in.ClientEmail, "@")
	}
	day := in.Date.Format(time.DateOnly)
	who := in.Couple
	if who == "" {
		who = in.ClientEmail
	}
	return Project{
		Reference: "vendorhub-" + in.WeddingVendorID, ProjectName: in.Title, ProjectStatus: LeadStatus,
		StartDate: day, EndDate: day, ClientFirstName: first, ClientLastName: strings.TrimSpace(last),
		ClientEmail: in.ClientEmail, LeadSource: "vendorhub",
		Notes: "New enquiry from vendorhub: " + who + " for " + in.Title + " on " + in.Date.Format("Monday 2 January 2006") +
			". Reference vendorhub-" + in.WeddingVendorID + ".",
		WeddingID: in.WeddingID, VendorID: in.VendorID, TimeZone: in.TimeZone,
	}, nil
}

// Message is the signed body sent to the catch hook: Standard Webhooks' {type, timestamp, data}.
type Message struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Project   `json:"data"`
}

// Body renders p as the catch hook's body, stamped at (the inquiry event's time).
func Body(p Project, at time.Time) ([]byte, error) {
	return json.Marshal(Message{Type: CreateProjectType, Timestamp: at.UTC(), Data: p})
}
