package notify_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/notify"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/route"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func key(lsn uint64, i uint32) event.Key { return event.Key{CommitLSN: lsn, Index: i} }

func newPlanner(t *testing.T, db *pgtest.DB, cfg notify.Config) *notify.Planner {
	t.Helper()
	p, err := notify.NewPlanner(cfg, nt.River(t, db.Pool, nil))
	require.NoError(t, err)
	return p
}

func deliverJobs(t *testing.T, db *pgtest.DB, userID string) []notify.DeliverArgs {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		`select args from river.river_job where kind = 'notify.deliver' and args->>'user_id' = $1 order by id`, userID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notify.DeliverArgs, error) {
		var b []byte
		var a notify.DeliverArgs
		if err := r.Scan(&b); err != nil {
			return a, err
		}
		return a, json.Unmarshal(b, &a)
	})
	require.NoError(t, err)
	return out
}

func TestPlannerMessageAndReplay(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	sender := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	withPush := nt.NewUser(t, db.Pool, nt.User{Devices: 2, Email: "b@example.com"})
	emailOnly := nt.NewUser(t, db.Pool, nt.User{Email: "c@example.com"})
	muted := nt.NewUser(t, db.Pool, nt.User{Devices: 1, Prefs: map[string]bool{
		"new_message/push": false, "new_message/email": false, "new_message/sms": false, "new_message/in_app": false}})
	wed := nt.Wedding(t, db.Pool)
	conv := nt.Conversation(t, db.Pool, wed, sender.ID, withPush.ID, emailOnly.ID, muted.ID)
	p := newPlanner(t, db, notify.Config{})
	ev := nt.Message(key(0x16B3748, 3), time.Now(), wed, conv, sender.ID, []string{sender.ID, withPush.ID, emailOnly.ID, muted.ID})
	nt.HandOff(t, db.Pool, p, ev)

	require.Zero(t, nt.Count(t, db.Pool, `select count(*) from public.notifications where user_id = $1`, sender.ID), "the actor is not told")
	require.Zero(t, nt.Count(t, db.Pool, `select count(*) from public.notifications where user_id = $1`, muted.ID), "a muted category writes nothing")
	var title, body, evKey string
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`select title, body, event_key from public.notifications where user_id = $1`, withPush.ID).Scan(&title, &body, &evKey))
	require.Equal(t, "New message", title)
	require.Equal(t, "Can we move the ceremony to 4pm?", body)
	require.Equal(t, "16b3748/3", evKey)
	require.Equal(t, []notify.DeliverArgs{{NotificationID: deliverJobs(t, db, withPush.ID)[0].NotificationID, UserID: withPush.ID,
		Channel: channel.Push, Rest: []channel.Kind{channel.Email}}}, deliverJobs(t, db, withPush.ID))
	ej := deliverJobs(t, db, emailOnly.ID)
	require.Len(t, ej, 1)
	require.Equal(t, channel.Email, ej[0].Channel, "no device: the chain starts at email")
	require.Empty(t, ej[0].Rest)

	// A replay after a crash hands the same event over again: nothing new.
	nt.HandOff(t, db.Pool, p, ev)
	require.Equal(t, 2, nt.Count(t, db.Pool, `select count(*) from public.notifications`))
	require.Equal(t, 2, nt.Count(t, db.Pool, `select count(*) from river.river_job where kind = 'notify.deliver'`))
}

func TestPlannerAudiences(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	couple1 := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	couple2 := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	florist := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	floristStaff := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	dj := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	inquiring := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	outsider := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	wed := nt.Wedding(t, db.Pool)
	for _, u := range []string{couple1.ID, couple2.ID} {
		_, err := db.Pool.Exec(ctx, `insert into public.wedding_couples (wedding_id, user_id) values ($1, $2)`, wed, u)
		require.NoError(t, err)
	}
	floristID := nt.Vendor(t, db.Pool, wed, "booked", florist.ID, floristStaff.ID)
	nt.Vendor(t, db.Pool, wed, "confirmed", dj.ID)
	nt.Vendor(t, db.Pool, wed, "inquiry", inquiring.ID)
	nt.Vendor(t, db.Pool, "", "", outsider.ID)
	p := newPlanner(t, db, notify.Config{})

	// A status change by the florist's owner: the couple and the florist's other member.
	st := nt.Event(key(0x100, 0), time.Now(), event.VendorStatusChanged, notify.CategoryStatusChange, &wed, &floristID, nil,
		map[string]any{"old_status": "booked", "new_status": "confirmed"})
	st.Actor = &florist.ID
	// A day-of change: critical, every booked or confirmed vendor's members and the couple.
	day := nt.Event(key(0x100, 1), time.Now(), event.VendorStatusChanged, notify.CategoryDayOfChange, &wed, &floristID, nil,
		map[string]any{"scope": "day_of"})
	// Availability: changed by the florist's owner → the other member; by a calendar sync
	// (no actor) → nobody.
	avail := nt.Event(key(0x100, 2), time.Now(), event.AvailabilityChanged, notify.CategoryAvailability, nil, &floristID, nil, nil)
	avail.Actor = &florist.ID
	sync := nt.Event(key(0x100, 3), time.Now(), event.AvailabilityChanged, notify.CategoryAvailability, nil, &floristID, nil, nil)
	nt.HandOff(t, db.Pool, p, st, day, avail, sync)

	users := func(k string) []string {
		rows, err := db.Pool.Query(ctx, `select user_id::text from public.notifications where event_key = $1 order by user_id`, k)
		require.NoError(t, err)
		u, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return u
	}
	require.ElementsMatch(t, []string{couple1.ID, couple2.ID, floristStaff.ID}, users("100/0"))
	require.ElementsMatch(t, []string{couple1.ID, couple2.ID, florist.ID, floristStaff.ID, dj.ID}, users("100/1"))
	require.Equal(t, []string{floristStaff.ID}, users("100/2"))
	require.Empty(t, users("100/3"))
	var title, body string
	require.NoError(t, db.Pool.QueryRow(ctx, `select title, body from public.notifications where event_key = '100/0' limit 1`).Scan(&title, &body))
	require.Equal(t, "Vendor status changed", title)
	require.Equal(t, "booked → confirmed", body)
	for _, a := range deliverJobs(t, db, dj.ID) {
		require.True(t, a.Critical)
		require.Equal(t, []channel.Kind{channel.Push}, append([]channel.Kind{a.Channel}, a.Rest...), "no email or phone: push only")
	}
}

func TestPlannerQuietHoursDeferral(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	// 01:30 EST on the night New York springs forward; quiet until 07:00 EDT = 11:00 UTC.
	at := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)
	sender := nt.NewUser(t, db.Pool, nt.User{})
	sleeper := nt.NewUser(t, db.Pool, nt.User{TZ: "America/New_York", Quiet: "22:00-07:00", Devices: 1, Email: "s@example.com"})
	emailFirst := nt.NewUser(t, db.Pool, nt.User{TZ: "America/New_York", Quiet: "22:00-07:00", Devices: 1, Email: "e@example.com",
		Prefs: map[string]bool{"new_message/push": false}})
	wed := nt.Wedding(t, db.Pool)
	conv := nt.Conversation(t, db.Pool, wed, sender.ID, sleeper.ID, emailFirst.ID)
	p := newPlanner(t, db, notify.Config{})
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x200, 0), at, wed, conv, sender.ID, []string{sender.ID, sleeper.ID, emailFirst.ID}))

	var scheduled time.Time
	var state string
	require.NoError(t, db.Pool.QueryRow(ctx, `select scheduled_at, state from river.river_job where kind = 'notify.deliver' and args->>'user_id' = $1`,
		sleeper.ID).Scan(&scheduled, &state))
	require.Equal(t, time.Date(2026, 3, 8, 11, 0, 0, 0, time.UTC), scheduled.UTC(), "deferred to the end of the window, not dropped")
	require.Equal(t, string(rivertype.JobStateScheduled), state)
	var status, code, ch string
	require.NoError(t, db.Pool.QueryRow(ctx, `select status, error_code, channel from public.deliveries where user_id = $1`, sleeper.ID).Scan(&status, &code, &ch))
	require.Equal(t, []string{"deferred", "quiet_hours", "push"}, []string{status, code, ch})

	require.NoError(t, db.Pool.QueryRow(ctx, `select state from river.river_job where kind = 'notify.deliver' and args->>'user_id' = $1`,
		emailFirst.ID).Scan(&state))
	require.Equal(t, string(rivertype.JobStateAvailable), state, "email is not held back by quiet hours")
	require.Zero(t, nt.Count(t, db.Pool, `select count(*) from public.deliveries where user_id = $1`, emailFirst.ID))
}

// TestDigestBurst: after a message opened the window, a burst of 20 more becomes one
// digest notification per recipient.
func TestDigestBurst(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	couple := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	planner := nt.NewUser(t, db.Pool, nt.User{Email: "planner@example.com"})
	v := []nt.Created{nt.NewUser(t, db.Pool, nt.User{}), nt.NewUser(t, db.Pool, nt.User{}), nt.NewUser(t, db.Pool, nt.User{})}
	wed := nt.Wedding(t, db.Pool)
	for _, u := range v {
		nt.Vendor(t, db.Pool, wed, "booked", u.ID)
	}
	all := []string{couple.ID, planner.ID, v[0].ID, v[1].ID, v[2].ID}
	conv := nt.Conversation(t, db.Pool, wed, all...)
	cfg := notify.Config{Window: time.Minute, Inactivity: 30 * time.Second, MaxWait: 5 * time.Minute}
	p := newPlanner(t, db, cfg)

	t0 := time.Now().Add(-time.Hour).Truncate(time.Second) // the digest is due as soon as a worker looks
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x300, 0), t0, wed, conv, v[0].ID, all))
	for i := 1; i <= 20; i++ {
		nt.HandOff(t, db.Pool, p, nt.Message(key(0x300+uint64(i), 0), t0.Add(time.Duration(i)*time.Second), wed, conv, v[i%3].ID, all))
	}
	require.Equal(t, 1, nt.Count(t, db.Pool, `select count(*) from public.notifications where user_id = $1`, couple.ID),
		"only the window's first message is notified at once")
	var pending int
	var flush time.Time
	require.NoError(t, db.Pool.QueryRow(ctx, `select pending_count, flush_at from vendorhub.notify_threads where user_id = $1`, couple.ID).Scan(&pending, &flush))
	require.Equal(t, 20, pending)
	require.Equal(t, t0.Add(time.Minute).UTC(), flush.UTC(), "never inside the window of the last push")
	require.Equal(t, len(all), nt.Count(t, db.Pool, `select count(*) from river.river_job where kind = 'notify.digest'`),
		"one digest job per recipient thread")

	dw, err := notify.NewDigestWorker(db.Pool, cfg)
	require.NoError(t, err)
	workers := river.NewWorkers()
	river.AddWorker(workers, dw)
	mailbox := channel.NewMailbox(db.Pool)
	w, err := deliver.NewWorker(db.Pool, deliver.Config{Senders: map[channel.Kind]channel.Sender{
		channel.Push: mailbox, channel.Email: mailbox, channel.SMS: mailbox}})
	require.NoError(t, err)
	river.AddWorker(workers, w)
	nt.River(t, db.Pool, workers)
	require.Eventually(t, func() bool {
		return nt.Count(t, db.Pool, `select count(*) from vendorhub.notify_threads where pending_count > 0`) == 0
	}, 20*time.Second, 50*time.Millisecond)

	titles := func(u string) []string {
		rows, err := db.Pool.Query(ctx, `select title from public.notifications where user_id = $1 order by created_at, title`, u)
		require.NoError(t, err)
		s, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return s
	}
	require.Equal(t, []string{"New message", "20 new messages from 3 vendors"}, titles(couple.ID))
	require.Equal(t, []string{"New message", "20 new messages from 3 vendors"}, titles(planner.ID))
	// v[0] sent the first message and 6 of the burst: it hears of 14, the first (i=1) at once.
	require.Equal(t, []string{"New message", "13 new messages from 2 vendors"}, titles(v[0].ID))
	// The digest is delivered like any notification: by push for the couple, by email for the planner.
	cj := deliverJobs(t, db, couple.ID)
	require.Len(t, cj, 2)
	require.Equal(t, channel.Push, cj[1].Channel)
	pj := deliverJobs(t, db, planner.ID)
	require.Len(t, pj, 2)
	require.Equal(t, channel.Email, pj[1].Channel)
	require.Eventually(t, func() bool {
		return nt.Count(t, db.Pool, `select count(*) from vendorhub.dev_mailbox where title like '20 new messages%'`) == 2
	}, 10*time.Second, 50*time.Millisecond, "the dev mailbox captured the couple's push and the planner's email")
}

func TestDigestSnoozesUntilQuiet(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	a := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	b := nt.NewUser(t, db.Pool, nt.User{})
	wed := nt.Wedding(t, db.Pool)
	conv := nt.Conversation(t, db.Pool, wed, a.ID, b.ID)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cfg := notify.Config{Window: 10 * time.Second, Inactivity: 30 * time.Second, MaxWait: 2 * time.Minute,
		Now: func() time.Time { return t0.Add(40 * time.Second) }}
	p := newPlanner(t, db, cfg)
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x400, 0), t0, wed, conv, b.ID, []string{a.ID, b.ID}))
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x401, 0), t0.Add(5*time.Second), wed, conv, b.ID, []string{a.ID, b.ID}))
	// A later message moves the flush to its own time + Inactivity.
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x402, 0), t0.Add(20*time.Second), wed, conv, b.ID, []string{a.ID, b.ID}))
	dw, err := notify.NewDigestWorker(db.Pool, cfg)
	require.NoError(t, err)
	err = dw.Work(ctx, &river.Job[notify.DigestArgs]{JobRow: &rivertype.JobRow{ID: 1}, Args: notify.DigestArgs{UserID: a.ID, Thread: "conversation:" + conv}})
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Equal(t, 10*time.Second, snooze.Duration, "flush at last message + 30 s inactivity = t0+50s; now is t0+40s")
	require.Equal(t, 1, nt.Count(t, db.Pool, `select count(*) from public.notifications where user_id = $1`, a.ID))
	require.Equal(t, 2, nt.Count(t, db.Pool, `select pending_count from vendorhub.notify_threads where user_id = $1`, a.ID))
}

func TestPlannerSkipsBadInput(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	p := newPlanner(t, db, notify.Config{})
	u := nt.NewUser(t, db.Pool, nt.User{Devices: 1})
	now := time.Now()
	bad := []route.Routed{
		nt.Event(key(0x500, 0), now, event.BookingUpdated, "no_such_category", nil, nil, &u.ID, nil),
		nt.Event(key(0x500, 1), now, event.IntegrationFailed, notify.CategoryIntegrationFailure, nil, nil, &u.ID,
			map[string]any{"kind": "delivery"}),
		nt.Event(key(0x500, 2), now, event.TaskUpdated, notify.CategoryTask, nil, nil, nil, nil), // nobody to tell
		{Event: event.Event{Envelope: event.Envelope{Type: event.BookingUpdated, Data: []byte(`not json`),
			Subject: event.Subject{UserID: &u.ID}}, Key: key(0x500, 3)}, Category: notify.CategoryBooking},
	}
	nt.HandOff(t, db.Pool, p, bad...)
	var keys []string
	rows, err := db.Pool.Query(context.Background(), `select event_key from public.notifications`)
	require.NoError(t, err)
	keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"500/3"}, keys, "only the well-addressed booking update; malformed data just means an empty body")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := notify.NewPlanner(notify.Config{Window: -time.Second}, nil)
	require.Error(t, err)
	_, err = notify.NewPlanner(notify.Config{Providers: map[channel.Kind]string{"fax": "x"}}, nil)
	require.Error(t, err)
	_, err = notify.NewPlanner(notify.Config{}, nil)
	require.ErrorContains(t, err, "JobInserter")
}

// Held senders accumulate across hand-offs in the order first seen, each once.
func TestPlannerHeldSendersAcrossHandOffs(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	u := []nt.Created{nt.NewUser(t, db.Pool, nt.User{}), nt.NewUser(t, db.Pool, nt.User{}), nt.NewUser(t, db.Pool, nt.User{}),
		nt.NewUser(t, db.Pool, nt.User{}), nt.NewUser(t, db.Pool, nt.User{})}
	reader, a, b, c, d := u[0].ID, u[1].ID, u[2].ID, u[3].ID, u[4].ID
	all := []string{reader, a, b, c, d}
	wed := nt.Wedding(t, db.Pool)
	conv := nt.Conversation(t, db.Pool, wed, all...)
	p := newPlanner(t, db, notify.Config{})
	t0 := time.Now().Truncate(time.Second)
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x500, 0), t0, wed, conv, a, all))
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x501, 0), t0.Add(time.Second), wed, conv, b, all),
		nt.Message(key(0x501, 1), t0.Add(time.Second), wed, conv, c, all))
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x502, 0), t0.Add(2*time.Second), wed, conv, b, all),
		nt.Message(key(0x502, 1), t0.Add(2*time.Second), wed, conv, d, all))
	// A replay of the last hand-off changes nothing.
	nt.HandOff(t, db.Pool, p, nt.Message(key(0x502, 0), t0.Add(2*time.Second), wed, conv, b, all),
		nt.Message(key(0x502, 1), t0.Add(2*time.Second), wed, conv, d, all))
	var pending int
	var senders []string
	require.NoError(t, db.Pool.QueryRow(ctx, `select pending_count, pending_senders::text[] from vendorhub.notify_threads where user_id = $1`, reader).
		Scan(&pending, &senders))
	require.Equal(t, 4, pending)
	require.Equal(t, []string{b, c, d}, senders)
	require.Equal(t, 1, nt.Count(t, db.Pool, `select count(*) from river.river_job where kind = 'notify.digest' and args->>'user_id' = $1`, reader))
}
