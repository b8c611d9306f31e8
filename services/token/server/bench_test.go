package server

import (
	"context"
	"testing"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/clients"
)

// benchServer is an in-process server (no gRPC) whose cache holds svc, for measuring (and fuzzing) the core.
func benchServer(b testing.TB, alg string, cacheSize int) *Server {
	kr, _ := suitekey.New(make([]byte, 32))
	st, err := bboltstore.Open(b.TempDir() + "/token.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s, err := New(Deps{Store: st, Keyring: kr, Registry: registryv1.NewRegistryInternalServiceClient(nil),
		Issuer: testIssuer, SigningAlg: alg, VerifyCacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	kid, sum := kr.Digest(clients.DigestPurpose, []byte(svcSecret))
	rec := &registryv1.ClientRecord{Client: &registryv1.Client{ClientId: "svc", TenantId: "default",
		AllowedGrantTypes: allGrants, AllowedScopes: []string{"read", "sudo"}},
		Secrets: []*registryv1.SecretDigest{{SecretId: "s", KeyId: kid, Digest: sum}}}
	clients.TestingPut(s.cache, rec)
	return s
}

func BenchmarkIssueClientCredentials(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			s := benchServer(b, alg, 0)
			req := &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Token(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCheckToken(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchServer(b, "ES256", bc.size)
			r, err := s.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret)})
			if err != nil {
				b.Fatal(err)
			}
			req := &tokenv1.CheckTokenRequest{Token: r.GetAccessToken()}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.CheckToken(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var _ = time.Second
