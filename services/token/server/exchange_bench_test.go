package server

import (
	"context"
	"testing"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// BenchmarkTokenExchange measures the token-exchange grant in process (no gRPC), ES256: client
// authentication, verifying the subject token (cached signature check) and signing the new token. The
// subject token is a user token for a resource the exchanging client serves.
func BenchmarkTokenExchange(b *testing.B) {
	s := benchServer(b, "ES256", 0)
	kid, sum := s.kr.Digest(clients.DigestPurpose, []byte("pw-svc-a"))
	for _, rec := range []*registryv1.ClientRecord{
		{Client: &registryv1.Client{ClientId: "web", TenantId: "default", AllowedGrantTypes: allGrants, AllowedScopes: []string{"read"}}},
		{Client: &registryv1.Client{ClientId: "svc-a", TenantId: "default", AllowedGrantTypes: []string{GrantTokenExchange},
			AllowedScopes: []string{"read", "openid"}, ServesResources: []string{resA}},
			Secrets: []*registryv1.SecretDigest{{SecretId: "s", KeyId: kid, Digest: sum}}},
	} {
		if err := clients.TestingPut(s.cache, rec); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now()
	subject, err := s.keys.signer().Sign(&jwt.Claims{
		Issuer: s.issuer, Subject: "u-alice", Audience: jwt.Audience{resA, s.issuer}, ClientID: "web", Scope: "openid read",
		Tenant: "default", IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), ID: newJTI(), AuthTime: now.Unix(),
	})
	if err != nil {
		b.Fatal(err)
	}
	req := &tokenv1.TokenRequest{GrantType: GrantTokenExchange, Client: creds("svc-a", "pw-svc-a"), SubjectToken: subject,
		SubjectTokenType: TokenTypeAccessToken}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Token(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Token(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
	})
}
