package bboltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
)

// BenchmarkFindUserByFederatedIdentity: finding the user of an upstream identity among 10,000 linked users
// is an index lookup (its cost does not grow with the directory).
func BenchmarkFindUserByFederatedIdentity(b *testing.B) {
	ctx := context.Background()
	s, err := bboltstore.Open(filepath.Join(b.TempDir(), "registry.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.DB().NoSync = true
	tenant := registry.Tenant{ID: "a", Code: "a"}
	var users []registry.User
	for i := range 10000 {
		u := registry.User{ID: fmt.Sprintf("u%05d", i), TenantID: "a", LoginName: fmt.Sprintf("user%05d", i)}
		u.FederatedIdentities = []registry.FederatedIdentity{{ProviderID: "corp", Subject: fmt.Sprintf("sub-%d", i)}}
		users = append(users, u)
	}
	if ok, err := s.Seed(ctx, []registry.Tenant{tenant}, nil, users); err != nil || !ok {
		b.Fatal(ok, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		u, err := s.FindUserByFederatedIdentity(ctx, "a", "corp", fmt.Sprintf("sub-%d", i%10000))
		if err != nil || u.ID != fmt.Sprintf("u%05d", i%10000) {
			b.Fatal(u.ID, err)
		}
	}
}
