package memstore

import (
	"slices"

	"github.com/authsuite/authsuite/services/registry"
)

// pageMatching is page for a filtered listing: of the entries of m with keys after after, in key order, it
// keeps those conv accepts, at most limit, and answers a next key only when an entry past the page is
// accepted too (a filtered listing never ends on an empty page).
func pageMatching[V, T any](m map[string]V, after string, limit int, conv func(key string, v V) (T, bool)) (items []T, next string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if after == "" || k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	last := ""
	for _, k := range keys {
		item, ok := conv(k, m[k])
		if !ok {
			continue
		}
		if len(items) == limit {
			return items, last
		}
		items, last = append(items, item), k
	}
	return items, ""
}

// listClientsFiltered is ListClients with opts.Filter set.
func listClientsFiltered(st *state, tenantID string, opts registry.ListOptions) ([]registry.Client, string) {
	match := func(id string, _ *clientRec) (registry.Client, bool) {
		c := st.clients[id].domain()
		return c, registry.ClientMatches(c, opts.Filter)
	}
	if tenantID == "" {
		return pageMatching(st.clients, opts.After, opts.EffectiveLimit(), match)
	}
	return pageMatching(st.tenantClients[tenantID], opts.After, opts.EffectiveLimit(), func(id string, _ struct{}) (registry.Client, bool) {
		return match(id, nil)
	})
}
