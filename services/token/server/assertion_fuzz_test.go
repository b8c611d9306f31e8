package server

import (
	"context"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authsuite/authsuite/services/token/memstore"
)

// FuzzAssertion signs assertions of fuzzed claims with the registered key and checks authenticateAssertion
// against RFC 7523 §3 as written here, independently: accepted exactly when iss = sub = the client, aud names
// this server, now < exp ≤ now + 5 min, nbf and iat at most 30 s ahead, exp at most 5 min after iat, and the
// jti (1 to 256 bytes) is fresh. Arbitrary text in place of an assertion is never accepted; nothing panics.
func FuzzAssertion(f *testing.F) {
	f.Add("pk", "pk", uint8(1), int32(60), false, int32(0), true, int32(0), "j1", "")
	f.Add("pk", "pk", uint8(0), int32(301), false, int32(0), false, int32(0), "j2", "")
	f.Add("pk", "svc", uint8(2), int32(10), true, int32(31), true, int32(-400), "", "")
	f.Add("pk", "pk", uint8(4), int32(0), false, int32(0), false, int32(0), "j3", "eyJhbGciOiJub25lIn0.e30.")
	now := time.Now().Truncate(time.Second)
	k := newClientKey(f, "k1")
	s := keyServer(f, memstore.New(), k, now)
	auds := s.assertionAudiences()
	used := map[string]bool{}
	f.Fuzz(func(t *testing.T, iss, sub string, audIdx uint8, expOff int32, hasNbf bool, nbfOff int32, hasIat bool, iatOff int32, jti, raw string) {
		ctx := context.Background()
		if raw != "" {
			if _, err := s.authenticateAssertion(ctx, "", raw); err == nil {
				t.Fatalf("arbitrary text %q authenticated", raw)
			}
			return
		}
		iss, sub, jti = strings.ToValidUTF8(iss, "?"), strings.ToValidUTF8(sub, "?"), strings.ToValidUTF8(jti, "?")
		aud := "https://elsewhere.example"
		if int(audIdx) < len(auds) {
			aud = auds[audIdx]
		}
		exp := now.Add(time.Duration(expOff) * time.Second)
		c := map[string]any{"iss": iss, "sub": sub, "aud": aud, "exp": exp.Unix()}
		if jti != "" {
			c["jti"] = jti
		}
		nbf, iat := now.Add(time.Duration(nbfOff)*time.Second), now.Add(time.Duration(iatOff)*time.Second)
		if hasNbf {
			c["nbf"] = nbf.Unix()
		}
		if hasIat {
			c["iat"] = iat.Unix()
		}
		_, err := s.authenticateAssertion(ctx, "", signAssertion(t, jose.ES256, k.priv, "k1", c))
		want := iss == "pk" && sub == "pk" && int(audIdx) < len(auds) &&
			now.Before(exp) && exp.Sub(now) <= MaxAssertionLifetime &&
			(!hasNbf || !nbf.After(now.Add(assertionLeeway))) &&
			(!hasIat || (!iat.After(now.Add(assertionLeeway)) && exp.Sub(iat) <= MaxAssertionLifetime)) &&
			jti != "" && len(jti) <= MaxAssertionIDLen && !used[jti]
		if (err == nil) != want {
			t.Fatalf("claims %v: err %v, want accepted=%v", c, err, want)
		}
		if err == nil {
			used[jti] = true
		}
	})
}
