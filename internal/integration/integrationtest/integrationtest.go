// Package integrationtest creates the rows connector tests need (vendors, weddings, users,
// connections with sealed credentials) and reads the events a test database emitted. Test code
// only.
package integrationtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/secret"
)

// Keyring returns a fresh one-key keyring.
func Keyring(t testing.TB) *secret.Keyring {
	t.Helper()
	k, err := secret.NewKeyring(secret.Key{ID: "test1", Material: secret.GenerateKey()})
	require.NoError(t, err)
	return k
}

// Vendor inserts a vendor in zone tz and returns its id.
func Vendor(t testing.TB, pool *pgxpool.Pool, name, tz string) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(context.Background(),
		`insert into public.vendors (name, kind, timezone) values ($1, 'photographer', $2) returning id::text`, name, tz).Scan(&id))
	return id
}

// Buffers sets a vendor's buffers.
func Buffers(t testing.TB, pool *pgxpool.Pool, vendorID string, before, after time.Duration) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `update public.vendors set buffer_before = make_interval(secs => $2), buffer_after = make_interval(secs => $3) where id = $1`,
		vendorID, before.Seconds(), after.Seconds())
	require.NoError(t, err)
}

// User inserts an auth user and returns its id.
func User(t testing.TB, pool *pgxpool.Pool, email string) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(context.Background(),
		`insert into auth.users (id, email) values (gen_random_uuid(), $1) returning id::text`, email).Scan(&id))
	return id
}

// Member makes user a member (owner) of vendor.
func Member(t testing.TB, pool *pgxpool.Pool, vendorID, userID string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `insert into public.vendor_members (vendor_id, user_id, role) values ($1, $2, 'owner')`, vendorID, userID)
	require.NoError(t, err)
}

// Wedding inserts a wedding on date ("2006-01-02") in zone tz and returns its id.
func Wedding(t testing.TB, pool *pgxpool.Pool, date, tz string) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(context.Background(),
		`insert into public.weddings (title, wedding_date, timezone) values ('Wedding ' || $1, $1::date, $2) returning id::text`, date, tz).Scan(&id))
	return id
}

// Couple adds user to the couple of wedding.
func Couple(t testing.TB, pool *pgxpool.Pool, weddingID, userID string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `insert into public.wedding_couples (wedding_id, user_id) values ($1, $2)`, weddingID, userID)
	require.NoError(t, err)
}

// Connect connects vendor to wedding with status and returns the wedding_vendors id.
func Connect(t testing.TB, pool *pgxpool.Pool, weddingID, vendorID, status string) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(context.Background(),
		`insert into public.wedding_vendors (wedding_id, vendor_id, status) values ($1, $2, $3) returning id::text`, weddingID, vendorID, status).Scan(&id))
	return id
}

// Connection inserts an active integration connection with config and, when cred is non-zero,
// its sealed credential; it returns the connection id.
func Connection(t testing.TB, pool *pgxpool.Pool, k *secret.Keyring, vendorID string, kind integration.Kind, config map[string]any, cred integration.Credential) string {
	t.Helper()
	ctx := context.Background()
	if config == nil {
		config = map[string]any{}
	}
	cfg, err := json.Marshal(config)
	require.NoError(t, err)
	var id string
	require.NoError(t, pool.QueryRow(ctx, `insert into public.integration_connections (vendor_id, kind, display_name, config)
values ($1, $2, $3, $4) returning id::text`, vendorID, string(kind), string(kind)+" test", cfg).Scan(&id))
	if cred != (integration.Credential{}) {
		require.NoError(t, integration.WriteCredential(ctx, k, pool, id, cred))
	}
	return id
}

// Block inserts a manual availability block.
func Block(t testing.TB, pool *pgxpool.Pool, vendorID string, start, end time.Time) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(context.Background(),
		`insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ($1, $2, $3) returning id::text`, vendorID, start, end).Scan(&id))
	return id
}

// Slot creates a logical slot (test_decoding) on the test database so Events can read what
// was emitted from now on; the database's cleanup drops it.
func Slot(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := "it_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")
	name = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			return r
		}
		return '_'
	}, name)
	if len(name) > 60 {
		name = name[:60]
	}
	_, err := pool.Exec(context.Background(), `select pg_create_logical_replication_slot($1, 'test_decoding')`, name)
	require.NoError(t, err)
	return name
}

// Events consumes and returns the vendorhub envelopes the slot received since the last call,
// optionally only those of the given types.
func Events(t testing.TB, pool *pgxpool.Pool, slot string, types ...event.Type) []event.Envelope {
	t.Helper()
	rows, err := pool.Query(context.Background(), `select data from pg_logical_slot_get_changes($1, null, null)`, slot)
	require.NoError(t, err)
	defer rows.Close()
	var out []event.Envelope
	for rows.Next() {
		var data string
		require.NoError(t, rows.Scan(&data))
		// test_decoding: "message: transactional: 1 prefix: vendorhub, sz: N content:{...}"
		_, content, ok := strings.Cut(data, " content:")
		if !ok || !strings.Contains(data, "prefix: vendorhub,") {
			continue
		}
		env, err := event.Parse([]byte(content))
		require.NoError(t, err)
		if len(types) > 0 {
			keep := false
			for _, ty := range types {
				keep = keep || env.Type == ty
			}
			if !keep {
				continue
			}
		}
		out = append(out, env)
	}
	require.NoError(t, rows.Err())
	return out
}
