package etcdstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

func sortKeys(keys []provider.ProviderKey) {
	slices.SortFunc(keys, func(a, b provider.ProviderKey) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// providerSet is the providers record as read: by key, its mod revision (0: no record) and the revision
// it was read at.
type providerSet struct {
	byKey map[provider.ProviderKey]storedProvider
	mod   int64
	rev   int64
}

func decodeSet(kvs []*mvccpb.KeyValue, rev int64) (providerSet, error) {
	set := providerSet{byKey: map[provider.ProviderKey]storedProvider{}, rev: rev}
	if len(kvs) == 0 {
		return set, nil
	}
	set.mod = kvs[0].ModRevision
	var rec storedProviders
	if err := json.Unmarshal(kvs[0].Value, &rec); err != nil {
		return set, fmt.Errorf("decode providers record: %w", err)
	}
	for _, sp := range rec.Providers {
		set.byKey[sp.key()] = sp
	}
	return set, nil
}

// encode returns the record of the set, providers ordered by type then name.
func (set providerSet) encode() ([]byte, error) {
	keys := make([]provider.ProviderKey, 0, len(set.byKey))
	for k := range set.byKey {
		keys = append(keys, k)
	}
	sortKeys(keys)
	rec := storedProviders{Providers: make([]storedProvider, len(keys))}
	for i, k := range keys {
		rec.Providers[i] = set.byKey[k]
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode provider record: %w", err)
	}
	return b, nil
}

// sorted returns the providers of the set ordered by type then name.
func (set providerSet) sorted() []storedProvider {
	out := make([]storedProvider, 0, len(set.byKey))
	for _, sp := range set.byKey {
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b storedProvider) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func (s *Store) readProviders(ctx context.Context) (providerSet, error) {
	resp, err := s.get(ctx, s.providersKey())
	if err != nil {
		return providerSet{}, err
	}
	return decodeSet(resp.Kvs, resp.Header.Revision)
}

// countUsers counts, as of revision rev, the connectors using each of keys (pending ones do not).
func (s *Store) countUsers(ctx context.Context, rev int64, keys []provider.ProviderKey) (map[provider.ProviderKey]int, error) {
	out := make(map[provider.ProviderKey]int, len(keys))
	for chunk := range slices.Chunk(keys, 100) {
		ops := make([]clientv3.Op, len(chunk))
		for i, k := range chunk {
			ops[i] = clientv3.OpGet(s.usePrefix(k), clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithRev(rev))
		}
		resp, err := s.read(ctx, ops...)
		if err != nil {
			return nil, err
		}
		for i, k := range chunk {
			out[k] = int(resp.Responses[i].GetResponseRange().Count)
		}
	}
	return out, nil
}

// unused is the comparison that no connector uses any of keys, as at revision rev: one per provider while
// that fits a transaction, else that no key of the whole u/ range changed after rev (uses only ever come
// and go, so a new one shows as a newer revision).
func (s *Store) unused(keys []provider.ProviderKey, rev int64) []clientv3.Cmp {
	if len(keys) > 100 {
		return []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.p+"u/").WithPrefix(), "<", rev+1)}
	}
	cmps := make([]clientv3.Cmp, len(keys))
	for i, k := range keys {
		cmps[i] = clientv3.Compare(clientv3.CreateRevision(s.usePrefix(k)).WithPrefix(), "=", 0)
	}
	return cmps
}

// PutProviders implements provider.Store: one compare-and-swap of the providers record.
func (s *Store) PutProviders(ctx context.Context, ps []provider.Provider) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		if !keyPart(p.Type) || !keyPart(p.Name) {
			return apierror.Invalid("oauthProvider", "connector type %q and provider name %q must be non-empty UTF-8 without NUL bytes", p.Type, p.Name)
		}
	}
	for {
		set, err := s.readProviders(ctx)
		if err != nil {
			return err
		}
		var existing []provider.ProviderKey
		for _, p := range ps {
			if _, ok := set.byKey[p.ProviderKey]; ok && !slices.Contains(existing, p.ProviderKey) {
				existing = append(existing, p.ProviderKey)
			}
		}
		counts, err := s.countUsers(ctx, set.rev, existing)
		if err != nil {
			return err
		}
		var inUse []provider.ProviderKey
		for _, p := range ps {
			if _, ok := set.byKey[p.ProviderKey]; ok && counts[p.ProviderKey] > 0 {
				inUse = append(inUse, p.ProviderKey)
			}
		}
		if len(inUse) > 0 {
			return &provider.InUseError{Providers: inUse}
		}
		for _, p := range ps {
			set.byKey[p.ProviderKey] = fromProvider(p)
		}
		rec, err := set.encode()
		if err != nil {
			return err
		}
		cmps := append(s.unused(existing, set.rev), clientv3.Compare(clientv3.ModRevision(s.providersKey()), "=", set.mod))
		resp, err := s.txn(ctx, cmps, clientv3.OpPut(s.providersKey(), string(rec)))
		if err != nil {
			return err
		}
		if resp.Succeeded {
			return nil
		}
	}
}

// GetProvider implements provider.Store.
func (s *Store) GetProvider(ctx context.Context, k provider.ProviderKey) (provider.Provider, error) {
	if err := s.check(ctx); err != nil {
		return provider.Provider{}, err
	}
	resp, err := s.read(ctx, clientv3.OpGet(s.providersKey()),
		clientv3.OpGet(s.usePrefix(k), clientv3.WithPrefix(), clientv3.WithCountOnly()))
	if err != nil {
		return provider.Provider{}, err
	}
	set, err := decodeSet(resp.Responses[0].GetResponseRange().Kvs, resp.Header.Revision)
	if err != nil {
		return provider.Provider{}, err
	}
	sp, ok := set.byKey[k]
	if !ok {
		return provider.Provider{}, apierror.NotFound("provider %s", k)
	}
	return sp.domain(int(resp.Responses[1].GetResponseRange().Count)), nil
}

// ListProviders implements provider.Store.
func (s *Store) ListProviders(ctx context.Context) ([]provider.Provider, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	set, err := s.readProviders(ctx)
	if err != nil {
		return nil, err
	}
	sorted := set.sorted()
	keys := make([]provider.ProviderKey, len(sorted))
	for i, sp := range sorted {
		keys[i] = sp.key()
	}
	counts, err := s.countUsers(ctx, set.rev, keys)
	if err != nil {
		return nil, err
	}
	var out []provider.Provider
	for _, sp := range sorted {
		out = append(out, sp.domain(counts[sp.key()]))
	}
	return out, nil
}

// DeleteProvider implements provider.Store: the provider and every (pending) connector under it go in one
// transaction; the connectors' i/ entries follow, best effort.
func (s *Store) DeleteProvider(ctx context.Context, k provider.ProviderKey) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	for {
		resp, err := s.read(ctx, clientv3.OpGet(s.providersKey()),
			clientv3.OpGet(s.usePrefix(k), clientv3.WithPrefix(), clientv3.WithCountOnly()),
			clientv3.OpGet(s.connPrefix(k), clientv3.WithPrefix(), clientv3.WithKeysOnly()))
		if err != nil {
			return err
		}
		set, err := decodeSet(resp.Responses[0].GetResponseRange().Kvs, resp.Header.Revision)
		if err != nil {
			return err
		}
		if _, ok := set.byKey[k]; !ok {
			return apierror.NotFound("provider %s", k)
		}
		if n := resp.Responses[1].GetResponseRange().Count; n > 0 {
			return apierror.FailedPrecondition("provider %s is used by %d connector(s); delete them first", k, n)
		}
		var ids []string
		for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
			ids = append(ids, string(kv.Key[len(s.connPrefix(k)):]))
		}
		delete(set.byKey, k)
		rec, err := set.encode()
		if err != nil {
			return err
		}
		cmps := append(s.unused([]provider.ProviderKey{k}, set.rev), clientv3.Compare(clientv3.ModRevision(s.providersKey()), "=", set.mod))
		done, err := s.txn(ctx, cmps, clientv3.OpPut(s.providersKey(), string(rec)),
			clientv3.OpDelete(s.connPrefix(k), clientv3.WithPrefix()))
		if err != nil {
			return err
		}
		if !done.Succeeded {
			continue
		}
		// The cleanup outlives the caller (who may hang up once the delete is answered), within
		// cleanupTimeout.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		s.dropIndex(cctx, k, ids)
		return nil
	}
}

// cleanupTimeout bounds the removal of a deleted provider's index entries.
const cleanupTimeout = time.Minute

// dropIndex deletes the i/ entries of ids when they still point at k's deleted connectors, in batches;
// failures leave entries that point at nothing, which read as no connector.
func (s *Store) dropIndex(ctx context.Context, k provider.ProviderKey, ids []string) {
	for chunk := range slices.Chunk(ids, batchSize) {
		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		for _, id := range chunk {
			cmps = append(cmps, clientv3.Compare(clientv3.Value(s.idKey(id)), "=", encodeProviderKey(k)),
				clientv3.Compare(clientv3.CreateRevision(s.connKey(k, id)), "=", 0))
			ops = append(ops, clientv3.OpDelete(s.idKey(id)))
		}
		if resp, err := s.txn(ctx, cmps, ops...); err != nil || resp.Succeeded {
			continue
		}
		for i := range chunk { // someone reused an id: one at a time
			s.txn(ctx, cmps[2*i:2*i+2], ops[i])
		}
	}
}
