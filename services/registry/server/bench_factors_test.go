package server_test

import (
	"context"
	"testing"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// BenchmarkVerifyTOTPCode: one accepted TOTP code over loopback gRPC — open the sealed key, compare the codes
// of three steps, store the used step (a bbolt write). Each iteration is a new step (the clock advances).
func BenchmarkVerifyTOTPCode(b *testing.B) {
	e := newFactorEnv(b, nil, "")
	secret, _ := e.enrol(b, "alice")
	ctx := context.Background()
	for b.Loop() {
		e.clock.add(30 * time.Second)
		c := code(b, secret, e.clock.now())
		if _, err := e.factors.VerifySecondFactorCode(ctx, &registryv1.VerifySecondFactorCodeRequest{TenantId: "acme", UserId: "alice", Code: c}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetSignInSettings: the internal settings answer with an SMTP password and two providers' secrets
// opened, over loopback gRPC.
func BenchmarkGetSignInSettings(b *testing.B) {
	e := newFactorEnv(b, nil, "https://login.example")
	e.addProvider(b, corpProvider("one", true, true))
	e.addProvider(b, corpProvider("two", false, true))
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.factors.GetSignInSettings(ctx, &registryv1.GetSignInSettingsRequest{TenantId: "acme"}); err != nil {
			b.Fatal(err)
		}
	}
}
