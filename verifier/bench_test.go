package verifier

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// BenchmarkVerifyWarm is Verify of a token seen before, with a synced revocation watch holding 10000
// revocations: a hash and map lookups, no signature check, no network call.
func BenchmarkVerifyWarm(b *testing.B) {
	f := newFakeIssuer(b)
	revs := &fakeRevocations{}
	for i := range 10_000 {
		revs.push(&tokenv1.Revocation{Jti: fmt.Sprintf("revoked-%d", i), ExpireTime: 1 << 40})
	}
	v := newTestVerifier(b, f, revs)
	raw := f.sign(f.claims())
	ctx := context.Background()
	if _, err := v.Verify(ctx, raw, nil, "orders.read"); err != nil {
		b.Fatal(err)
	}
	fetches := f.fetches.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw, nil, "orders.read"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if f.fetches.Load() != fetches {
		b.Fatal("a warm Verify fetched keys")
	}
}

// BenchmarkUnaryInterceptorWarm is the interceptor's cost per call with a warm cache (metadata parsing,
// rule lookup, Verify, the context value).
func BenchmarkUnaryInterceptorWarm(b *testing.B) {
	f := newFakeIssuer(b)
	v := newTestVerifier(b, f, &fakeRevocations{})
	icpt := v.UnaryServerInterceptor(Rules{"/orders.v1.Orders/": {"orders.read"}})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+f.sign(f.claims())))
	info := &grpc.UnaryServerInfo{FullMethod: "/orders.v1.Orders/Get"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := icpt(ctx, nil, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCold is Verify of a token never seen: the signature check (Ed25519) and claims decoding.
func BenchmarkVerifyCold(b *testing.B) {
	f := newFakeIssuer(b)
	v := newTestVerifier(b, f, nil, func(c *Config) { c.CacheSize = -1 })
	raw := f.sign(f.claims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), raw, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevocationLookup is the revocation set's lookup of a token with two parents against 100000
// revoked jtis, 10000 families and 10000 user cutoffs.
func BenchmarkRevocationLookup(b *testing.B) {
	r := newRevocationSet()
	for i := range 100_000 {
		r.add(&tokenv1.Revocation{Jti: fmt.Sprintf("jti-%d", i), ExpireTime: 1 << 40})
	}
	for i := range 10_000 {
		r.add(&tokenv1.Revocation{FamilyId: fmt.Sprintf("fam-%d", i), ExpireTime: 1 << 40})
		r.add(&tokenv1.Revocation{TenantId: "acme", Subject: fmt.Sprintf("user-%d", i), IssuedBefore: 1, ExpireTime: 1 << 40})
	}
	f := newFakeIssuer(b)
	c := f.claims()
	c.Parents, c.FamilyID = []string{"p1", "p2"}, "fam-x"
	t := tokenOf(&c, nil)
	b.ReportAllocs()
	for b.Loop() {
		if r.revoked(t) {
			b.Fatal("revoked")
		}
	}
}
