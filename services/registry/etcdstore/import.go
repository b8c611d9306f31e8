package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/memstore"
)

// ErrNotEmpty is returned by Import when the store already holds keys.
var ErrNotEmpty = errors.New("registry etcdstore: the store is not empty")

// Import writes snap into an empty store as it is: tenants with their codes, clients with their secrets'
// digests, users with their password hashes and incarnations (none is generated again), API resources. The
// records are checked first as Seed checks them, resources by registry.CheckSnapshotResources (nothing is
// written when one is refused), and ErrNotEmpty refuses a store that holds any key.
//
// The import is written in transactions within etcd's limits (128 operations, 1 MiB each): clients, users
// and resources first, under the generations of tenants that do not exist yet (invisible to every reader), then the
// tenants, which make their records visible. A registry of more tenants than one transaction holds is
// therefore not visible all at once: the caller fences the whole import (internal/migrate writes a marker
// before the first write and removes it after the last, and a suite refuses to start on a prefix with the
// marker), and an import that failed part way is finished by clearing the prefix and importing again.
func (s *Store) Import(ctx context.Context, snap registry.Snapshot) error {
	if _, err := memstore.New().Seed(ctx, snap.Tenants, snap.Clients, snap.Users); err != nil {
		return fmt.Errorf("registry import: %w", err)
	}
	for _, u := range snap.Users {
		if u.Incarnation == "" {
			return fmt.Errorf("registry import: user %q of tenant %q has no incarnation", u.ID, u.TenantID)
		}
	}
	if err := registry.CheckSnapshotResources(snap); err != nil {
		return fmt.Errorf("registry import: %w", err)
	}
	resp, err := s.cli.Get(ctx, s.p, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("registry import: %w", err)
	}
	if resp.Count > 0 {
		return fmt.Errorf("registry import: %w (%d keys under %q)", ErrNotEmpty, resp.Count, s.p)
	}
	final, records, err := s.importRecords(snap)
	if err != nil {
		return fmt.Errorf("registry import: %w", err)
	}
	// The records are invisible until their tenants exist, so their chunks go in any order, several at
	// once; the tenants follow.
	for _, puts := range [][]kvPut{records, final} {
		if err := s.putChunks(ctx, puts); err != nil {
			return fmt.Errorf("registry import: %w", err)
		}
	}
	return nil
}

// importWorkers is how many transactions putChunks has in flight at once.
const importWorkers = 16

// importRecords builds the keys of snap as seedRecords does, but keeping every user's incarnation.
func (s *Store) importRecords(snap registry.Snapshot) (final, records []kvPut, err error) {
	gens := map[string]string{}
	add := func(to *[]kvPut, key string, v any) {
		if err != nil {
			return
		}
		var raw []byte
		if raw, err = json.Marshal(v); err == nil {
			*to = append(*to, kvPut{key, string(raw)})
		}
	}
	for _, t := range snap.Tenants {
		st := tenantToStored(t)
		st.Gen = newGen()
		gens[t.ID] = st.Gen
		add(&final, s.tenantKey(t.ID), st)
		final = append(final, kvPut{s.codeKey(t.Code), t.ID})
	}
	for _, c := range snap.Clients {
		sc := clientToStored(c)
		sc.TenantGen = gens[c.TenantID]
		add(&records, s.clientKey(c.ID), sc)
		records = append(records, kvPut{s.memberKey(c.TenantID, c.ID), sc.TenantGen})
	}
	for _, u := range snap.Users {
		su := userToStored(u)
		su.TenantGen = gens[u.TenantID]
		add(&records, s.userKey(u.TenantID, u.ID), su)
		for _, ix := range s.indexes(u) {
			add(&records, ix.key, storedIndex{UserID: u.ID, TenantGen: su.TenantGen})
		}
	}
	for _, r := range snap.Resources {
		sr := resourceToStored(r)
		sr.TenantGen = gens[r.TenantID]
		add(&records, s.resourceKey(r.TenantID, r.ID), sr)
	}
	return final, records, err
}

// putChunks writes puts in transactions of at most maxTxnOps operations and maxTxnBytes bytes, importWorkers
// at a time (in no particular order), and returns the first error.
func (s *Store) putChunks(ctx context.Context, puts []kvPut) error {
	var chunks [][]kvPut
	for len(puts) > 0 {
		n, bytes := 0, 0
		for n < len(puts) && n < maxTxnOps && bytes+size(puts[n:n+1]) <= maxTxnBytes {
			bytes += size(puts[n : n+1])
			n++
		}
		if n == 0 {
			return fmt.Errorf("key %q: record of %d bytes is larger than a transaction may be", puts[0].key, size(puts[:1]))
		}
		chunks = append(chunks, puts[:n])
		puts = puts[n:]
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan []kvPut)
	var wg sync.WaitGroup
	for range min(importWorkers, len(chunks)) {
		wg.Go(func() {
			for chunk := range next {
				resp, err := s.cli.Txn(ctx).Then(ops(chunk)...).Commit()
				if err != nil {
					cancel(err)
					continue
				}
				s.note(resp.Header.Revision)
			}
		})
	}
feed:
	for _, chunk := range chunks {
		select {
		case next <- chunk:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
