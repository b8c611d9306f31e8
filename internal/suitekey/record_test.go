package suitekey

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestRekeyedRecordKeepsDigestsOnly: after a rekey from A to B, a keyring of B alone plus the file's record
// verifies A's client-secret digests, but opens nothing sealed under A, answers no other purpose of A, and
// derives B's internal credential.
func TestRekeyedRecordKeepsDigestsOnly(t *testing.T) {
	specA, specB := Generate(), Generate()
	a, _ := Parse(specA)
	id, sum := a.Digest("client-secret", []byte("s3cret"))
	_, otherSum := a.Digest("other", []byte("s3cret"))
	sealed := a.Seal([]byte("provider secret"), []byte("ad"))
	old := Record{Keys: []string{a.PrimaryID()}}

	b, _ := Parse(specB)
	if err := b.Check(old); err == nil {
		t.Fatal("B alone passes the check of data sealed under A")
	} else if me := (*MissingKeyError)(nil); !errors.As(err, &me) || !slices.Equal(me.Missing, []string{a.PrimaryID()}) || !strings.Contains(err.Error(), a.PrimaryID()) {
		t.Fatalf("check error %v does not name %s", err, a.PrimaryID())
	}

	both, _ := Parse(specB + "," + specA)
	resealed, changed, err := both.Reseal(sealed, []byte("ad"))
	if err != nil || !changed {
		t.Fatalf("reseal: %v %v", changed, err)
	}
	if again, changed, err := both.Reseal(resealed, []byte("ad")); err != nil || changed || !bytes.Equal(again, resealed) {
		t.Fatalf("reseal of what is under the primary changed it: %v %v", changed, err)
	}
	rec, err := both.Rekeyed(old)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Keys, []string{b.PrimaryID()}) || len(rec.Retained) != 1 {
		t.Fatalf("record %+v", rec)
	}
	rec, err = ParseRecord(rec.Marshal())
	if err != nil {
		t.Fatal(err)
	}

	if err := b.Check(rec); err != nil {
		t.Fatalf("B alone fails the rekeyed record: %v", err)
	}
	bFull, err := b.WithRetained(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bFull.VerifyDigest("client-secret", id, []byte("s3cret"), sum) {
		t.Fatal("A's client-secret digest does not verify after the rekey")
	}
	if bFull.VerifyDigest("client-secret", id, []byte("s3cre7"), sum) {
		t.Fatal("a wrong secret verifies")
	}
	if bFull.VerifyDigest("other", id, []byte("s3cret"), otherSum) {
		t.Fatal("a purpose that is not retained verifies under the dropped key")
	}
	if _, err := bFull.Open(sealed, []byte("ad")); err == nil {
		t.Fatal("data sealed under the dropped key opens")
	}
	if got, err := bFull.Open(resealed, []byte("ad")); err != nil || string(got) != "provider secret" {
		t.Fatalf("resealed data: %q %v", got, err)
	}
	if bFull.InternalCredential() != b.InternalCredential() || bFull.PrimaryID() != b.PrimaryID() {
		t.Fatal("retained keys changed the primary")
	}
	if a2, _ := Parse(specA); a2.Check(rec) == nil {
		t.Fatal("A alone passes the check of the rekeyed record")
	}

	// A second rekey, B to C, carries A's digest subkey along.
	specC := Generate()
	cb, _ := Parse(specC + "," + specB)
	cbFull, err := cb.WithRetained(rec)
	if err != nil {
		t.Fatal(err)
	}
	rec2, err := cbFull.Rekeyed(rec)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Parse(specC)
	cFull, err := c.WithRetained(rec2)
	if err != nil || !cFull.VerifyDigest("client-secret", id, []byte("s3cret"), sum) || len(rec2.Retained) != 2 {
		t.Fatalf("after a second rekey: %v, %+v", err, rec2)
	}
}

func TestAdopt(t *testing.T) {
	a, _ := Parse(Generate())
	rec, changed := a.Adopt(Record{})
	if !changed || !slices.Equal(rec.Keys, []string{a.PrimaryID()}) {
		t.Fatalf("%+v %v", rec, changed)
	}
	if _, changed := a.Adopt(rec); changed {
		t.Fatal("adopting twice changes the record")
	}
	// A new primary in front: added to what the file already lists.
	specB := Generate()
	ba, _ := Parse(specB + "," + Generate())
	rec, _ = ba.Adopt(Record{Keys: []string{ba.IDs()[1]}})
	if !slices.Equal(rec.Keys, []string{ba.IDs()[1], ba.PrimaryID()}) {
		t.Fatalf("%+v", rec)
	}
	// A file without a record may hold data under any key given: it lists them all.
	if rec, _ = ba.Adopt(Record{}); !slices.Equal(rec.Keys, ba.IDs()) {
		t.Fatalf("legacy file adopted %+v", rec)
	}
}

// TestRekeyedLegacyFile: rekeying a file without a record retains the digest subkeys of every old key given,
// since its digests may be under any of them.
func TestRekeyedLegacyFile(t *testing.T) {
	specA, specB := Generate(), Generate()
	a, _ := Parse(specA)
	id, sum := a.Digest("client-secret", []byte("s3cret"))
	ba, _ := Parse(specB + "," + specA)
	rec, err := ba.Rekeyed(Record{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse(specB)
	bFull, err := b.WithRetained(rec)
	if err != nil || !bFull.VerifyDigest("client-secret", id, []byte("s3cret"), sum) {
		t.Fatalf("digest under A after rekeying a legacy file: %v %+v", err, rec)
	}
}

// FuzzParseRecord: a stored record either fails to parse or round-trips exactly, with only well-formed ids.
func FuzzParseRecord(f *testing.F) {
	kr, _ := Parse(Generate() + "," + Generate())
	rec, _ := kr.Rekeyed(Record{Keys: kr.IDs()})
	f.Add(rec.Marshal())
	f.Add([]byte(`{"keys":["0011aabb"]}`))
	f.Add([]byte(`{"keys":["../x"],"retained":{"zz":"AA=="}}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		for _, id := range r.Keys {
			if !validID(id) {
				t.Fatalf("accepted id %q", id)
			}
		}
		again, err := ParseRecord(r.Marshal())
		if err != nil || !slices.Equal(again.Keys, r.Keys) || len(again.Retained) != len(r.Retained) {
			t.Fatalf("round trip: %+v → %+v, %v", r, again, err)
		}
		for id, v := range r.Retained {
			if !validID(id) || !bytes.Equal(again.Retained[id], v) {
				t.Fatalf("retained %q does not round-trip", id)
			}
		}
		// Whatever the record says, checking it and loading its retained keys must not panic.
		_ = kr.Check(r)
		_, _ = kr.WithRetained(r)
	})
}
