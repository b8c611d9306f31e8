package suitekey

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"
)

func TestSealOpenRotation(t *testing.T) {
	oldSpec, newSpec := Generate(), Generate()
	old, err := Parse(oldSpec)
	if err != nil {
		t.Fatal(err)
	}
	sealed := old.Seal([]byte("provider secret"), []byte("rec-1"))
	rotated, err := Parse(newSpec + "," + oldSpec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rotated.Open(sealed, []byte("rec-1"))
	if err != nil || string(got) != "provider secret" {
		t.Fatalf("open after rotation: %q, %v", got, err)
	}
	if _, err := rotated.Open(sealed, []byte("rec-2")); err == nil {
		t.Fatal("opened with the wrong additional data")
	}
	newOnly, _ := Parse(newSpec)
	if _, err := newOnly.Open(sealed, []byte("rec-1")); err == nil {
		t.Fatal("opened with a ring that lacks the key")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := rotated.Open(tampered, []byte("rec-1")); err == nil {
		t.Fatal("opened tampered data")
	}
	if rotated.PrimaryID() == old.PrimaryID() {
		t.Fatal("primary id did not change")
	}
}

func TestDigest(t *testing.T) {
	kr, _ := Parse(Generate())
	id, sum := kr.Digest("client-secret", []byte("s3cret"))
	if !kr.VerifyDigest("client-secret", id, []byte("s3cret"), sum) {
		t.Fatal("digest does not verify")
	}
	if kr.VerifyDigest("client-secret", id, []byte("s3cre7"), sum) {
		t.Fatal("wrong value verifies")
	}
	if kr.VerifyDigest("other-purpose", id, []byte("s3cret"), sum) {
		t.Fatal("digest verifies under another purpose")
	}
	if kr.VerifyDigest("client-secret", "nokey", []byte("s3cret"), sum) {
		t.Fatal("unknown key id verifies")
	}
}

func TestLoadOrCreateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	a, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.PrimaryID() != b.PrimaryID() || a.InternalCredential() != b.InternalCredential() {
		t.Fatal("reloaded key differs")
	}
}

func TestParseRejects(t *testing.T) {
	for _, spec := range []string{"", ",", "short", "00112233"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
}

func FuzzOpen(f *testing.F) {
	kr, _ := Parse(Generate())
	f.Add(kr.Seal([]byte("x"), nil))
	f.Add([]byte{1, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = kr.Open(b, nil) // must not panic
	})
}

// TestSubkeysConcurrentFirstUse: many goroutines deriving the same purposes at once agree, and MAC matches
// Digest and VerifyDigest.
func TestSubkeysConcurrentFirstUse(t *testing.T) {
	kr, err := New(make([]byte, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	ref, _ := New(make([]byte, KeySize))
	for _, p := range []string{"a", "b", "c"} {
		_, want[p] = ref.Digest(p, []byte("data"))
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			p := []string{"a", "b", "c"}[i%3]
			kid, sum := kr.Digest(p, []byte("data"))
			if !bytes.Equal(sum, want[p]) || !kr.VerifyDigest(p, kid, []byte("data"), sum) || !bytes.Equal(kr.MAC(p, kid, []byte("data")), sum) {
				t.Errorf("purpose %s: inconsistent digests", p)
			}
		})
	}
	wg.Wait()
	if kr.MAC("a", "unknown", []byte("data")) != nil || kr.VerifyDigest("a", "unknown", []byte("data"), want["a"]) {
		t.Fatal("unknown key id verified")
	}
}
