package bboltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
	"github.com/authsuite/authsuite/services/registry/storetest"
)

// open opens a store in a temporary directory and, at cleanup, checks the file's integrity and closes it.
func open(t *testing.T) *bboltstore.Store { return openB(t) }

func openB(t testing.TB) *bboltstore.Store {
	t.Helper()
	s, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkIntegrity(t, s.DB())
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func checkIntegrity(t testing.TB, db *bolt.DB) {
	t.Helper()
	if err := db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain the channel so the checker goroutine ends
			if first == nil {
				first = err
			}
		}
		return first
	}); err != nil {
		t.Errorf("bbolt integrity check: %v", err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store { return open(t) })
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	c := registry.DefaultClient()
	c.ID, c.TenantID, c.AllowedGrantTypes = "c1", "a", []string{registry.GrantClientCredentials}
	if _, err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetClient(ctx, "c1")
	if err != nil || got.TenantID != "a" || got.AccessTokenLifetime != registry.DefaultAccessTokenLifetime {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if tn, err := s.GetTenantByCode(ctx, "a"); err != nil || tn.ID != "a" {
		t.Fatalf("tenant after reopen: %+v, %v", tn, err)
	}
}

func TestRefusesOtherSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("5"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := bboltstore.Open(path); !errors.Is(err, bboltstore.ErrSchemaVersion) {
		t.Fatalf("Open(version 5) = %v, want ErrSchemaVersion", err)
	}
}

func TestRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("tokens")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := bboltstore.Open(path); !errors.Is(err, bboltstore.ErrSchemaVersion) {
		t.Fatalf("Open(foreign file) = %v, want ErrSchemaVersion", err)
	}
}

func TestLockedFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := bboltstore.Open(path); err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
}

// TestRevisionSurvivesReopen: the revision is kept in the file, so revisions keep growing across restarts; the
// history of an earlier process is not replayed (changelog.ErrCompacted), later commits are.
func TestRevisionSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "b", Code: "b"}); err != nil {
		t.Fatal(err)
	}
	rev := s.Revision()
	if rev != 2 {
		t.Fatalf("revision after two commits = %d", rev)
	}
	s.Close()
	s, err = bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Revision(); got != rev {
		t.Fatalf("revision after reopen = %d, want %d", got, rev)
	}
	err = s.Watch(ctx, rev-1, func(changelog.Batch[registry.Change]) error { return errors.New("replayed") })
	if !errors.Is(err, changelog.ErrCompacted) {
		t.Fatalf("Watch from before the reopen: %v, want ErrCompacted", err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "c", Code: "c"}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	err = s.Watch(ctx, rev, func(b changelog.Batch[registry.Change]) error {
		if b.Revision != rev+1 || len(b.Changes) != 1 || b.Changes[0].Tenant == nil || b.Changes[0].Tenant.ID != "c" {
			t.Errorf("first batch after reopen: %+v", b)
		}
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
}

// TestUpgradesSchema1: a file of schema version 1 (no revision) opens, keeps its data and starts at revision 0.
func TestUpgradesSchema1(t *testing.T) {
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
		if err := tx.DeleteBucket([]byte("revision")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetTenant(ctx, "a"); err != nil || s.Revision() != 0 {
		t.Fatalf("after upgrade: %v, revision %d", err, s.Revision())
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "b", Code: "b"}); err != nil || s.Revision() != 1 {
		t.Fatalf("write after upgrade: %v, revision %d", err, s.Revision())
	}
}
