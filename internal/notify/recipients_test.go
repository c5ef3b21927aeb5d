package notify_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/notify"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
)

// An address a user types is reachable only once verified: a third party's address typed into
// one's own settings is never emailed or texted; one's confirmed sign-in address is.
func TestRecipientReachesOnlyVerifiedAddresses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := pgtest.NewDB(t)
	u := nt.NewUser(t, db.Pool, nt.User{Email: "written.by.server@example.com", Phone: "+447700900001"})
	_, err := db.Pool.Exec(ctx, `update auth.users set email = 'me@example.com', email_confirmed_at = now(),
		phone = '447700900002', phone_confirmed_at = now() where id = $1`, u.ID)
	require.NoError(t, err)

	reach := func() map[channel.Kind]bool {
		r, err := notify.LoadRecipient(ctx, db.Pool, u.ID)
		require.NoError(t, err)
		return r.Reachable
	}
	asUser := func(sql string) {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			if err := pgtest.AsUser(ctx, tx, u.ID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql)
			return err
		})
		require.NoError(t, err)
	}

	got := reach()
	require.True(t, got[channel.Email], "an address the server wrote is verified")
	require.True(t, got[channel.SMS])

	asUser(`update public.notification_settings set email = 'victim@example.com', phone = '+15555550100'`)
	got = reach()
	require.False(t, got[channel.Email], "a typed third-party address is not emailed")
	require.False(t, got[channel.SMS], "a typed third-party number is not texted")

	asUser(`update public.notification_settings set email = 'Me@Example.com', phone = '+447700900002'`)
	got = reach()
	require.True(t, got[channel.Email], "the user's confirmed sign-in email is verified at once")
	require.True(t, got[channel.SMS], "the user's confirmed sign-in phone is verified at once")
}
