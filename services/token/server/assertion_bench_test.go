package server

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/protobuf/types/known/structpb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// keyServer is an in-process server (no gRPC) on st whose cache holds the private_key_jwt client "pk" with
// k's public key inline, at the fixed time now.
func keyServer(tb testing.TB, st token.Store, k clientKey, now time.Time) *Server {
	tb.Helper()
	kr, _ := suitekey.New(make([]byte, 32))
	s, err := New(Deps{Store: st, Keyring: kr, Registry: registryv1.NewRegistryInternalServiceClient(nil), Issuer: testIssuer,
		Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.jwk}})
	var set structpb.Struct
	if err := set.UnmarshalJSON(b); err != nil {
		tb.Fatal(err)
	}
	clients.TestingPut(s.cache, &registryv1.ClientRecord{Client: &registryv1.Client{ClientId: "pk", TenantId: "default",
		AllowedGrantTypes: allGrants, AllowedScopes: []string{"read"}, TokenEndpointAuthMethod: clients.AuthPrivateKeyJWT, Jwks: &set}})
	return s
}

// BenchmarkPrivateKeyJWT is one private_key_jwt client authentication (an ES256 assertion, inline keys
// already parsed, the jti recorded in the store): parse, verify, claim checks and the store's
// check-and-set. The memory store isolates the CPU cost; bbolt adds its durable write (one fsync per batch
// of concurrent authentications).
func BenchmarkPrivateKeyJWT(b *testing.B) {
	k := newClientKey(b, "k1")
	now := time.Now().Truncate(time.Second)
	for _, backend := range []string{"memstore", "bbolt"} {
		b.Run(backend, func(b *testing.B) {
			var st token.Store = memstore.New()
			if backend == "bbolt" {
				bs, err := bboltstore.Open(b.TempDir() + "/token.db")
				if err != nil {
					b.Fatal(err)
				}
				st = bs
			}
			b.Cleanup(func() { st.Close() })
			s := keyServer(b, st, k, now)
			claims := map[string]any{"iss": "pk", "sub": "pk", "aud": testIssuer + "/connect/token", "exp": now.Add(time.Minute).Unix()}
			sign := func(i int) string {
				claims["jti"] = strings.Repeat("j", 8) + string(rune('a'+i%26)) + time.Duration(i).String()
				return signAssertion(b, jose.ES256, k.priv, "k1", claims)
			}
			ctx := context.Background()
			if _, err := s.authenticateAssertion(ctx, "", sign(-1)); err != nil { // warms the parsed key set
				b.Fatal(err)
			}
			as := make([]string, b.N)
			for i := range as {
				as[i] = sign(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.authenticateAssertion(ctx, "", as[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// 32 concurrent authentications: bbolt's Batch shares one commit among them.
	b.Run("bbolt-parallel", func(b *testing.B) {
		st, err := bboltstore.Open(b.TempDir() + "/token.db")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		s := keyServer(b, st, k, now)
		claims := map[string]any{"iss": "pk", "sub": "pk", "aud": testIssuer, "exp": now.Add(time.Minute).Unix()}
		as := make([]string, b.N)
		for i := range as {
			claims["jti"] = "p" + time.Duration(i).String()
			as[i] = signAssertion(b, jose.ES256, k.priv, "k1", claims)
		}
		var next atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.authenticateAssertion(context.Background(), "", as[next.Add(1)-1]); err != nil {
					b.Error(err)
				}
			}
		})
	})
}
