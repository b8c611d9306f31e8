package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/memstore"
)

// seedLeaseTTL is how long (seconds) a seed lock outlives a seeder that died.
const seedLeaseTTL = 10

// maxSeedTenants is how many tenants one seed can create: they appear in one transaction, with their codes.
const maxSeedTenants = (maxTxnOps - 1) / 2

// errSeedLost reports that another seeder or a tenant got in while this seed wrote.
var errSeedLost = errors.New("registry etcdstore: seed overtaken")

// kvPut is one key to write.
type kvPut struct{ key, value string }

// Seed implements registry.Store. The records are checked first exactly as the other backends check them
// (nothing is written when one is refused). A seed that fits one transaction is one transaction; a larger one
// takes the seed lock, writes every client and user with the generations of the tenants to be (invisible
// until those exist), then creates the tenants in one last transaction, which is when the whole seed becomes
// visible. Concurrent seeders wait for the lock's holder; exactly one seeds.
func (s *Store) Seed(ctx context.Context, tenants []registry.Tenant, clients []registry.Client, users []registry.User) (bool, error) {
	if n, err := s.tenantCount(ctx); err != nil || n > 0 {
		return false, err
	}
	if _, err := memstore.New().Seed(ctx, tenants, clients, users); err != nil {
		return false, err
	}
	if len(tenants) > maxSeedTenants {
		return false, fmt.Errorf("registry etcdstore: a seed creates at most %d tenants, not %d", maxSeedTenants, len(tenants))
	}
	final, records, err := s.seedRecords(tenants, clients, users)
	if err != nil {
		return false, err
	}
	for {
		if len(final)+len(records) <= maxTxnOps && size(final)+size(records) <= maxTxnBytes {
			ok, locked, err := s.seedOnce(ctx, append(final, records...))
			if ok || locked == 0 || err != nil {
				return ok, err
			}
			if err := s.waitGone(ctx, s.seedKey(), locked); err != nil {
				return false, err
			}
			continue
		}
		return s.seedStaged(ctx, final, records)
	}
}

func size(puts []kvPut) int {
	n := 0
	for _, p := range puts {
		n += len(p.key) + len(p.value) + 16
	}
	return n
}

// seedRecords builds the seed's keys: final (the tenants and their codes) and records (everything else,
// written under the tenants' new generations).
func (s *Store) seedRecords(tenants []registry.Tenant, clients []registry.Client, users []registry.User) (final, records []kvPut, err error) {
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
	for _, t := range tenants {
		st := tenantToStored(t)
		st.Gen = newGen()
		gens[t.ID] = st.Gen
		add(&final, s.tenantKey(t.ID), st)
		final = append(final, kvPut{s.codeKey(t.Code), t.ID})
	}
	for _, c := range clients {
		sc := clientToStored(c)
		sc.TenantGen = gens[c.TenantID]
		add(&records, s.clientKey(c.ID), sc)
		records = append(records, kvPut{s.memberKey(c.TenantID, c.ID), sc.TenantGen})
	}
	for _, u := range users {
		u.Incarnation = registry.NewIncarnation()
		su := userToStored(u)
		su.TenantGen = gens[u.TenantID]
		add(&records, s.userKey(u.TenantID, u.ID), su)
		for _, ix := range s.indexes(u) {
			add(&records, ix.key, storedIndex{UserID: u.ID, TenantGen: su.TenantGen})
		}
	}
	return final, records, err
}

// noTenants holds while the registry has no tenant (a range compare that no key under t/ fails).
func (s *Store) noTenants() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(s.p+"t/"), "=", 0).WithPrefix()
}

func (s *Store) tenantCount(ctx context.Context) (int64, error) {
	resp, err := s.cli.Get(ctx, s.p+"t/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Count, nil
}

func ops(puts []kvPut, extra ...clientv3.Op) []clientv3.Op {
	out := make([]clientv3.Op, 0, len(puts)+len(extra))
	for _, p := range puts {
		out = append(out, clientv3.OpPut(p.key, p.value))
	}
	return append(out, extra...)
}

// seedOnce writes a small seed in one transaction if the registry has no tenant and no seed is in progress.
// When it did not, locked is the revision at which another seeder held the lock (0: the registry had a
// tenant).
func (s *Store) seedOnce(ctx context.Context, puts []kvPut) (ok bool, locked int64, err error) {
	resp, err := s.cli.Txn(ctx).If(s.noTenants(), clientv3.Compare(clientv3.CreateRevision(s.seedKey()), "=", 0)).
		Then(ops(puts)...).Else(clientv3.OpGet(s.p+"t/", clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
	if err != nil {
		return false, 0, err
	}
	if resp.Succeeded {
		s.note(resp.Header.Revision)
		return true, 0, nil
	}
	if resp.Responses[0].GetResponseRange().GetCount() > 0 {
		return false, 0, nil
	}
	return false, resp.Header.Revision, nil
}

// seedStaged writes a seed too large for one transaction under the seed lock.
func (s *Store) seedStaged(ctx context.Context, final, records []kvPut) (bool, error) {
	token := newGen()
	lease, err := s.lock(ctx, token)
	if err != nil || lease == 0 {
		return false, err
	}
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	ka, err := s.cli.KeepAlive(kctx, lease)
	if err != nil {
		return false, err
	}
	go func() {
		for range ka { // drain the keep-alive answers until kctx ends
		}
	}()
	defer s.cli.Revoke(context.WithoutCancel(ctx), lease) //nolint:errcheck // the lease expires anyway
	held := clientv3.Compare(clientv3.Value(s.seedKey()), "=", token)
	for len(records) > 0 {
		n, bytes := 0, 0
		for n < len(records) && n < maxTxnOps && bytes+size(records[n:n+1]) <= maxTxnBytes {
			bytes += size(records[n : n+1])
			n++
		}
		if err := s.seedTxn(ctx, []clientv3.Cmp{held, s.noTenants()}, ops(records[:n])); err != nil {
			return s.seedLost(ctx, err)
		}
		records = records[n:]
	}
	if err := s.seedTxn(ctx, []clientv3.Cmp{held, s.noTenants()}, ops(final, clientv3.OpDelete(s.seedKey()))); err != nil {
		return s.seedLost(ctx, err)
	}
	return true, nil
}

// seedTxn commits ops if conds hold, else errSeedLost.
func (s *Store) seedTxn(ctx context.Context, conds []clientv3.Cmp, ops []clientv3.Op) error {
	resp, err := s.cli.Txn(ctx).If(conds...).Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errSeedLost
	}
	s.note(resp.Header.Revision)
	return nil
}

// seedLost answers a seed whose write failed: not seeded (false, nil) when the registry has tenants now.
func (s *Store) seedLost(ctx context.Context, err error) (bool, error) {
	if errors.Is(err, errSeedLost) {
		if n, cerr := s.tenantCount(ctx); cerr == nil && n > 0 {
			return false, nil
		}
	}
	return false, err
}

// lock takes the seed lock (with a new lease, returned) once no other seeder holds it; lease 0 with a nil
// error when the registry has a tenant meanwhile.
func (s *Store) lock(ctx context.Context, token string) (clientv3.LeaseID, error) {
	for {
		grant, err := s.cli.Grant(ctx, seedLeaseTTL)
		if err != nil {
			return 0, err
		}
		resp, err := s.cli.Txn(ctx).If(s.noTenants(), clientv3.Compare(clientv3.CreateRevision(s.seedKey()), "=", 0)).
			Then(clientv3.OpPut(s.seedKey(), token, clientv3.WithLease(grant.ID))).
			Else(clientv3.OpGet(s.p+"t/", clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
		if err == nil && resp.Succeeded {
			return grant.ID, nil
		}
		s.cli.Revoke(context.WithoutCancel(ctx), grant.ID) //nolint:errcheck // the lease expires anyway
		if err != nil {
			return 0, err
		}
		if resp.Responses[0].GetResponseRange().GetCount() > 0 {
			return 0, nil
		}
		if err := s.waitGone(ctx, s.seedKey(), resp.Header.Revision); err != nil {
			return 0, err
		}
	}
}

// waitGone returns once key, present at revision rev, is deleted (or its lease expired).
func (s *Store) waitGone(ctx context.Context, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range s.cli.Watch(wctx, key, clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("registry etcdstore: watch of the seed lock ended")
}
