package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/singleflight"

	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/secret"
)

// connection is what the ingress needs of a connection: never logged.
type connection struct {
	id       string // UUID, or "" for a system connection
	name     string // the URL segment
	kind     string
	status   string
	vendorID string
	secrets  []string
}

// Resolution failures.
var (
	errUnknownConnection = errors.New("unknown connection")
	errKindMismatch      = errors.New("connection is of another kind")
	errDisabled          = errors.New("connection is disabled")
)

// negativeTTL caches "no such connection" briefly, so a flood of made-up ids costs little.
const negativeTTL = 5 * time.Second

type cached struct {
	conn    *connection
	err     error
	expires time.Time
}

// connections resolves and caches connections and their secrets.
type connections struct {
	db      secret.Querier
	keyring *secret.Keyring
	system  map[string]*connection // "source/name"
	ttl     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cached
	group singleflight.Group
}

func newConnections(db secret.Querier, keyring *secret.Keyring, cfg Config) *connections {
	c := &connections{db: db, keyring: keyring, system: map[string]*connection{}, ttl: cfg.SecretTTL,
		now: cfg.Now, cache: map[string]cached{}}
	for _, s := range cfg.SystemConnections {
		c.system[string(s.Source)+"/"+s.Name] = &connection{name: s.Name, kind: s.Source.Kind(), status: "active",
			secrets: strings.Fields(s.Secret)}
	}
	return c
}

// resolve returns the connection named by the URL segment for source. Lookups of the same
// connection share one database round trip; results (including "unknown") are cached.
func (c *connections) resolve(ctx context.Context, source Source, segment string) (*connection, error) {
	if !isUUID(segment) {
		if sc, ok := c.system[string(source)+"/"+segment]; ok {
			return sc, nil
		}
		return nil, errUnknownConnection
	}
	id := strings.ToLower(segment)
	now := c.now()
	c.mu.Lock()
	e, ok := c.cache[id]
	c.mu.Unlock()
	if !ok || now.After(e.expires) {
		v, err, _ := c.group.Do(id, func() (any, error) {
			conn, err := c.load(ctx, id)
			if err != nil && !errors.Is(err, errUnknownConnection) {
				return nil, err // transient: not cached
			}
			ttl := c.ttl
			if err != nil {
				ttl = negativeTTL
			}
			ent := cached{conn: conn, err: err, expires: c.now().Add(ttl)}
			c.mu.Lock()
			if len(c.cache) > 100_000 {
				clear(c.cache)
			}
			c.cache[id] = ent
			c.mu.Unlock()
			return ent, nil
		})
		if err != nil {
			return nil, err
		}
		e = v.(cached)
	}
	if e.err != nil {
		return nil, e.err
	}
	if e.conn.kind != source.Kind() {
		return nil, errKindMismatch
	}
	if e.conn.status == integration.StatusDisabled {
		return nil, errDisabled
	}
	return e.conn, nil
}

// forget drops a cached connection (after a secret change in tests and tools).
func (c *connections) forget(id string) {
	c.mu.Lock()
	delete(c.cache, strings.ToLower(id))
	c.mu.Unlock()
}

func (c *connections) load(ctx context.Context, id string) (*connection, error) {
	conn := &connection{id: id, name: id}
	err := c.db.QueryRow(ctx, `select kind, status, vendor_id::text from public.integration_connections where id = $1`, id).
		Scan(&conn.kind, &conn.status, &conn.vendorID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errUnknownConnection
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: load connection: %w", err)
	}
	blob, err := c.keyring.GetCredential(ctx, c.db, id)
	switch {
	case errors.Is(err, secret.ErrNotFound):
		// A connection without a credential has no secret: every request fails verification.
		return conn, nil
	case err != nil:
		return nil, fmt.Errorf("webhook: credential of connection %s: %w", id, err)
	}
	var cred integration.Credential
	if err := json.Unmarshal(blob, &cred); err != nil {
		return nil, fmt.Errorf("webhook: credential of connection %s is not valid JSON", id)
	}
	clear(blob)
	conn.secrets = strings.Fields(cred.Secret)
	return conn, nil
}

// isUUID reports whether s is a canonical (8-4-4-4-12 hex) UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			c := s[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
