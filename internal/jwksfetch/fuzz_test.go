package jwksfetch

import (
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzParseSet: ParseSet never panics; what it accepts is at most MaxKeys usable public signing keys, and
// the set they make, written out, reads back to the same keys.
func FuzzParseSet(f *testing.F) {
	k := ecJWK(f, "k")
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k}})
	f.Add(b)
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		keys, err := ParseSet(raw)
		if err != nil {
			if keys != nil {
				t.Fatal("keys with an error")
			}
			return
		}
		if len(keys) == 0 || len(keys) > MaxKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for _, k := range keys {
			if !k.IsPublic() || !k.Valid() || !usable(k.Key) || (k.Use != "" && k.Use != "sig") {
				t.Fatalf("kept an unusable key %+v", k)
			}
		}
		out, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatalf("marshal the kept keys: %v", err)
		}
		again, err := ParseSet(out)
		if err != nil || len(again) != len(keys) {
			t.Fatalf("the kept keys do not read back: %d keys, %v", len(again), err)
		}
		for i := range keys {
			if again[i].KeyID != keys[i].KeyID {
				t.Fatalf("key %d: kid %q read back as %q", i, keys[i].KeyID, again[i].KeyID)
			}
		}
	})
}
