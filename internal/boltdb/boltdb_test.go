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

// TestOpenMigrates: an older file is upgraded step by step in one transaction; a failing step leaves it as
// it was; a version without a step is refused.
func TestOpenMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	things := []byte("things")
	db, err := Open(path, Schema{Version: "1", Buckets: [][]byte{things}})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(things).Put([]byte("k"), []byte("v1")) })
	db.Close()

	var ran []string
	step := func(name string, fail bool) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			ran = append(ran, name)
			if tx.Bucket([]byte("more")) == nil {
				return errors.New("new bucket not created before the steps")
			}
			if fail {
				return errors.New("step failed")
			}
			return tx.Bucket(things).Put([]byte("k"), append(tx.Bucket(things).Get([]byte("k")), '+'))
		}
	}
	v3 := Schema{Version: "3", Buckets: [][]byte{things, []byte("more")}}
	v3.Migrate = map[string]func(*bolt.Tx) error{"1": step("1→2", false), "2": step("2→3", true)}
	if _, err := Open(path, v3); err == nil {
		t.Fatal("open with a failing step succeeded")
	}
	version := func() (v, k string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.View(func(tx *bolt.Tx) error {
			v, k = string(tx.Bucket(bucketMeta).Get(keySchemaVersion)), string(tx.Bucket(things).Get([]byte("k")))
			return nil
		})
		return v, k
	}
	if v, k := version(); v != "1" || k != "v1" {
		t.Fatalf("after a failed migration: version %q, k %q", v, k)
	}
	if _, err := Open(path, Schema{Version: "3", Buckets: v3.Buckets, Migrate: map[string]func(*bolt.Tx) error{"2": step("2→3", false)}}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open without a step from 1: %v", err)
	}
	ran = nil
	v3.Migrate["2"] = step("2→3", false)
	db, err = Open(path, v3)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if v, k := version(); v != "3" || k != "v1++" || len(ran) != 2 || ran[0] != "1→2" {
		t.Fatalf("after migration: version %q, k %q, steps %v", v, k, ran)
	}
	if _, err := Open(path, Schema{Version: "2", Migrate: v3.Migrate}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open of a newer file: %v", err)
	}
}
