// Package notifytest builds the fixtures the notification tests share: users with
// notification settings, preferences and devices, conversations, routed events, and a
// started River client. It is imported by tests only.
package notifytest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/route"
)

// User describes a test user.
type User struct {
	// TZ is the IANA time zone; "" = UTC.
	TZ string
	// Quiet is the quiet window as "HH:MM-HH:MM"; "" = none.
	Quiet string
	// Email and Phone are the addresses; "" = none.
	Email, Phone string
	// Devices is the number of push devices to register.
	Devices int
	// Prefs maps "category/channel" to enabled.
	Prefs map[string]bool
}

// Created is a user the fixtures wrote.
type Created struct {
	ID     string
	Tokens []string
}

var seq atomic.Int64

// NewUser writes u (auth user, settings, preferences, devices) and returns its id and tokens.
func NewUser(t testing.TB, pool *pgxpool.Pool, u User) Created {
	t.Helper()
	ctx := context.Background()
	c := Created{ID: uuid.NewString()}
	_, err := pool.Exec(ctx, `insert into auth.users (id, email, aud, role, created_at) values ($1, $2, 'authenticated', 'authenticated', now())`,
		c.ID, fmt.Sprintf("user%d@example.com", seq.Add(1)))
	require.NoError(t, err)
	var qs, qe *string
	if u.Quiet != "" {
		var a, b string
		_, err := fmt.Sscanf(u.Quiet, "%5s-%5s", &a, &b)
		require.NoError(t, err)
		qs, qe = &a, &b
	}
	tz := u.TZ
	if tz == "" {
		tz = "UTC"
	}
	_, err = pool.Exec(ctx, `insert into public.notification_settings (user_id, timezone, quiet_hours_start, quiet_hours_end, email, phone)
values ($1, $2, $3::time, $4::time, nullif($5, ''), nullif($6, ''))`, c.ID, tz, qs, qe, u.Email, u.Phone)
	require.NoError(t, err)
	for k, v := range u.Prefs {
		cat, ch, ok := strings.Cut(k, "/")
		require.True(t, ok, "pref %q: want category/channel", k)
		_, err = pool.Exec(ctx, `insert into public.notification_preferences (user_id, category, channel, enabled) values ($1, $2, $3, $4)`, c.ID, cat, ch, v)
		require.NoError(t, err)
	}
	for i := 0; i < u.Devices; i++ {
		tok := fmt.Sprintf("fcm-token-%s-%02d-xxxxxxxxxxxxxxxx", c.ID, i)
		_, err := pool.Exec(ctx, `insert into public.devices (user_id, platform, token) values ($1, 'android', $2)`, c.ID, tok)
		require.NoError(t, err)
		c.Tokens = append(c.Tokens, tok)
	}
	return c
}

// Wedding writes a wedding and returns its id.
func Wedding(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(context.Background(),
		`insert into public.weddings (title, wedding_date) values ('Test wedding', '2027-06-12') returning id::text`).Scan(&id))
	return id
}

// Conversation writes a conversation of wedding with participants and returns its id.
func Conversation(t testing.TB, pool *pgxpool.Pool, wedding string, participants ...string) string {
	t.Helper()
	ctx := context.Background()
	var id string
	require.NoError(t, pool.QueryRow(ctx, `insert into public.conversations (wedding_id, subject) values ($1, 'Planning') returning id::text`, wedding).Scan(&id))
	for _, p := range participants {
		_, err := pool.Exec(ctx, `insert into public.conversation_participants (conversation_id, user_id) values ($1, $2)`, id, p)
		require.NoError(t, err)
	}
	return id
}

// Vendor writes a vendor with members, connected to wedding with status, and returns its id.
func Vendor(t testing.TB, pool *pgxpool.Pool, wedding, status string, members ...string) string {
	t.Helper()
	ctx := context.Background()
	var id string
	require.NoError(t, pool.QueryRow(ctx, `insert into public.vendors (name, kind) values ('Vendor', 'florist') returning id::text`).Scan(&id))
	for _, m := range members {
		_, err := pool.Exec(ctx, `insert into public.vendor_members (vendor_id, user_id) values ($1, $2)`, id, m)
		require.NoError(t, err)
	}
	if wedding != "" {
		_, err := pool.Exec(ctx, `insert into public.wedding_vendors (wedding_id, vendor_id, status) values ($1, $2, $3)`, wedding, id, status)
		require.NoError(t, err)
	}
	return id
}

// Message is a routed message.created event as the pipeline hands it to sinks.
func Message(key event.Key, at time.Time, wedding, conversation, sender string, participants []string) route.Routed {
	data, _ := json.Marshal(map[string]any{"message_id": uuid.NewString(), "conversation_id": conversation,
		"sender_id": sender, "body_preview": "Can we move the ceremony to 4pm?"})
	return route.Routed{
		Event: event.Event{
			Envelope: event.Envelope{ID: uuid.NewString(), Type: event.MessageCreated, OccurredAt: at, WeddingID: &wedding,
				Actor: &sender, Subject: event.Subject{Table: "messages", ID: uuid.NewString(), ConversationID: &conversation,
					Participants: participants}, Data: data},
			Key: key, CommitTime: at,
		},
		Topics:   []string{"conversation:" + conversation},
		Category: notify.CategoryNewMessage,
	}
}

// Event is a routed event of type typ with category, for other event types.
func Event(key event.Key, at time.Time, typ event.Type, category string, wedding, vendor *string, userID *string, data map[string]any) route.Routed {
	d, _ := json.Marshal(data)
	return route.Routed{
		Event: event.Event{
			Envelope: event.Envelope{ID: uuid.NewString(), Type: typ, OccurredAt: at, WeddingID: wedding,
				Subject: event.Subject{Table: "test", ID: uuid.NewString(), VendorID: vendor, UserID: userID}, Data: d},
			Key: key, CommitTime: at,
		},
		Category: category,
	}
}

// HandOff runs sink in one committed transaction, as the replication hand-off does.
func HandOff(t testing.TB, pool *pgxpool.Pool, sink interface {
	HandOff(context.Context, pgx.Tx, []route.Routed) error
}, events ...route.Routed) {
	t.Helper()
	require.NoError(t, pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		return sink.HandOff(context.Background(), tx, events)
	}))
}

// River returns a River client on pool working queue notify.Queue with workers (nil for
// insert-only), started when workers is set and stopped at cleanup.
func River(t testing.TB, pool *pgxpool.Pool, workers *river.Workers) *river.Client[pgx.Tx] {
	t.Helper()
	cfg := jobs.Config{Workers: workers, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if workers != nil {
		cfg.Queues = map[string]river.QueueConfig{notify.Queue: {MaxWorkers: 20}}
	}
	c, err := jobs.NewClient(pool, cfg)
	require.NoError(t, err)
	if workers != nil {
		require.NoError(t, c.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Stop(ctx)
		})
	}
	return c
}

// Count runs a count query.
func Count(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// GroupChat is a wedding's group chat: its couple and one member per vendor.
type GroupChat struct {
	WeddingID, ConversationID, Couple string
	Vendors                           []string
}

// GroupChatMessages returns rounds of message.created events as the planner receives them:
// each round one message per chat, from the chat's vendors in turn, round r committed
// r×step after start, keys numbered from *lsn on (advanced past the last).
func GroupChatMessages(chats []GroupChat, rounds int, start time.Time, step time.Duration, lsn *uint64) []route.Routed {
	events := make([]route.Routed, 0, rounds*len(chats))
	for r := range rounds {
		for _, c := range chats {
			sender := c.Vendors[r%len(c.Vendors)]
			participants := append([]string{c.Couple}, c.Vendors...)
			data, _ := json.Marshal(map[string]any{"sender_id": sender, "body_preview": "Running 10 minutes late"})
			wid, conv := c.WeddingID, c.ConversationID
			*lsn++
			events = append(events, route.Routed{Event: event.Event{Envelope: event.Envelope{ID: uuid.NewString(),
				Type: event.MessageCreated, WeddingID: &wid, Actor: &sender,
				Subject: event.Subject{Table: "messages", ID: uuid.NewString(), ConversationID: &conv, Participants: participants},
				Data:    data}, Key: event.Key{CommitLSN: *lsn}, CommitTime: start.Add(time.Duration(r) * step)},
				Category: notify.CategoryNewMessage})
		}
	}
	return events
}
