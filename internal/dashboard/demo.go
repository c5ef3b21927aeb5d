package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/auth"
)

// DemoTokenTTL is the lifetime of the JWT a demo page gets.
const DemoTokenTTL = 12 * time.Hour

// Categories and channels of the settings page (public.notification_category and
// public.notification_channel).
var (
	Categories = []string{"new_message", "status_change", "booking", "availability", "task", "conflict",
		"integration_failure", "day_of_change"}
	Channels = []string{"push", "email", "sms", "in_app"}
	// VendorCategories and VendorChannels are what the "notifications from vendors" switch sets.
	VendorCategories = []string{"new_message", "status_change", "booking", "availability", "task"}
	VendorChannels   = []string{"push", "email", "in_app"}
)

// demoUser is the signed-in user of a demo page.
type demoUser struct {
	ID, Email, Name string
}

// resolveUser finds a seeded user by id, email, or the part of the email before "@".
func (s *Server) resolveUser(ctx context.Context, as string) (demoUser, error) {
	var u demoUser
	err := s.pool.QueryRow(ctx, `
select u.id::text, coalesce(u.email, ''), coalesce(u.raw_user_meta_data ->> 'full_name', u.email, u.id::text)
from auth.users u
where u.id::text = lower($1) or lower(u.email) = lower($1) or lower(split_part(u.email, '@', 1)) = lower($1)
order by u.email limit 1`, as).Scan(&u.ID, &u.Email, &u.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("no user %q: use a seeded user's email, email name or id", as)
	}
	return u, err
}

// asUser runs fn in a transaction as the authenticated user id, like PostgREST does, so
// row-level security decides what the page shows.
func (s *Server) asUser(ctx context.Context, id string, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		claims := fmt.Sprintf(`{"sub":%q,"role":"authenticated","aud":"authenticated"}`, id)
		if _, err := tx.Exec(ctx, `select set_config('request.jwt.claims', $1, true), set_config('request.jwt.claim.sub', $2, true),
  set_config('request.jwt.claim.role', 'authenticated', true), set_config('role', 'authenticated', true)`, claims, id); err != nil {
			return err
		}
		return fn(tx)
	})
}

// demoConfig is what a demo page's script reads from its JSON config element.
type demoConfig struct {
	AnonKey        string            `json:"anonKey"`
	Token          string            `json:"token"`
	UserID         string            `json:"userId"`
	UserName       string            `json:"userName"`
	ConversationID string            `json:"conversationId,omitempty"`
	Names          map[string]string `json:"names,omitempty"`
}

func (s *Server) demoTokens(u demoUser) (anon, token string, err error) {
	if anon, err = auth.MintAPIKey(s.cfg.JWTSecret, auth.RoleAnon); err != nil {
		return "", "", err
	}
	token, err = auth.MintUser(s.cfg.JWTSecret, auth.UserToken{UserID: u.ID, Email: u.Email, TTL: DemoTokenTTL})
	return anon, token, err
}

// people lists the seeded users for the demo index.
func (s *Server) people(ctx context.Context) ([]demoUser, error) {
	rows, err := s.pool.Query(ctx, `
select u.id::text, coalesce(u.email, ''), coalesce(u.raw_user_meta_data ->> 'full_name', u.email, u.id::text)
from auth.users u order by u.email limit 200`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (demoUser, error) {
		var u demoUser
		return u, r.Scan(&u.ID, &u.Email, &u.Name)
	})
}

func (s *Server) serveDemoIndex(w http.ResponseWriter, r *http.Request) {
	ps, err := s.people(r.Context())
	if err != nil {
		s.fail(w, "demo", err)
		return
	}
	s.render(w, r, "demo", map[string]any{"Title": "Demo pages", "People": ps})
}

// userOrPicker resolves ?as=, or renders the user picker and returns false.
func (s *Server) userOrPicker(w http.ResponseWriter, r *http.Request) (demoUser, bool) {
	as := strings.TrimSpace(r.URL.Query().Get("as"))
	if as == "" {
		s.serveDemoIndex(w, r)
		return demoUser{}, false
	}
	u, err := s.resolveUser(r.Context(), as)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return u, false
	}
	return u, true
}

// conversationRow is a conversation the user can see.
type conversationRow struct {
	ID, Subject, Wedding string
	Participants         int
}

type messageRow struct {
	ID, SenderID, Sender, Body string
	CreatedAt                  time.Time
}

func (s *Server) serveVendorConnections(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userOrPicker(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	conv := strings.ToLower(r.URL.Query().Get("conversation"))
	if conv != "" && !uuidRE.MatchString(conv) {
		http.Error(w, "conversation must be a UUID", http.StatusBadRequest)
		return
	}
	var convs []conversationRow
	var msgs []messageRow
	visible := false
	err := s.asUser(ctx, u.ID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
select c.id::text, coalesce(c.subject, '(no subject)'), w.title,
       (select count(*) from public.conversation_participants p where p.conversation_id = c.id)::int
from public.conversations c join public.weddings w on w.id = c.wedding_id
where exists (select 1 from public.conversation_participants p where p.conversation_id = c.id and p.user_id = $1)
order by c.created_at, c.id`, u.ID)
		if err != nil {
			return err
		}
		if convs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (conversationRow, error) {
			var c conversationRow
			return c, r.Scan(&c.ID, &c.Subject, &c.Wedding, &c.Participants)
		}); err != nil {
			return err
		}
		if conv == "" && len(convs) > 0 {
			conv = convs[0].ID
		}
		for _, c := range convs {
			visible = visible || c.ID == conv
		}
		if !visible {
			return nil
		}
		rows, err = tx.Query(ctx, `
select * from (select m.id::text, coalesce(m.sender_id::text, ''), m.body, m.created_at
  from public.messages m where m.conversation_id = $1 order by m.created_at desc, m.id desc limit 50) x
order by created_at, id`, conv)
		if err != nil {
			return err
		}
		msgs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (messageRow, error) {
			var m messageRow
			return m, r.Scan(&m.ID, &m.SenderID, &m.Body, &m.CreatedAt)
		})
		return err
	})
	if err != nil {
		s.fail(w, "vendor connections", err)
		return
	}
	names := map[string]string{u.ID: u.Name}
	if visible { // participants' names (auth.users is not readable by the user: read as the service)
		rows, err := s.pool.Query(ctx, `
select p.user_id::text, coalesce(u.raw_user_meta_data ->> 'full_name', u.email, p.user_id::text)
from public.conversation_participants p join auth.users u on u.id = p.user_id where p.conversation_id = $1`, conv)
		if err != nil {
			s.fail(w, "vendor connections", err)
			return
		}
		var id, name string
		if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { names[id] = name; return nil }); err != nil {
			s.fail(w, "vendor connections", err)
			return
		}
	}
	for i := range msgs {
		msgs[i].Sender = names[msgs[i].SenderID]
	}
	anon, token, err := s.demoTokens(u)
	if err != nil {
		s.fail(w, "vendor connections", err)
		return
	}
	_, jsErr := os.Stat(s.cfg.SupabaseJS)
	s.render(w, r, "chat", map[string]any{"Title": "Vendor connections", "User": u, "Convs": convs, "Conv": conv,
		"Visible": visible, "Messages": msgs, "SupabaseJSMissing": s.cfg.SupabaseJS == "" || jsErr != nil,
		"Config": demoConfig{AnonKey: anon, Token: token, UserID: u.ID, UserName: u.Name, ConversationID: conv, Names: names}})
}

// prefCell is one category × channel switch.
type prefCell struct {
	Category, Channel string
	Enabled, Explicit bool
}

// defaultEnabled is the planner's default for a missing preference row: push, email and
// in-app on, SMS off (see package notify).
func defaultEnabled(channel string) bool { return channel != "sms" }

func (s *Server) serveNotificationSettings(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userOrPicker(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	prefs := map[string]bool{}
	var tz, qs, qe string
	var devices int
	err := s.asUser(ctx, u.ID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select category::text, channel::text, enabled from public.notification_preferences where user_id = $1`, u.ID)
		if err != nil {
			return err
		}
		var cat, ch string
		var en bool
		if _, err := pgx.ForEachRow(rows, []any{&cat, &ch, &en}, func() error { prefs[cat+"/"+ch] = en; return nil }); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `select timezone::text, coalesce(to_char(quiet_hours_start, 'HH24:MI'), ''),
  coalesce(to_char(quiet_hours_end, 'HH24:MI'), '') from public.notification_settings where user_id = $1`, u.ID).Scan(&tz, &qs, &qe)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return tx.QueryRow(ctx, `select count(*) from public.devices where user_id = $1 and enabled`, u.ID).Scan(&devices)
	})
	if err != nil {
		s.fail(w, "notification settings", err)
		return
	}
	if tz == "" {
		tz = "UTC"
	}
	var grid [][]prefCell
	vendorOn := false
	for _, cat := range Categories {
		var row []prefCell
		for _, ch := range Channels {
			en, explicit := prefs[cat+"/"+ch]
			if !explicit {
				en = defaultEnabled(ch)
			}
			row = append(row, prefCell{Category: cat, Channel: ch, Enabled: en, Explicit: explicit})
			if en && contains(VendorCategories, cat) && contains(VendorChannels, ch) {
				vendorOn = true
			}
		}
		grid = append(grid, row)
	}
	zones := []string{"UTC", "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "America/New_York",
		"America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney"}
	if !contains(zones, tz) {
		zones = append(zones, tz)
	}
	anon, token, err := s.demoTokens(u)
	if err != nil {
		s.fail(w, "notification settings", err)
		return
	}
	s.render(w, r, "settings", map[string]any{"Title": "Notification settings", "User": u, "Grid": grid,
		"Channels": Channels, "VendorOn": vendorOn, "TZ": tz, "QuietStart": qs, "QuietEnd": qe, "Zones": zones,
		"Devices": devices, "VendorCategories": VendorCategories, "VendorChannels": VendorChannels,
		"SupabaseJSMissing": s.cfg.SupabaseJS == "",
		"Config":            demoConfig{AnonKey: anon, Token: token, UserID: u.ID, UserName: u.Name}})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// serveSupabaseJS serves the browser build of supabase-js from node_modules (no CDN).
func (s *Server) serveSupabaseJS(w http.ResponseWriter, r *http.Request) {
	if s.cfg.SupabaseJS == "" {
		http.Error(w, "supabase-js not found: run `npm ci` (make deps) or set VENDORHUB_SUPABASE_JS", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	http.ServeFile(w, r, s.cfg.SupabaseJS)
}
