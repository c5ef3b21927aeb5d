package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wedsync/vendorhub/internal/secret"
)

// Credential is a connection's secret blob, sealed in vendorhub.integration_credentials by
// secret.Keyring (one blob per connection, additional data = connection id). Only the fields
// of the connection's kind are set.
type Credential struct {
	// AccessToken, RefreshToken, TokenType and Expiry are the OAuth tokens of a Google or
	// Outlook connection.
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	// APIKey is a Light Blue API key.
	APIKey string `json:"api_key,omitempty"`
	// FeedURL is an iCalendar feed's URL (ical, lightblue): its path is a secret (SetFeedURL).
	FeedURL string `json:"feed_url,omitempty"`
	// Password protects an iCalendar feed (HTTP Basic, with Config "username").
	Password string `json:"password,omitempty"`
	// Secret verifies inbound webhooks of the connection: the Zapier bridge's static header,
	// Google's channel token or Graph's clientState.
	Secret string `json:"secret,omitempty"`
}

// String never prints secrets.
func (Credential) String() string { return "integration.Credential{…}" }

// GoString never prints secrets.
func (c Credential) GoString() string { return c.String() }

// ReadCredential opens and decodes the credential of connectionID.
func ReadCredential(ctx context.Context, k *secret.Keyring, q Querier, connectionID string) (Credential, error) {
	b, err := k.GetCredential(ctx, q, connectionID)
	if err != nil {
		return Credential{}, err
	}
	var c Credential
	if err := json.Unmarshal(b, &c); err != nil {
		return Credential{}, fmt.Errorf("integration: credential of %s is not valid JSON", connectionID)
	}
	return c, nil
}

// WriteCredential seals c for connectionID.
func WriteCredential(ctx context.Context, k *secret.Keyring, q Querier, connectionID string, c Credential) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return k.PutCredential(ctx, q, connectionID, b)
}

// Credentials reads connections' credentials.
type Credentials interface {
	Credential(ctx context.Context, connectionID string) (Credential, error)
}

// CredentialStore reads credentials from the database through the keyring.
type CredentialStore struct {
	Keyring *secret.Keyring
	DB      Querier
}

// Credential opens the credential of connectionID.
func (s CredentialStore) Credential(ctx context.Context, connectionID string) (Credential, error) {
	return ReadCredential(ctx, s.Keyring, s.DB, connectionID)
}
