package verifier

import (
	"context"
	"errors"
	"testing"

	"github.com/authsuite/authsuite/services/token/jwt"
)

// FuzzVerify feeds Verify arbitrary strings derived from genuine tokens. Oracle: Verify never panics,
// every error wraps one of the package's errors, and a token is accepted only when it is byte for byte
// one the issuer signed (Ed25519 signatures and strict base64url leave no second spelling), with the
// claims it was signed with.
func FuzzVerify(f *testing.F) {
	iss := newFakeIssuer(f)
	v := newTestVerifier(f, iss, nil)
	genuine := map[string]jwt.Claims{}
	for _, scope := range []string{"orders.read", "orders.read orders.write", ""} {
		c := iss.claims()
		c.Scope = scope
		c.Act = &jwt.Actor{ClientID: "b", Act: &jwt.Actor{ClientID: "a"}}
		tok := iss.sign(c)
		genuine[tok] = c
		f.Add(tok)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := v.Verify(context.Background(), raw, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrNotReady) {
				t.Fatalf("error %v wraps none of the package's errors", err)
			}
			return
		}
		c, ok := genuine[raw]
		if !ok {
			t.Fatalf("accepted a token the issuer never signed: %q", raw)
		}
		if tok.ID != c.ID || tok.Subject != c.Subject || tok.Actor == nil || tok.Actor.Actor.ClientID != "a" {
			t.Fatalf("accepted with other claims: %+v", tok)
		}
	})
}

// FuzzParseJWKS feeds the JWKS parser arbitrary documents. Oracle: it never panics, and every key it
// returns is filed under its own RFC 7638 thumbprint with an algorithm authsuite signs with.
func FuzzParseJWKS(f *testing.F) {
	iss := newFakeIssuer(f)
	f.Add(iss.jwks())
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","alg":"ES256","kid":"x"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA","alg":"HS256","kid":"x"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := parseJWKS(doc)
		if err != nil {
			if keys != nil {
				t.Fatal("keys with an error")
			}
			return
		}
		if len(keys) == 0 || len(keys) > maxKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for kid, k := range keys {
			if kid != k.KeyID() || k.JWK().Thumbprint() != kid {
				t.Fatalf("key filed under %q is %q (thumbprint %q)", kid, k.KeyID(), k.JWK().Thumbprint())
			}
			if _, err := jwt.ParseAlg(string(k.Alg())); err != nil {
				t.Fatalf("key with algorithm %q", k.Alg())
			}
		}
	})
}
