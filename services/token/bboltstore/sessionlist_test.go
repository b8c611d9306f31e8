package bboltstore_test

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
)

// TestMigrateFromSchema3ListsSessions: sessions stored before the session list index existed are listed
// after the upgrade, and the file is at schema 4.
func TestMigrateFromSchema3ListsSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.db")
	id := []byte("0123456789abcdef0123456789abcdef")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	s, err := bboltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(t.Context(), token.Session{ID: id, SID: "sid-old", UserID: "u", TenantID: "t", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	// Make the file what schema 3 wrote: no list bucket, version 3.
	err = s.DB().Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("session_list")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("3"))
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
	page, err := s.ListSessions(t.Context(), token.SessionQuery{TenantID: "t", UserID: "u"})
	if err != nil || len(page.Sessions) != 1 || page.Sessions[0].SID != "sid-old" || !page.Sessions[0].Expiry.Equal(exp) {
		t.Fatalf("ListSessions after migration = %+v, %v", page, err)
	}
	s.DB().View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema_version")); string(v) != "4" {
			t.Errorf("schema version %q, want 4", v)
		}
		return nil
	})
}
