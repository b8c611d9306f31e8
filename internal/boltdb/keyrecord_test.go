package boltdb

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/suitekey"
)

// TestRekeyResealsOneFieldAllOrNothing: Rekey reseals the named field of every record under the new primary
// key, keeps fields it does not know, records the new key, and on any failure changes nothing.
func TestRekeyResealsOneFieldAllOrNothing(t *testing.T) {
	specA, specB := suitekey.Generate(), suitekey.Generate()
	a, _ := suitekey.Parse(specA)
	ba, _ := suitekey.Parse(specB + "," + specA)
	b, _ := suitekey.Parse(specB)
	things := []byte("things")
	db, err := Open(filepath.Join(t.TempDir(), "x.db"), Schema{Version: "1", Buckets: [][]byte{things}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := AdoptKeys(db, a); err != nil {
		t.Fatal(err)
	}
	put := func(id, extra string) {
		rec := map[string]any{"id": id, "sealed": a.Seal([]byte("secret of "+id), []byte(id)), "future_field": extra}
		if err := db.Update(func(tx *bolt.Tx) error { return PutJSON(tx.Bucket(things), []byte(id), rec) }); err != nil {
			t.Fatal(err)
		}
	}
	put("one", "kept")
	put("two", "kept too")
	resealAll := func(tx *bolt.Tx, r Reseal) (int, error) {
		return ResealJSONField(tx.Bucket(things), "sealed", func(_ []byte, rec map[string]json.RawMessage) ([]byte, error) {
			id, err := StringField(rec, "id")
			return []byte(id), err
		}, r)
	}

	// B alone lacks A: refused, as a MissingKeyError, and nothing changes.
	if _, _, err := Rekey(db, b, resealAll); !errors.As(err, new(*suitekey.MissingKeyError)) {
		t.Fatalf("rekey without the old key: %v", err)
	}
	// A failure half-way (the second record's additional data is wrong) rolls everything back.
	failing := func(tx *bolt.Tx, r Reseal) (int, error) {
		return ResealJSONField(tx.Bucket(things), "sealed", func(k []byte, _ map[string]json.RawMessage) ([]byte, error) {
			if string(k) == "two" {
				return []byte("wrong"), nil
			}
			return k, nil
		}, r)
	}
	if _, _, err := Rekey(db, ba, failing); err == nil {
		t.Fatal("a failing reseal succeeded")
	}
	if err := db.View(func(tx *bolt.Tx) error {
		rec, err := KeyRecord(tx)
		if err != nil || len(rec.Keys) != 1 || rec.Keys[0] != a.PrimaryID() {
			t.Errorf("record after a failed rekey: %+v %v", rec, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	n, rec, err := Rekey(db, ba, resealAll)
	if err != nil || n != 2 || len(rec.Keys) != 1 || rec.Keys[0] != b.PrimaryID() {
		t.Fatalf("rekey: %d %+v %v", n, rec, err)
	}
	if n, _, err := Rekey(db, ba, resealAll); err != nil || n != 0 {
		t.Fatalf("second rekey: %d %v", n, err)
	}
	if err := b.Check(rec); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for _, id := range []string{"one", "two"} {
			var got struct {
				Sealed []byte `json:"sealed"`
				Future string `json:"future_field"`
			}
			if _, err := GetJSON(tx.Bucket(things), []byte(id), &got); err != nil {
				return err
			}
			plain, err := b.Open(got.Sealed, []byte(id))
			if err != nil || string(plain) != "secret of "+id || got.Future == "" {
				t.Errorf("%s after rekey: %q %v, future_field %q", id, plain, err, got.Future)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := AdoptKeys(db, a); !errors.As(err, new(*suitekey.MissingKeyError)) {
		t.Fatalf("adopting the old key after the rekey: %v", err)
	}
}

// BenchmarkReadKeyRecord is the start-up cost of the key check, per file: a read-only open, one Get, close.
func BenchmarkReadKeyRecord(b *testing.B) {
	path := filepath.Join(b.TempDir(), "x.db")
	db, err := Open(path, Schema{Version: "1"})
	if err != nil {
		b.Fatal(err)
	}
	kr, _ := suitekey.Parse(suitekey.Generate())
	if err := AdoptKeys(db, kr); err != nil {
		b.Fatal(err)
	}
	db.Close()
	for b.Loop() {
		rec, _, err := ReadKeyRecord(path)
		if err != nil || kr.Check(rec) != nil {
			b.Fatal(err)
		}
	}
}
