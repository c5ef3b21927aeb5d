package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wedsync/vendorhub/internal/audit"
)

// Querier is what the store helpers need: a *pgxpool.Pool, *pgx.Conn or pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Beginner starts transactions: a *pgxpool.Pool or *pgx.Conn.
type Beginner interface {
	Querier
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Table is a table of sealed values: an id column (the additional data of each ciphertext),
// key_id, ciphertext and updated_at.
type Table struct {
	Name     string // schema-qualified table name
	IDColumn string // primary key column; its text form is the ciphertext's additional data
}

// The sealed tables. Rotation, retirement and listing cover all of them.
var (
	// Credentials holds integration secrets and OAuth tokens, one blob per connection.
	Credentials = Table{Name: "vendorhub.integration_credentials", IDColumn: "connection_id"}
	// EndpointSecrets holds the signing secrets of outbound webhook endpoints.
	EndpointSecrets = Table{Name: "vendorhub.webhook_endpoint_secrets", IDColumn: "endpoint_id"}
	// SealedTables lists every table holding ciphertexts.
	SealedTables = []Table{Credentials, EndpointSecrets}
)

// ErrNotFound reports that no sealed value exists for an id.
var ErrNotFound = errors.New("secret: no stored value")

// NotFoundError names the table and id of a missing value (errors.Is(err, ErrNotFound)).
type NotFoundError struct{ Table, ID string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("secret: no stored value in %s for %s", e.Table, e.ID)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// KeyRetiredError reports a write under, or activation of, a retired key.
type KeyRetiredError struct{ KeyID string }

func (e *KeyRetiredError) Error() string {
	return fmt.Sprintf("secret: encryption key %q is retired: make another key active (first in %s)", e.KeyID, EnvKeys)
}

// KeyMismatchError reports a key id whose material differs from the key registered under that id.
type KeyMismatchError struct{ KeyID string }

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("secret: encryption key %q differs from the key registered under that id: key ids must never be reused for new material", e.KeyID)
}

// KeyInUseError reports a refused retirement: rows are still sealed with the key.
type KeyInUseError struct {
	KeyID string
	Rows  int
}

func (e *KeyInUseError) Error() string {
	return fmt.Sprintf("secret: cannot retire key %q: %d row(s) still use it; run `vendorhub keys rotate` with another key active first",
		e.KeyID, e.Rows)
}

// UnknownKeyError reports a key id that was never registered in vendorhub.encryption_keys.
type UnknownKeyError struct{ KeyID string }

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("secret: key id %q is not registered (no row was ever sealed with it)", e.KeyID)
}

// RetireActiveError reports an attempt to retire the active key.
type RetireActiveError struct{ KeyID string }

func (e *RetireActiveError) Error() string {
	return fmt.Sprintf("secret: cannot retire %q: it is the active key; put the new key first in %s", e.KeyID, EnvKeys)
}

// sqlstateKeyRetired is raised by vendorhub.sealed_key_usable() for a write under a retired key.
const sqlstateKeyRetired = "VHK01"

func classify(err error, keyID string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateKeyRetired {
		return &KeyRetiredError{KeyID: keyID}
	}
	return err
}

// aad is the additional data binding a ciphertext to its row.
func aad(id string) []byte { return []byte(strings.ToLower(strings.TrimSpace(id))) }

// PutCredential seals plaintext under the active key and stores it for connectionID
// (additional data = connection id), replacing any previous value.
func (k *Keyring) PutCredential(ctx context.Context, q Querier, connectionID string, plaintext []byte) error {
	return k.Put(ctx, q, Credentials, connectionID, plaintext)
}

// GetCredential returns the plaintext stored for connectionID. No row gives an error matching
// ErrNotFound; a key id missing from the keyring gives *MissingKeyError.
func (k *Keyring) GetCredential(ctx context.Context, q Querier, connectionID string) ([]byte, error) {
	return k.Get(ctx, q, Credentials, connectionID)
}

// Put seals plaintext for id in table t, registering the active key id if it is new.
func (k *Keyring) Put(ctx context.Context, q Querier, t Table, id string, plaintext []byte) error {
	keyID, ct, err := k.Seal(plaintext, aad(id))
	if err != nil {
		return err
	}
	sql := fmt.Sprintf(`with reg as (
  insert into vendorhub.encryption_keys (key_id, check_value) values ($2, $4) on conflict (key_id) do nothing
)
insert into %[1]s (%[2]s, key_id, ciphertext, updated_at) values ($1, $2, $3, now())
on conflict (%[2]s) do update set key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = now()`,
		t.Name, t.IDColumn)
	if _, err := q.Exec(ctx, sql, id, keyID, ct, k.check[keyID]); err != nil {
		return fmt.Errorf("secret: store %s for %s: %w", t.Name, id, classify(err, keyID))
	}
	return nil
}

// Get opens the value stored for id in table t.
func (k *Keyring) Get(ctx context.Context, q Querier, t Table, id string) ([]byte, error) {
	var keyID string
	var ct []byte
	err := q.QueryRow(ctx, fmt.Sprintf(`select key_id, ciphertext from %s where %s = $1`, t.Name, t.IDColumn), id).Scan(&keyID, &ct)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &NotFoundError{Table: t.Name, ID: id}
	}
	if err != nil {
		return nil, fmt.Errorf("secret: read %s for %s: %w", t.Name, id, err)
	}
	pt, err := k.Open(keyID, ct, aad(id))
	if err != nil {
		return nil, fmt.Errorf("secret: %s for %s: %w", t.Name, id, err)
	}
	return pt, nil
}

// Register records every key id of the keyring in vendorhub.encryption_keys (with its check
// value, never the key). It fails with *KeyMismatchError when an id is registered with different
// material, and *KeyRetiredError when the active key is retired. The sidecar calls it at start.
func (k *Keyring) Register(ctx context.Context, q Querier) error {
	for _, id := range k.ids {
		var inserted bool
		err := q.QueryRow(ctx, `insert into vendorhub.encryption_keys (key_id, check_value) values ($1, $2)
on conflict (key_id) do nothing returning true`, id, k.check[id]).Scan(&inserted)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("secret: register key %q: %w", id, err)
		}
		if inserted {
			if err := audit.Write(ctx, q, audit.Entry{Action: audit.ActionKeyRegistered, Subject: "key:" + id}); err != nil {
				return err
			}
		}
		// A key id registered by the migration for rows that predate it has no check value yet.
		if _, err := q.Exec(ctx, `update vendorhub.encryption_keys set check_value = $2 where key_id = $1 and check_value = $3`,
			id, k.check[id], make([]byte, 16)); err != nil {
			return fmt.Errorf("secret: register key %q: %w", id, err)
		}
		var check []byte
		var retired *time.Time
		if err := q.QueryRow(ctx, `select check_value, retired_at from vendorhub.encryption_keys where key_id = $1`, id).Scan(&check, &retired); err != nil {
			return fmt.Errorf("secret: register key %q: %w", id, err)
		}
		if !bytes.Equal(check, k.check[id]) {
			return &KeyMismatchError{KeyID: id}
		}
		if retired != nil && id == k.ids[0] {
			return &KeyRetiredError{KeyID: id}
		}
	}
	return nil
}

// RotateResult counts what Rotate re-encrypted.
type RotateResult struct {
	// Rewritten counts rows moved to the active key, by the key id they were under.
	Rewritten map[string]int
	// Missing counts rows left under key ids the keyring does not hold.
	Missing map[string]int
}

// RotateBatchDefault is how many rows Rotate re-encrypts per transaction.
const RotateBatchDefault = 200

// Rotate re-encrypts every row of every sealed table that is not under the active key, in
// small transactions (rows being written concurrently are skipped and picked up by the next
// batch), so instances keep running. Rows under keys the keyring lacks are left alone and
// reported as a *MissingKeyError naming the first such key id, after all others are rotated.
func (k *Keyring) Rotate(ctx context.Context, db Beginner, actor string) (RotateResult, error) {
	res := RotateResult{Rewritten: map[string]int{}, Missing: map[string]int{}}
	if err := k.Register(ctx, db); err != nil {
		return res, err
	}
	active := k.ids[0]
	for _, t := range SealedTables {
		for {
			n, err := k.rotateBatch(ctx, db, t, res.Rewritten)
			if err != nil {
				return res, err
			}
			if n == 0 {
				break
			}
		}
		rows, err := db.Query(ctx, fmt.Sprintf(`select key_id, count(*)::int from %s where key_id <> $1 group by key_id`, t.Name), active)
		if err != nil {
			return res, fmt.Errorf("secret: rotate %s: %w", t.Name, err)
		}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return res, err
			}
			res.Missing[id] += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, err
		}
	}
	for from, n := range res.Rewritten {
		if err := audit.Write(ctx, db, audit.Entry{Action: audit.ActionKeyRotated, Actor: actor, Subject: "key:" + from,
			Details: map[string]any{"from": from, "to": active, "rows": n}}); err != nil {
			return res, err
		}
	}
	for id := range res.Missing {
		return res, &MissingKeyError{KeyID: id}
	}
	return res, nil
}

func (k *Keyring) rotateBatch(ctx context.Context, db Beginner, t Table, counts map[string]int) (int, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	rows, err := tx.Query(ctx, fmt.Sprintf(`select %[2]s::text, key_id, ciphertext from %[1]s
where key_id <> $1 and key_id = any($2) order by %[2]s limit $3 for update skip locked`, t.Name, t.IDColumn),
		k.ids[0], k.ids[1:], RotateBatchDefault)
	if err != nil {
		return 0, fmt.Errorf("secret: rotate %s: %w", t.Name, err)
	}
	type item struct {
		id, keyID string
		ct        []byte
	}
	var items []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.id, &it.keyID, &it.ct); err != nil {
			rows.Close()
			return 0, err
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, it := range items {
		pt, err := k.Open(it.keyID, it.ct, aad(it.id))
		if err != nil {
			return 0, fmt.Errorf("secret: rotate %s row %s: %w", t.Name, it.id, err)
		}
		newID, ct, err := k.Seal(pt, aad(it.id))
		clear(pt)
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`update %s set key_id = $2, ciphertext = $3, updated_at = now() where %s = $1`, t.Name, t.IDColumn),
			it.id, newID, ct); err != nil {
			return 0, fmt.Errorf("secret: rotate %s row %s: %w", t.Name, it.id, classify(err, newID))
		}
		counts[it.keyID]++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("secret: rotate %s: %w", t.Name, err)
	}
	return len(items), nil
}

// Retire marks keyID retired once no row of any sealed table uses it; afterwards the database
// refuses writes under it. It refuses the active key (*RetireActiveError), unknown ids
// (*UnknownKeyError) and keys still in use (*KeyInUseError). Refusals and retirements are audited.
func (k *Keyring) Retire(ctx context.Context, db Beginner, keyID, actor string) error {
	if keyID == k.ids[0] {
		return &RetireActiveError{KeyID: keyID}
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	var retired *time.Time
	// Locking the key row first makes a concurrent write under this key either finish before we
	// count (and be counted) or fail in vendorhub.sealed_key_usable() after we commit.
	err = tx.QueryRow(ctx, `select retired_at from vendorhub.encryption_keys where key_id = $1 for update`, keyID).Scan(&retired)
	if errors.Is(err, pgx.ErrNoRows) {
		return &UnknownKeyError{KeyID: keyID}
	}
	if err != nil {
		return fmt.Errorf("secret: retire %q: %w", keyID, err)
	}
	if retired != nil {
		return nil
	}
	inUse, err := countUsing(ctx, tx, keyID)
	if err != nil {
		return err
	}
	if inUse > 0 {
		_ = tx.Rollback(ctx)
		refusal := &KeyInUseError{KeyID: keyID, Rows: inUse}
		if err := audit.Write(ctx, db, audit.Entry{Action: audit.ActionKeyRetireRefused, Actor: actor, Subject: "key:" + keyID,
			Reason: "rows still sealed with this key", Details: map[string]any{"rows": inUse}}); err != nil {
			return errors.Join(refusal, err)
		}
		return refusal
	}
	if _, err := tx.Exec(ctx, `update vendorhub.encryption_keys set retired_at = now() where key_id = $1`, keyID); err != nil {
		return fmt.Errorf("secret: retire %q: %w", keyID, err)
	}
	if err := audit.Write(ctx, tx, audit.Entry{Action: audit.ActionKeyRetired, Actor: actor, Subject: "key:" + keyID}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func countUsing(ctx context.Context, q Querier, keyID string) (int, error) {
	total := 0
	for _, t := range SealedTables {
		var n int
		if err := q.QueryRow(ctx, fmt.Sprintf(`select count(*)::int from %s where key_id = $1`, t.Name), keyID).Scan(&n); err != nil {
			return 0, fmt.Errorf("secret: count rows of %s under %q: %w", t.Name, keyID, err)
		}
		total += n
	}
	return total, nil
}

// KeyInfo describes one key id, as `vendorhub keys list` prints it.
type KeyInfo struct {
	ID         string
	Active     bool       // first in this keyring
	InKeyring  bool       // this process can decrypt with it
	Registered bool       // present in vendorhub.encryption_keys
	CreatedAt  *time.Time // when first registered
	RetiredAt  *time.Time
	Rows       int // rows of all sealed tables sealed with it
}

// List describes every key id known to the keyring or the database, active first.
func (k *Keyring) List(ctx context.Context, q Querier) ([]KeyInfo, error) {
	byID := map[string]*KeyInfo{}
	var order []string
	get := func(id string) *KeyInfo {
		if ki, ok := byID[id]; ok {
			return ki
		}
		ki := &KeyInfo{ID: id}
		byID[id] = ki
		order = append(order, id)
		return ki
	}
	for i, id := range k.ids {
		ki := get(id)
		ki.InKeyring, ki.Active = true, i == 0
	}
	rows, err := q.Query(ctx, `select key_id, created_at, retired_at from vendorhub.encryption_keys order by created_at, key_id`)
	if err != nil {
		return nil, fmt.Errorf("secret: list keys: %w", err)
	}
	for rows.Next() {
		var id string
		var created time.Time
		var retired *time.Time
		if err := rows.Scan(&id, &created, &retired); err != nil {
			rows.Close()
			return nil, err
		}
		ki := get(id)
		ki.Registered, ki.CreatedAt, ki.RetiredAt = true, &created, retired
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range SealedTables {
		rows, err := q.Query(ctx, fmt.Sprintf(`select key_id, count(*)::int from %s group by key_id`, t.Name))
		if err != nil {
			return nil, fmt.Errorf("secret: list keys: %w", err)
		}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, err
			}
			get(id).Rows += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]KeyInfo, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}
