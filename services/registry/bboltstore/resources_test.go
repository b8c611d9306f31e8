package bboltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
)

// TestUpgradeAddsResources: a version 2 file (before API resources) opens as version 3 with its records and
// an empty resources bucket, and takes resources at once; the upgraded file is refused by a build that reads
// version 2 only, which cannot see resources and would leave a deleted tenant's behind.
func TestUpgradeAddsResources(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("resources")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("2"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = bboltstore.Open(path)
	if err != nil {
		t.Fatalf("open a version 2 file: %v", err)
	}
	defer s.Close()
	var version string
	if err := s.DB().View(func(tx *bolt.Tx) error {
		version = string(tx.Bucket([]byte("meta")).Get([]byte("schema_version")))
		return nil
	}); err != nil || version != bboltstore.SchemaVersion {
		t.Fatalf("schema version after the upgrade %q (%v), want %s", version, err, bboltstore.SchemaVersion)
	}
	if _, err := s.GetTenant(ctx, "a"); err != nil {
		t.Fatalf("tenant after the upgrade: %v", err)
	}
	if _, err := s.CreateApiResource(ctx, registry.ApiResource{ID: "https://orders.internal", TenantID: "a", Scopes: []string{"orders.read"}}); err != nil {
		t.Fatalf("resource after the upgrade: %v", err)
	}
	if items, _, err := s.ListApiResources(ctx, "a", registry.ListOptions{}); err != nil || len(items) != 1 {
		t.Fatalf("resources after the upgrade: %v, %v", items, err)
	}
}
