package registry

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/jwksfetch"
)

// JWK Set bounds: the size of its JSON, its keys, and the RSA modulus sizes a key may have (the upper bound
// caps the work of verifying one signature). They are the token service's (internal/jwksfetch), so every
// key a client registers is one the token service uses.
const (
	MaxJWKSBytes  = jwksfetch.MaxBodyBytes
	MaxJWKSKeys   = jwksfetch.MaxKeys
	MinRSAKeyBits = jwksfetch.MinRSABits
	MaxRSAKeyBits = jwksfetch.MaxRSABits
)

// jwkPrivateMembers are the JWK members that carry private or symmetric key material (RFC 7518 §6.2.2,
// §6.3.2, §6.4.1; RFC 8037 §2; "priv" of ML-DSA keys).
var jwkPrivateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// ValidateJWKS checks a client's JWK Set (RFC 7517 §5), given as JSON: at most MaxJWKSBytes and MaxJWKSKeys,
// at least one key, every key public (no private or symmetric member), of type EC on P-256, P-384 or P-521,
// RSA of 2048 to 8192 bits, or OKP Ed25519 (RFC 8037), with an x5c chain (if any) that matches the key, a
// "use" (if any) of "sig", and key ids unique where set. It is stricter than the token service's reading of
// a set (jwksfetch.ParseSet, which skips keys it cannot use): a registered key the token service would
// skip is refused here. Errors name field (e.g. "jwks.keys[2]").
func ValidateJWKS(field string, raw []byte) error {
	if len(raw) > MaxJWKSBytes {
		return apierror.Invalid(field, "must be at most %d bytes", MaxJWKSBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return apierror.Invalid(field, `not a JWK Set: want {"keys": [...]} (RFC 7517 §5)`)
	}
	if len(set.Keys) == 0 {
		return apierror.Invalid(field+".keys", "must hold at least one key")
	}
	if len(set.Keys) > MaxJWKSKeys {
		return apierror.Invalid(field+".keys", "at most %d keys", MaxJWKSKeys)
	}
	kids := make(map[string]bool, len(set.Keys))
	for i, k := range set.Keys {
		f := fmt.Sprintf("%s.keys[%d]", field, i)
		var members map[string]json.RawMessage
		if err := json.Unmarshal(k, &members); err != nil || members == nil {
			return apierror.Invalid(f, "not a JSON object")
		}
		for _, m := range jwkPrivateMembers {
			if _, ok := members[m]; ok {
				return apierror.Invalid(f, "has the private or symmetric key member %q: register public keys only", m)
			}
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(k); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				return apierror.Invalid(f, "unsupported key: want kty EC (P-256, P-384, P-521), RSA or OKP (Ed25519)")
			}
			return apierror.Invalid(f, "not a valid JWK: %s", apierror.Clip(err.Error(), 120))
		}
		if !jwk.IsPublic() || !jwk.Valid() {
			return apierror.Invalid(f, "register public keys only")
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			// RFC 7517 §4.2: a key for encryption does not verify the client's signatures.
			return apierror.Invalid(f, `"use" must be "sig" (or absent): the keys verify the client's signatures`)
		}
		switch key := jwk.Key.(type) {
		case *ecdsa.PublicKey: // go-jose reads only P-256, P-384 and P-521 (RFC 7518 §6.2.1.1)
		case *rsa.PublicKey:
			if n := key.N.BitLen(); n < MinRSAKeyBits || n > MaxRSAKeyBits {
				return apierror.Invalid(f, "an RSA key must have %d to %d bits, not %d (RFC 7518 §3.3)", MinRSAKeyBits, MaxRSAKeyBits, n)
			}
		case ed25519.PublicKey:
		default:
			return apierror.Invalid(f, "unsupported key: want kty EC (P-256, P-384, P-521), RSA or OKP (Ed25519)")
		}
		if jwk.KeyID != "" {
			if kids[jwk.KeyID] {
				return apierror.Invalid(f, "duplicate kid %q", apierror.Clip(jwk.KeyID, 40))
			}
			kids[jwk.KeyID] = true
		}
	}
	return nil
}
