package bboltstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/services/registry"
)

// pageMatching is page for a filtered listing: it walks the keys under prefix after after, in order, and
// keeps the entries conv accepts, at most limit of them. It answers a next key only when an entry past the
// page is accepted too, so a filtered listing never ends on an empty page. The walk reads the bucket in
// place (no copy of the table); conv should reject cheaply (registry.RawMayMatch) before decoding.
func pageMatching[T any](b *bolt.Bucket, prefix []byte, after string, limit int, conv func(suffix, v []byte) (T, bool, error)) (items []T, next string, err error) {
	c := b.Cursor()
	start := append(bytes.Clone(prefix), after...)
	k, v := c.Seek(start)
	if after != "" && k != nil && bytes.Equal(k, start) {
		k, v = c.Next()
	}
	last := ""
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		item, ok, err := conv(k[len(prefix):], v)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			continue
		}
		if len(items) == limit {
			return items, last, nil
		}
		items, last = append(items, item), string(k[len(prefix):])
	}
	return items, "", nil
}

// listClientsFiltered is ListClients with opts.Filter set.
func listClientsFiltered(tx *bolt.Tx, tenantID string, opts registry.ListOptions) ([]registry.Client, string, error) {
	clients, raw := tx.Bucket(bucketClients), registry.NewRawMatcher(opts.Filter)
	match := func(v []byte) (registry.Client, bool, error) {
		if !raw.MayMatch(v) {
			return registry.Client{}, false, nil
		}
		var sc storedClient
		if err := json.Unmarshal(v, &sc); err != nil {
			return registry.Client{}, false, err
		}
		c := sc.domain()
		return c, registry.ClientMatches(c, opts.Filter), nil
	}
	if tenantID == "" {
		return pageMatching(clients, nil, opts.After, opts.EffectiveLimit(), func(_, v []byte) (registry.Client, bool, error) {
			return match(v)
		})
	}
	return pageMatching(tx.Bucket(bucketTenantClients), joinKey(tenantID, ""), opts.After, opts.EffectiveLimit(),
		func(id, _ []byte) (registry.Client, bool, error) {
			v := clients.Get(id)
			if v == nil {
				return registry.Client{}, false, fmt.Errorf("index tenant_clients names missing client %q", id)
			}
			return match(v)
		})
}

// listUsersFiltered is ListUsers with opts.Filter set.
func listUsersFiltered(tx *bolt.Tx, tenantID string, opts registry.ListOptions) ([]registry.User, string, error) {
	raw := registry.NewRawMatcher(opts.Filter)
	return pageMatching(tx.Bucket(bucketUsers), joinKey(tenantID, ""), opts.After, opts.EffectiveLimit(),
		func(_, v []byte) (registry.User, bool, error) {
			if !raw.MayMatch(v) {
				return registry.User{}, false, nil
			}
			var su storedUser
			if err := json.Unmarshal(v, &su); err != nil {
				return registry.User{}, false, err
			}
			u := su.domain()
			return u, registry.UserMatches(u, opts.Filter), nil
		})
}
