package bboltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/bboltstore"
	"github.com/authsuite/authsuite/services/provider/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store {
		s, err := bboltstore.Open(filepath.Join(t.TempDir(), "provider.db"))
		if err != nil {
			t.Fatal(err)
		}
		return checked{t: t, Store: s}
	})
}

// checked runs bbolt's consistency check before closing.
type checked struct {
	t *testing.T
	*bboltstore.Store
}

func (c checked) Close() error {
	c.t.Helper()
	if err := c.DB().View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		c.t.Errorf("bbolt consistency check: %v", err)
	}
	return c.Store.Close()
}

func TestSchemaVersionChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provider.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := bboltstore.Open(path); !errors.Is(err, bboltstore.ErrSchemaVersion) {
		t.Fatalf("Open of version 99 = %v, want ErrSchemaVersion", err)
	}
}

func TestForeignFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	db.Close()
	if _, err := bboltstore.Open(path); !errors.Is(err, bboltstore.ErrSchemaVersion) {
		t.Fatalf("Open of a foreign file = %v, want ErrSchemaVersion", err)
	}
}

// TestRevisionPersisted: the revision is kept in the file, so it does not go back when the store is
// reopened; a watch from before the reopen is told its history is gone.
func TestRevisionPersisted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "provider.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k := provider.ProviderKey{Type: "github", Name: "GitHub"}
	for range 3 {
		if err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: k}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAuthState(ctx, provider.AuthState{Hash: []byte("h"), ConnectorID: "missing"}); err == nil {
		t.Fatal("PutAuthState for a missing connector succeeded")
	}
	if r := s.Revision(); r != 3 {
		t.Fatalf("Revision after 3 commits = %d", r)
	}
	s.Close()
	s, err = bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := s.Revision(); r != 3 {
		t.Fatalf("Revision after reopening = %d, want 3", r)
	}
	if err := s.DeleteProvider(ctx, k); err != nil {
		t.Fatal(err)
	}
	if r := s.Revision(); r != 4 {
		t.Fatalf("Revision after the next commit = %d, want 4", r)
	}
	if err := s.Watch(ctx, 1, func(changelog.Batch[provider.Change]) error { return nil }); !errors.Is(err, changelog.ErrCompacted) {
		t.Fatalf("Watch from before the reopen = %v, want ErrCompacted", err)
	}
	stop := errors.New("stop")
	var got []changelog.Batch[provider.Change]
	if err := s.Watch(ctx, 3, func(b changelog.Batch[provider.Change]) error { got = append(got, b); return stop }); !errors.Is(err, stop) ||
		len(got) != 1 || got[0].Revision != 4 || got[0].Changes[0].Provider == nil || *got[0].Changes[0].Provider != k {
		t.Fatalf("Watch from 3 = %v, %+v", err, got)
	}
}
