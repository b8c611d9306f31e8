package etcdstore

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/authsuite/authsuite/services/provider"
)

// FuzzProviderChanges: for any two providers records, the changes name exactly the keys whose entries
// differ (the oracle is a direct comparison of the decoded entries), in key order, the same keys both
// ways, and none between a record and itself. Undecodable records are refused, never half-read.
func FuzzProviderChanges(f *testing.F) {
	rec := func(ps ...storedProvider) []byte {
		b, _ := json.Marshal(storedProviders{Providers: ps})
		return b
	}
	a := storedProvider{Type: "github", Name: "GitHub", Settings: provider.Settings{ClientID: "a"}}
	b := storedProvider{Type: "box", Name: "Box"}
	a2 := a
	a2.Settings.ClientID = "changed"
	f.Add(rec(a, b), rec(a2))
	f.Add([]byte(nil), rec(b))
	f.Add(rec(a), []byte(`{"providers":[{"type":1}]}`))
	f.Add([]byte(`{"providers":[{"type":"x\u0000","name":""}]}`), []byte(`{`))
	f.Fuzz(func(t *testing.T, prev, next []byte) {
		pa, errA := decodeProviders(prev)
		pb, errB := decodeProviders(next)
		got, err := providerChanges(prev, next)
		if (err != nil) != (errA != nil || errB != nil) {
			t.Fatalf("providerChanges error %v, decode errors %v, %v", err, errA, errB)
		}
		if err != nil {
			return
		}
		var want []provider.ProviderKey
		for k, v := range pa {
			if w, ok := pb[k]; !ok || string(v) != string(w) {
				want = append(want, k)
			}
		}
		for k := range pb {
			if _, ok := pa[k]; !ok {
				want = append(want, k)
			}
		}
		sortKeys(want)
		keys := func(chs []provider.Change) []provider.ProviderKey {
			var out []provider.ProviderKey
			for _, ch := range chs {
				if ch.Provider == nil || ch.Connector != nil || ch.DeletedConnector != "" {
					t.Fatalf("a provider change with other fields: %+v", ch)
				}
				out = append(out, *ch.Provider)
			}
			return out
		}
		if !slices.Equal(keys(got), want) {
			t.Fatalf("changes %v, want %v", keys(got), want)
		}
		back, _ := providerChanges(next, prev)
		if !slices.Equal(keys(back), want) {
			t.Fatalf("changes back %v, want %v", keys(back), want)
		}
		if same, _ := providerChanges(next, next); len(same) != 0 {
			t.Fatalf("a record differs from itself: %v", keys(same))
		}
	})
}

// FuzzProviderKey: a provider key survives its index encoding whenever its type has no NUL (types and
// names are checked to have no control characters before they reach a store).
func FuzzProviderKey(f *testing.F) {
	f.Add("google_gmail", "Gmail-1")
	f.Add("", "")
	f.Add("a", "b\x00c")
	f.Fuzz(func(t *testing.T, typ, name string) {
		k := provider.ProviderKey{Type: typ, Name: name}
		got, ok := decodeProviderKey([]byte(encodeProviderKey(k)))
		hasNUL := slices.Contains([]byte(typ), 0)
		if !ok || (!hasNUL && got != k) {
			t.Fatalf("decode(encode(%q)) = %q, %v", k, got, ok)
		}
	})
}
