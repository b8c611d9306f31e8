package etcdstore

import (
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/provider"
)

// FuzzKeyParts holds the key rules of a connector the store accepts (keyPart true for its type, provider
// name and id): its c/ key lies in its own provider's range and in no other's, the watch reads back the
// same id from a deleted connector's key, the i/ entry names the same provider, and the JSON record keeps
// the id, type and name as they are.
func FuzzKeyParts(f *testing.F) {
	f.Add("odata", "OData", "c1", "odata", "ODat")
	f.Add("a", "b\x00c", "x", "a\x00b", "c")
	f.Add("a", "n\xff", "i", "a", "n")
	s := &Store{p: "/p/provider/"}
	f.Fuzz(func(t *testing.T, typ, name, id, otherType, otherName string) {
		if !keyPart(typ) || !keyPart(name) || !keyPart(id) {
			return
		}
		k := provider.ProviderKey{Type: typ, Name: name}
		key := s.connKey(k, id)
		if !strings.HasPrefix(key, s.connPrefix(k)) {
			t.Fatalf("connector key %q outside its provider's range", key)
		}
		if got := key[strings.LastIndex(key, sep)+1:]; got != id {
			t.Fatalf("the watch reads id %q from the key of connector %q", got, id)
		}
		if back, ok := decodeProviderKey([]byte(encodeProviderKey(k))); !ok || back != k {
			t.Fatalf("index entry of %v reads back as %v", k, back)
		}
		other := provider.ProviderKey{Type: otherType, Name: otherName}
		if other != k && keyPart(otherType) && keyPart(otherName) &&
			(strings.HasPrefix(key, s.connPrefix(other)) || strings.HasPrefix(s.useKey(k, id), s.usePrefix(other))) {
			t.Fatalf("connector %q of %v lies in the range of %v", id, k, other)
		}
		raw, err := encodeJSON("connector", fromConnector(provider.Connector{ID: id, Provider: k}))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := decodeConnector([]byte(raw))
		if err != nil || sc.ID != id || sc.key() != k {
			t.Fatalf("connector %q of %v reads back as %q of %v (%v)", id, k, sc.ID, sc.key(), err)
		}
	})
}
