package boltdb

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestOpenChecksSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	v1 := Schema{Version: "1", Buckets: [][]byte{[]byte("things")}}
	db, err := Open(path, v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("things")) == nil {
			return errors.New("bucket missing")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A second open while the first holds the lock fails after the timeout instead of hanging.
	if _, err := Open(path, v1); err == nil {
		t.Fatal("second open succeeded while the file was locked")
	}
	db.Close()
	if _, err := Open(path, Schema{Version: "2"}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open with another version: %v", err)
	}
	db, err = Open(path, v1)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	db.Close()

	foreign := filepath.Join(t.TempDir(), "foreign.db")
	raw, _ := bolt.Open(foreign, 0o600, nil)
	raw.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("theirs")); return err })
	raw.Close()
	if _, err := Open(foreign, v1); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open of a foreign file: %v", err)
	}
}

func TestJSON(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "x.db"), Schema{Version: "1", Buckets: [][]byte{[]byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type rec struct{ A string }
	var got rec
	var found bool
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		if err := PutJSON(b, []byte("k"), rec{A: "x"}); err != nil {
			return err
		}
		found, err = GetJSON(b, []byte("k"), &got)
		return err
	})
	if err != nil || !found || got.A != "x" {
		t.Fatalf("round trip: %v %v %v", got, found, err)
	}
}
