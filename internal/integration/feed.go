package integration

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/secret"
)

// FeedSealedSetting is the config key that marks a connection (ical, lightblue) whose feed URL
// is sealed in its credential (Credential.FeedURL). Feed URLs carry secret paths, so they live
// with the credential, not in config, which members read.
const FeedSealedSetting = "feed_sealed"

// Beginner starts transactions: a *pgxpool.Pool or *pgx.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// SetFeedURL seals feedURL in connectionID's credential, drops any plain config "feed_url"
// and marks config FeedSealedSetting, in one transaction.
func SetFeedURL(ctx context.Context, k *secret.Keyring, db Beginner, connectionID, feedURL string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `select 1 from public.integration_connections where id = $1 for update`, connectionID); err != nil {
			return err
		}
		return sealFeed(ctx, k, tx, connectionID, feedURL)
	})
}

// SealFeedURL moves a plain config "feed_url" — rows written before feed URLs were sealed, or
// a client that still writes config — into the sealed credential (SetFeedURL). It reports
// whether there was one to move; the connector runs it before every feed sync.
func SealFeedURL(ctx context.Context, k *secret.Keyring, db Beginner, connectionID string) (bool, error) {
	moved := false
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var plain *string
		err := tx.QueryRow(ctx, `select config->>'feed_url' from public.integration_connections where id = $1 for update`,
			connectionID).Scan(&plain)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrConnectionNotFound, connectionID)
		}
		if err != nil || plain == nil || *plain == "" {
			return err
		}
		moved = true
		return sealFeed(ctx, k, tx, connectionID, *plain)
	})
	return moved, err
}

func sealFeed(ctx context.Context, k *secret.Keyring, tx pgx.Tx, connectionID, feedURL string) error {
	cred, err := ReadCredential(ctx, k, tx, connectionID)
	if err != nil && !errors.Is(err, secret.ErrNotFound) {
		return err
	}
	cred.FeedURL = feedURL
	if err := WriteCredential(ctx, k, tx, connectionID, cred); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `update public.integration_connections
set config = (coalesce(config, '{}'::jsonb) - 'feed_url') || jsonb_build_object($2::text, true), updated_at = now() where id = $1`,
		connectionID, FeedSealedSetting)
	return err
}
