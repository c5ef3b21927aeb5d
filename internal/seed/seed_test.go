package seed_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/seed"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSeedMatchesConstants checks the ids and emails in package seed against supabase/seed.sql,
// and the shape the demo promises (32 vendors of every kind on the wedding, an outsider on the
// other wedding only, no credentials).
func TestSeedMatchesConstants(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSeededDB(t)
	ctx := t.Context()

	users := map[string]string{
		seed.CoupleUserID:            seed.CoupleEmail,
		seed.PartnerUserID:           seed.PartnerEmail,
		seed.PlannerUserID:           seed.PlannerEmail,
		seed.PhotographerUserID:      seed.PhotographerEmail,
		seed.FloristUserID:           seed.FloristEmail,
		seed.OutsiderUserID:          seed.OutsiderEmail,
		seed.OtherCoupleUserID:       seed.OtherCoupleEmail,
		seed.OtherPartnerUserID:      seed.OtherPartnerEmail,
		seed.PhotographerStaffUserID: seed.PhotographerStaffEmail,
		seed.OperatorUserID:          seed.OperatorEmail,
	}
	for id, email := range users {
		var got string
		require.NoError(t, db.Pool.QueryRow(ctx, `select email from auth.users where id = $1`, id).Scan(&got), "user %s", id)
		require.Equal(t, email, got, "email of %s", id)
	}
	var passwordOK bool
	require.NoError(t, db.Pool.QueryRow(ctx,
		`select encrypted_password = extensions.crypt($2, encrypted_password) from auth.users where id = $1`,
		seed.CoupleUserID, seed.DemoPassword).Scan(&passwordOK))
	require.True(t, passwordOK, "DemoPassword is the seeded password")

	var operators []string
	require.NoError(t, pgxSelect(t, db, &operators, `select id::text from vendorhub.operator_ids() as id`))
	require.Equal(t, []string{seed.OperatorUserID}, operators, "the seed's one operator receives in-app alerts")

	var couple []string
	require.NoError(t, pgxSelect(t, db, &couple,
		`select user_id::text from public.wedding_couples where wedding_id = $1 order by user_id`, seed.WeddingID))
	require.Equal(t, seed.CoupleUserIDs, couple)

	var vendors, kinds int
	require.NoError(t, db.Pool.QueryRow(ctx,
		`select count(*), count(distinct v.kind) from public.wedding_vendors wv join public.vendors v on v.id = wv.vendor_id
		 where wv.wedding_id = $1`, seed.WeddingID).Scan(&vendors, &kinds))
	require.Equal(t, seed.WeddingVendorCount, vendors)
	require.Equal(t, 15, kinds, "every vendor kind is on the demo wedding")

	var outsiderWeddings []string
	require.NoError(t, pgxSelect(t, db, &outsiderWeddings,
		`select wedding_id::text from public.wedding_vendors where vendor_id = $1`, seed.OutsiderVendorID))
	require.Equal(t, []string{seed.OtherWeddingID}, outsiderWeddings)

	owners := map[string]string{
		seed.PhotographerVendorID: seed.PhotographerUserID,
		seed.FloristVendorID:      seed.FloristUserID,
		seed.PlannerVendorID:      seed.PlannerUserID,
		seed.VenueVendorID:        seed.VenueUserID,
		seed.OutsiderVendorID:     seed.OutsiderUserID,
	}
	for vendor, user := range owners {
		var role string
		require.NoError(t, db.Pool.QueryRow(ctx,
			`select role from public.vendor_members where vendor_id = $1 and user_id = $2`, vendor, user).Scan(&role), "owner of %s", vendor)
		require.Equal(t, "owner", role)
	}

	var participants []string
	require.NoError(t, pgxSelect(t, db, &participants,
		`select user_id::text from public.conversation_participants where conversation_id = $1 order by user_id`, seed.ConversationID))
	require.ElementsMatch(t, seed.ConversationParticipantIDs, participants)
	var messages int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.messages where conversation_id = $1`, seed.ConversationID).Scan(&messages))
	require.Equal(t, seed.ConversationMessageCount, messages)
	var parent string
	require.NoError(t, db.Pool.QueryRow(ctx, `select parent_id::text from public.conversations where id = $1`, seed.ThreadConversationID).Scan(&parent))
	require.Equal(t, seed.ConversationID, parent)
	for _, id := range []string{seed.FloristConversationID, seed.DayOfConversationID, seed.OtherConversationID} {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from public.conversations where id = $1`, id).Scan(&n))
		require.Equal(t, 1, n, "conversation %s", id)
	}
	var first string
	require.NoError(t, db.Pool.QueryRow(ctx, `select sender_id::text from public.messages where id = $1`, seed.FirstMessageID).Scan(&first))
	require.Equal(t, seed.CoupleUserID, first)

	connections := map[string]string{
		seed.HoneyBookConnectionID:       "honeybook",
		seed.DubsadoConnectionID:         "dubsado",
		seed.GoogleCalendarConnectionID:  "google_calendar",
		seed.OutboundWebhookConnectionID: "outbound_webhook",
		seed.LightBlueConnectionID:       "lightblue",
	}
	for id, kind := range connections {
		var got string
		require.NoError(t, db.Pool.QueryRow(ctx, `select kind from public.integration_connections where id = $1`, id).Scan(&got), "connection %s", id)
		require.Equal(t, kind, got)
	}
	var creds int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(*) from vendorhub.integration_credentials`).Scan(&creds))
	require.Zero(t, creds, "the seed holds no credentials")

	var read, unread bool
	require.NoError(t, db.Pool.QueryRow(ctx,
		`select (select read_at is not null from public.notifications where id = $1),
		        (select read_at is null from public.notifications where id = $2)`,
		seed.CoupleReadNotificationID, seed.CoupleUnreadNotificationID).Scan(&read, &unread))
	require.True(t, read && unread)

	var zones int
	require.NoError(t, db.Pool.QueryRow(ctx, `select count(distinct timezone) from public.notification_settings`).Scan(&zones))
	require.GreaterOrEqual(t, zones, 4, "settings span several time zones")
}

// pgxSelect collects the single text column of a query.
func pgxSelect(t *testing.T, db *pgtest.DB, dst *[]string, sql string, args ...any) error {
	t.Helper()
	rows, err := db.Pool.Query(t.Context(), sql, args...)
	if err != nil {
		return err
	}
	*dst, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}
