package outbound

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wedsync/vendorhub/internal/secret"
	"github.com/wedsync/vendorhub/internal/webhook/signature"
)

// secretSize is the size of a generated signing secret (Standard Webhooks: 24-64 bytes).
const secretSize = 32

// sealedSecrets is the plaintext sealed in vendorhub.webhook_endpoint_secrets.
type sealedSecrets struct {
	Current       string    `json:"current"`
	Previous      string    `json:"previous,omitempty"`
	PreviousUntil time.Time `json:"previous_until,omitzero"`
}

// RollSecret issues a new signing secret ("whsec_…") for endpoint and returns it; it is the only
// time the secret leaves the sidecar in clear. The previous secret keeps signing too (receivers
// accept either) until now+overlap, so a receiver can switch without missing a message.
func RollSecret(ctx context.Context, q secret.Querier, k *secret.Keyring, endpointID string, now time.Time, overlap time.Duration) (string, error) {
	var old sealedSecrets
	b, err := k.Get(ctx, q, secret.EndpointSecrets, endpointID)
	switch {
	case err == nil:
		if jerr := json.Unmarshal(b, &old); jerr != nil {
			return "", fmt.Errorf("outbound: secret of endpoint %s is not valid JSON", endpointID)
		}
	case errors.Is(err, secret.ErrNotFound):
	default:
		return "", err
	}
	raw := make([]byte, secretSize)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("outbound: generate secret: %w", err)
	}
	next := sealedSecrets{Current: signature.FormatSecret(raw)}
	if old.Current != "" {
		next.Previous, next.PreviousUntil = old.Current, now.Add(overlap)
	}
	plain, err := json.Marshal(next)
	if err != nil {
		return "", err
	}
	if err := k.Put(ctx, q, secret.EndpointSecrets, endpointID, plain); err != nil {
		return "", err
	}
	return next.Current, nil
}

// signingSecrets returns the secrets that sign endpoint's messages at now: the current one and,
// during a rotation, the previous one. An endpoint without a secret gets one.
func signingSecrets(ctx context.Context, q secret.Querier, k *secret.Keyring, endpointID string, now time.Time, overlap time.Duration) ([][]byte, error) {
	b, err := k.Get(ctx, q, secret.EndpointSecrets, endpointID)
	if errors.Is(err, secret.ErrNotFound) {
		if _, err := RollSecret(ctx, q, k, endpointID, now, overlap); err != nil {
			return nil, err
		}
		b, err = k.Get(ctx, q, secret.EndpointSecrets, endpointID)
	}
	if err != nil {
		return nil, err
	}
	var s sealedSecrets
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("outbound: secret of endpoint %s is not valid JSON", endpointID)
	}
	cur, err := signature.ParseSecret(s.Current)
	if err != nil {
		return nil, fmt.Errorf("outbound: secret of endpoint %s: %w", endpointID, err)
	}
	out := [][]byte{cur}
	if s.Previous != "" && now.Before(s.PreviousUntil) {
		if prev, err := signature.ParseSecret(s.Previous); err == nil {
			out = append(out, prev)
		}
	}
	return out, nil
}
