package server

import (
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// FuzzParseLink: parseLink accepts exactly the tokens makeLink minted for its kind, unexpired; any other
// string (a mutation of a minted token, another kind's token, garbage) is errBadLink, and nothing panics.
func FuzzParseLink(f *testing.F) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	// Deterministic tokens: every fuzzing worker mints the same ones.
	exp := now.Add(10 * time.Minute).Unix()
	reset := signLink(kr, linkClaims{Kind: linkReset, TenantID: "t", UserID: "u", Incarnation: "i", PasswordStamp: "s", JTI: "j1", Expiry: exp})
	verify := signLink(kr, linkClaims{Kind: linkVerify, TenantID: "t", UserID: "u", Incarnation: "i", Email: "a@b.c", JTI: "j2", Expiry: exp})
	minted := map[string]string{reset: linkReset, verify: linkVerify}
	f.Add(reset, 0)
	f.Add(verify, 0)
	f.Add(reset+"=", 1)
	f.Add(strings.Replace(reset, ".", "..", 1), 0)
	f.Add("00000000.e30.", 0)
	f.Add(reset, 2000)
	f.Fuzz(func(t *testing.T, tok string, ageSeconds int) {
		at := now.Add(time.Duration(ageSeconds%100_000) * time.Second)
		for _, kind := range []string{linkReset, linkVerify} {
			c, err := parseLink(kr, kind, tok, at)
			if err != nil {
				if err != errBadLink {
					t.Fatalf("error %v is not errBadLink", err)
				}
				continue
			}
			if minted[tok] != kind {
				t.Fatalf("accepted %q as %s: it was not minted as one", tok, kind)
			}
			if !at.Before(time.Unix(c.Expiry, 0)) {
				t.Fatalf("accepted an expired token (age %v)", at.Sub(now))
			}
		}
	})
}
