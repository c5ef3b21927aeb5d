package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// KeySet holds the public keys of a JSON Web Key Set.
type KeySet struct {
	keys []jose.JSONWebKey
}

// ParseKeySet parses a JWKS document ({"keys":[…]}). Private key material is refused: a JWKS
// given to a verifier must only hold public keys.
func ParseKeySet(doc []byte) (*KeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("auth: JWKS has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("auth: JWKS key %q holds private key material: publish only public keys", k.KeyID)
		}
	}
	return &KeySet{keys: set.Keys}, nil
}

// Key finds the public key for kid usable with alg. With an empty kid, a single key of a
// matching type is used.
func (s *KeySet) Key(kid, alg string) (publicKey, bool) {
	var found publicKey
	n := 0
	for _, k := range s.keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if !keyFits(k.Key, alg) {
			continue
		}
		found = k.Key
		n++
	}
	return found, n == 1
}

func keyFits(key any, alg string) bool {
	switch key.(type) {
	case *rsa.PublicKey:
		return alg[:2] == "RS" || alg[:2] == "PS"
	case *ecdsa.PublicKey:
		return alg[:2] == "ES"
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
