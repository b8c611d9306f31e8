package boltstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/services/token/store"
	"github.com/authsuite/authsuite/services/token/store/boltstore"
	"github.com/authsuite/authsuite/services/token/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, path string) store.Store {
		s, err := boltstore.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// Check consistency before the suite's Close (no-op when the suite already closed it).
			if db := s.DB(); db.Path() != "" {
				_ = db.View(func(tx *bolt.Tx) error {
					for err := range tx.Check() {
						t.Errorf("bbolt check: %v", err)
					}
					return nil
				})
			}
			s.Close()
		})
		return s
	})
}

func TestSchemaVersionMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("meta"))
		return b.Put([]byte("schema_version"), []byte("99"))
	})
	db.Close()
	if _, err := boltstore.Open(path); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("err = %v", err)
	}
}

func TestLockedFileFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := boltstore.Open(path); err == nil {
		t.Fatal("second open of a locked file succeeded")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
