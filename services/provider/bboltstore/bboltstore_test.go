package bboltstore_test

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

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
