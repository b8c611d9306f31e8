package bboltstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, path string) token.Store {
		s, err := bboltstore.Open(path)
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
	if _, err := bboltstore.Open(path); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("err = %v", err)
	}
}

func TestLockedFileFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.db")
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := bboltstore.Open(path); err == nil {
		t.Fatal("second open of a locked file succeeded")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFromSchema1 opens a token.db written by the schema-1 layout: its keys, revocations and client
// snapshot are kept, the sign-in buckets are added, and the version becomes 2.
func TestMigrateFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"meta", "signing_keys", "revocations", "clients"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("1"))
		tx.Bucket([]byte("revocations")).Put([]byte("jti-1"), []byte{0, 0, 0, 0, 0x7f, 0, 0, 0})
		return tx.Bucket([]byte("clients")).Put([]byte("snapshot"), []byte("sealed"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	revs, err := s.Revocations(t.Context())
	if err != nil || len(revs) != 1 || revs[0].JTI != "jti-1" {
		t.Fatalf("revocations after migration: %v, %v", revs, err)
	}
	if snap, err := s.ClientSnapshot(t.Context()); err != nil || string(snap) != "sealed" {
		t.Fatalf("snapshot after migration: %q, %v", snap, err)
	}
	if err := s.PutSession(t.Context(), token.Session{ID: []byte("0123456789abcdef0123456789abcdef"), Expiry: time.Now()}); err != nil {
		t.Fatalf("sign-in bucket missing: %v", err)
	}
	s.DB().View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema_version")); string(v) != "4" {
			t.Errorf("schema version %q, want 4", v)
		}
		return nil
	})
}

// TestMigrateFromSchema2IndexesSessions: sessions stored before the SID index existed are found by their SID
// after the upgrade, so an id_token_hint issued before it still ends its session.
func TestMigrateFromSchema2IndexesSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.db")
	id := []byte("0123456789abcdef0123456789abcdef")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(t.Context(), token.Session{ID: id, SID: "sid-old", UserID: "u", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	// Make the file what schema 2 wrote: no index bucket, version 2.
	err = s.DB().Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("session_sids")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("2"))
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	se, err := s.SessionBySID(t.Context(), "sid-old")
	if err != nil || string(se.ID) != string(id) || se.UserID != "u" || !se.Expiry.Equal(exp) {
		t.Fatalf("SessionBySID after migration = %+v, %v", se, err)
	}
}

func benchStore(b *testing.B) *bboltstore.Store {
	s, err := bboltstore.Open(filepath.Join(b.TempDir(), "token.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkRevoke: revocations per second (concurrent ones share commits); compare etcdstore's.
func BenchmarkRevoke(b *testing.B) { storetest.BenchRevoke(b, benchStore(b)) }

// BenchmarkConsumeCode: code redemptions per second; compare etcdstore's.
func BenchmarkConsumeCode(b *testing.B) { storetest.BenchConsumeCode(b, benchStore(b)) }
