package gateway

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/auth"
)

// Probe is who asks for which private topic.
type Probe struct {
	// Topic is the sub-topic, as realtime.topic() returns it.
	Topic string
	// Claims are the verified token's claims.
	Claims auth.Claims
	// Headers is the request.headers JSON.
	Headers json.RawMessage
	// After, when not 0, is a transaction whose effects the probe must see: logical decoding
	// can deliver a commit while the committing backend is still in the procarray, so a new
	// snapshot would not see it yet. CanRead waits (within ctx) until it would.
	After uint32
}

// Authorizer decides private channel access.
type Authorizer interface {
	// CanRead reports, per extension, whether the user may read (join) the topic.
	CanRead(ctx context.Context, p Probe, extensions ...string) (map[string]bool, error)
	// CanWrite reports whether the user may send (broadcast) or track (presence) on it.
	CanWrite(ctx context.Context, p Probe, extension string) (bool, error)
}

// PGAuthorizer runs Supabase Realtime's authorization probe against realtime.messages, so
// the project's RLS policies decide, exactly as on Supabase. Its pool's role must be able to
// insert into realtime.messages past RLS and switch to the API roles: a superuser, like
// Realtime's own connection, or postgres on Supabase (a member of the table's owner
// supabase_realtime_admin and of anon, authenticated and service_role; BYPASSRLS).
type PGAuthorizer struct {
	Pool *pgxpool.Pool

	waits atomic.Int64
}

// Waits returns how many times this authorizer's probes found their transaction (Probe.After)
// not yet visible and waited.
func (a *PGAuthorizer) Waits() int64 { return a.waits.Load() }

// The set_conn_config statement of Realtime (lib/realtime/tenants/authorization.ex).
const setConnConfig = `SELECT set_config('role', $1, true), set_config('realtime.topic', $2, true),
       set_config('request.jwt.claims', $3, true), set_config('request.jwt.claim.sub', $4, true),
       set_config('request.jwt.claim.role', $5, true), set_config('request.headers', $6, true)`

func setConfigArgs(p Probe) []any {
	headers := p.Headers
	if len(headers) == 0 {
		headers = json.RawMessage("{}")
	}
	return []any{p.Claims.Role, p.Topic, string(p.Claims.JSON), p.Claims.Subject, p.Claims.Role, string(headers)}
}

// CanRead: in a transaction, insert one probe row per extension as the pool's own role, set
// the user's role and claims, select the probe rows under RLS, and roll back.
func (a *PGAuthorizer) CanRead(ctx context.Context, p Probe, extensions ...string) (map[string]bool, error) {
	if p.After != 0 {
		if err := awaitVisible(ctx, a.Pool, p.After, &a.waits); err != nil {
			return nil, err
		}
	}
	tx, err := a.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	ids := make([]string, len(extensions))
	byID := make(map[string]string, len(extensions))
	b := &pgx.Batch{}
	for i, ext := range extensions {
		ids[i] = newUUID()
		byID[ids[i]] = ext
		b.Queue(`INSERT INTO realtime.messages (id, topic, extension, inserted_at, updated_at) VALUES ($1, $2, $3, now(), now())`, ids[i], p.Topic, ext)
	}
	b.Queue(setConnConfig, setConfigArgs(p)...)
	b.Queue(`SELECT id::text FROM realtime.messages WHERE id = ANY($1::uuid[])`, ids)
	br := tx.SendBatch(ctx, b)
	for range extensions {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("gateway: probe insert: %w", err)
		}
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, fmt.Errorf("gateway: set_conn_config: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("gateway: probe select: %w", err)
	}
	seen, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("gateway: probe select: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(extensions))
	for _, ext := range extensions {
		out[ext] = false
	}
	for _, id := range seen {
		out[byID[id]] = true
	}
	return out, nil
}

// visibleSQL reports whether committed transaction $1 (a 32-bit xid) is visible to a new
// snapshot: it precedes the snapshot's xmax (modulo 2^32, as Postgres compares xids) and is
// not among its running transactions. Visibility only grows, so a later statement's snapshot
// sees it too.
const visibleSQL = `with s as (select pg_current_snapshot() as snap)
select ((pg_snapshot_xmax(snap)::text::bigint - $1::bigint) % 4294967296) between 1 and 2147483647
   and not exists (select 1 from pg_snapshot_xip(snap) x where (x::text::bigint % 4294967296) = $1::bigint)
from s`

// awaitVisible polls until transaction xid is visible, every millisecond, within ctx; each
// time it has to wait it adds one to waits.
func awaitVisible(ctx context.Context, pool *pgxpool.Pool, xid uint32, waits *atomic.Int64) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		var visible bool
		if err := pool.QueryRow(ctx, visibleSQL, int64(xid)).Scan(&visible); err != nil {
			return fmt.Errorf("gateway: await transaction %d: %w", xid, err)
		}
		if visible {
			return nil
		}
		metricAwaitedVisibility.Inc()
		waits.Add(1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway: transaction %d still not visible: %w", xid, ctx.Err())
		case <-t.C:
		}
	}
}

// CanWrite: in a transaction, set the user's role and claims and insert a row under a
// savepoint; an RLS refusal (42501) means no.
func (a *PGAuthorizer) CanWrite(ctx context.Context, p Probe, extension string) (bool, error) {
	tx, err := a.Pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, setConnConfig, setConfigArgs(p)...); err != nil {
		return false, fmt.Errorf("gateway: set_conn_config: %w", err)
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT write_probe"); err != nil {
		return false, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO realtime.messages (topic, extension, private, inserted_at, updated_at) VALUES ($1, $2, true, now(), now())`, p.Topic, extension)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		return false, nil
	default:
		return false, fmt.Errorf("gateway: write probe: %w", err)
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
