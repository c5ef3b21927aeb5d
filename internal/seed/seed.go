// Package seed names the well-known rows of supabase/seed.sql, the demo data that
// `vendorhub dev` loads and that tests get from pgtest.NewSeededDB.
//
// The demo: wedding WeddingID ("Ava & Noah at Thornbury Manor", Europe/London) with 32
// connected vendors of every kind, its couple, a planner, four conversations (one a thread) and
// messages; a second wedding OtherWeddingID with the outsider vendor, which is connected to no
// other wedding; an operator (OperatorUserID) who receives the dev breaker alerts. Every demo user's password is DemoPassword. No integration credentials are
// seeded. The seed_test.go test checks these values against the seed.
package seed

// DemoPassword is the password of every seeded auth user.
const DemoPassword = "vendorhub-demo"

// Weddings.
const (
	WeddingID      = "30000000-0000-4000-8000-000000000001" // Ava & Noah at Thornbury Manor, 2027-06-12, Europe/London
	OtherWeddingID = "30000000-0000-4000-8000-000000000002" // Mia & Leo in Kyoto, 2027-09-18, Asia/Tokyo
)

// WeddingVendorCount is how many vendors are connected to WeddingID.
const WeddingVendorCount = 32

// Users (auth.users ids).
const (
	CoupleUserID            = "10000000-0000-4000-8000-000000000001" // Ava Thompson, couple of WeddingID
	PartnerUserID           = "10000000-0000-4000-8000-000000000002" // Noah Patel, couple of WeddingID
	PlannerUserID           = "10000000-0000-4000-8000-000000000003" // Priya Shah, owner of PlannerVendorID
	PhotographerUserID      = "10000000-0000-4000-8000-000000000004" // Lena Ortiz, owner of PhotographerVendorID
	FloristUserID           = "10000000-0000-4000-8000-000000000005" // Sam Okafor, owner of FloristVendorID
	OutsiderUserID          = "10000000-0000-4000-8000-000000000006" // Oscar Reyes, owner of OutsiderVendorID
	OtherCoupleUserID       = "10000000-0000-4000-8000-000000000007" // Mia Laurent, couple of OtherWeddingID
	OtherPartnerUserID      = "10000000-0000-4000-8000-000000000008" // Leo Laurent, couple of OtherWeddingID
	PhotographerStaffUserID = "10000000-0000-4000-8000-000000000009" // Jules Kim, staff of PhotographerVendorID
	VenueUserID             = "10000000-0000-4000-8000-000000000106" // owner of VenueVendorID
	// OperatorUserID is the operator (app_metadata.role "operator", vendorhub.operator_ids()):
	// breaker alerts reach them in-app, and their JWT opens the dashboard.
	OperatorUserID = "10000000-0000-4000-8000-000000000010" // Olivia Grant
)

// CoupleUserIDs are both members of the couple of WeddingID.
var CoupleUserIDs = []string{CoupleUserID, PartnerUserID}

// Emails of the named users.
const (
	CoupleEmail            = "ava@example.com"
	PartnerEmail           = "noah@example.com"
	PlannerEmail           = "priya@harborandvine.example.com"
	PhotographerEmail      = "lena@lumenandlace.example.com"
	FloristEmail           = "sam@wildstem.example.com"
	OutsiderEmail          = "oscar@elsewhere.example.com"
	OtherCoupleEmail       = "mia@example.com"
	OtherPartnerEmail      = "leo@example.com"
	PhotographerStaffEmail = "jules@lumenandlace.example.com"
	OperatorEmail          = "ops@vendorhub.example.com"
)

// Vendors.
const (
	PhotographerVendorID = "20000000-0000-4000-8000-000000000001" // Lumen & Lace Photography (WeddingID, confirmed)
	FloristVendorID      = "20000000-0000-4000-8000-000000000002" // Wild Stem Florals (WeddingID, booked)
	PlannerVendorID      = "20000000-0000-4000-8000-000000000003" // Harbor & Vine Planning (WeddingID, confirmed)
	VenueVendorID        = "20000000-0000-4000-8000-000000000006" // Thornbury Manor (WeddingID, confirmed)
	LightBlueVendorID    = "20000000-0000-4000-8000-000000000031" // The Gilded Frame (WeddingID, inquiry)
	OutsiderVendorID     = "20000000-0000-4000-8000-000000000033" // Elsewhere Studio (OtherWeddingID only)
)

// Conversations.
const (
	ConversationID           = "40000000-0000-4000-8000-000000000001" // WeddingID: couple, photographer, planner
	ThreadConversationID     = "40000000-0000-4000-8000-000000000002" // thread of ConversationID: photographer, Ava, staff
	FloristConversationID    = "40000000-0000-4000-8000-000000000003" // WeddingID: couple, florist
	DayOfConversationID      = "40000000-0000-4000-8000-000000000004" // WeddingID: planner and day-of vendors
	OtherConversationID      = "40000000-0000-4000-8000-000000000005" // OtherWeddingID: couple, outsider
	FirstMessageID           = "50000000-0000-4000-8000-000000000001" // Ava's first message in ConversationID
	ConversationMessageCount = 3                                      // messages seeded in ConversationID
)

// ConversationParticipantIDs are the participants of ConversationID.
var ConversationParticipantIDs = []string{CoupleUserID, PartnerUserID, PlannerUserID, PhotographerUserID}

// Integration connections (no credentials seeded).
const (
	HoneyBookConnectionID       = "60000000-0000-4000-8000-000000000001" // PhotographerVendorID, active
	DubsadoConnectionID         = "60000000-0000-4000-8000-000000000002" // FloristVendorID, active
	GoogleCalendarConnectionID  = "60000000-0000-4000-8000-000000000003" // PhotographerVendorID, active
	OutboundWebhookConnectionID = "60000000-0000-4000-8000-000000000004" // PlannerVendorID, active
	LightBlueConnectionID       = "60000000-0000-4000-8000-000000000005" // LightBlueVendorID, needs_reauth
)

// In-app notifications.
const (
	CoupleReadNotificationID   = "70000000-0000-4000-8000-000000000001" // new_message, read
	CoupleUnreadNotificationID = "70000000-0000-4000-8000-000000000002" // status_change, unread
)
