package server

import (
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// BenchmarkParseLink verifies a reset link token (MAC, then the payload).
func BenchmarkParseLink(b *testing.B) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok, _ := makeLink(kr, linkClaims{Kind: linkReset, TenantID: "t-acme", UserID: "u-alice", Incarnation: "inc", PasswordStamp: "stamp"}, now)
	for b.Loop() {
		if _, err := parseLink(kr, linkReset, tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
