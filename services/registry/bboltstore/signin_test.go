package bboltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
)

// TestUpgradeAddsFederatedIndex: a version 3 file (before federated identities) opens as version 4 with its
// users, whose records read back without factors, and with an empty federated identity index that takes links
// at once.
func TestUpgradeAddsFederatedIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, registry.User{ID: "u1", TenantID: "a", LoginName: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("user_federated")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("3"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = bboltstore.Open(path)
	if err != nil {
		t.Fatalf("open a version 3 file: %v", err)
	}
	defer s.Close()
	u, err := s.GetUser(ctx, "a", "u1")
	if err != nil || u.TOTP.Enrolled() || u.FederatedIdentities != nil || u.Passkeys != nil {
		t.Fatalf("user after the upgrade = %+v, %v", u.Factors, err)
	}
	if _, err := s.FindUserByFederatedIdentity(ctx, "a", "corp", "1"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("lookup in the new index = %v", err)
	}
	if _, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) {
		u.FederatedIdentities = []registry.FederatedIdentity{{ProviderID: "corp", Subject: "1"}}
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindUserByFederatedIdentity(ctx, "a", "corp", "1"); err != nil || got.ID != "u1" {
		t.Fatalf("link after the upgrade = %s, %v", got.ID, err)
	}
}
