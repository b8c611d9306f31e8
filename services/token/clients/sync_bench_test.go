package clients

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
	"github.com/authsuite/authsuite/services/registry"
	regbbolt "github.com/authsuite/authsuite/services/registry/bboltstore"
)

// BenchmarkViewSync100k measures what a new token replica pays to learn 100,000 clients from a registry
// replica (on the bbolt store) over gRPC: the time from connecting until the view is ready (snapshot
// streamed and installed).
func BenchmarkViewSync100k(b *testing.B) {
	const n = 100_000
	st, err := regbbolt.Open(filepath.Join(b.TempDir(), "registry.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	clients := make([]registry.Client, n)
	for i := range clients {
		clients[i] = registry.Client{
			ID: fmt.Sprintf("client-%06d", i), TenantID: "acme", Name: "App", AllowedGrantTypes: []string{"authorization_code", "refresh_token"},
			AllowedScopes: []string{"openid", "profile"}, RedirectURIs: []string{fmt.Sprintf("https://app%d.example/cb", i)},
			Secrets: []registry.Secret{{ID: "s1", KeyID: "k1", Digest: make([]byte, 32), StartTime: t0, Expiration: t0.Add(365 * 24 * time.Hour)}},
		}
	}
	if _, err := st.Seed(context.Background(), []registry.Tenant{{ID: "acme", Code: "acme"}}, clients, nil); err != nil {
		b.Fatal(err)
	}
	clients = nil
	cred := testKeyring(b).InternalCredential()
	addr := registryReplica(b, st, cred)
	conn := registryv1.NewRegistryInternalServiceClient(grpctest.Dial(b, addr, cred))
	tokenStore := openTokenStore(b, filepath.Join(b.TempDir(), "token.db"))
	b.ResetTimer()
	for range b.N {
		c := NewCache(Config{Registry: conn, Store: tokenStore, Keyring: testKeyring(b), PersistDelay: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		select {
		case <-c.ReadyC():
		case <-time.After(time.Minute):
			b.Fatal("view not ready within a minute")
		}
		b.StopTimer()
		if _, ok := c.Get("client-099999"); !ok {
			b.Fatal("the last client is missing")
		}
		cancel()
		<-done
		b.StartTimer()
	}
}
