package etcdstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// CreateTenant implements registry.Store. The tenant gets a new generation.
func (s *Store) CreateTenant(ctx context.Context, t registry.Tenant) (registry.Tenant, error) {
	if badID(t.ID) || badPart(t.Code) {
		return registry.Tenant{}, errBadID
	}
	st := tenantToStored(t)
	st.Gen = newGen()
	raw, err := json.Marshal(st)
	if err != nil {
		return registry.Tenant{}, err
	}
	tk, ck := s.tenantKey(t.ID), s.codeKey(t.Code)
	resp, err := s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(tk), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(ck), "=", 0),
	).Then(
		clientv3.OpPut(tk, string(raw)),
		clientv3.OpPut(ck, t.ID),
	).Else(clientv3.OpGet(tk, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return registry.Tenant{}, err
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().GetCount() > 0 {
			return registry.Tenant{}, apierror.AlreadyExists("tenant %q", t.ID)
		}
		return registry.Tenant{}, apierror.AlreadyExists("tenant code %q", t.Code)
	}
	s.note(resp.Header.Revision)
	return tenantToStored(t).domain(), nil
}

// getTenant reads tenant id at rev (0: latest).
func (s *Store) getTenant(ctx context.Context, id string, rev int64) (storedTenant, *mvccpb.KeyValue, error) {
	var opts []clientv3.OpOption
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := s.cli.Get(ctx, s.tenantKey(id), opts...)
	if err != nil {
		return storedTenant{}, nil, err
	}
	if len(resp.Kvs) == 0 {
		return storedTenant{}, nil, apierror.NotFound("tenant %q", id)
	}
	var st storedTenant
	if err := decode(resp.Kvs[0], &st); err != nil {
		return storedTenant{}, nil, err
	}
	return st, resp.Kvs[0], nil
}

// tenantNow reads tenant id at the latest revision, which it returns: the snapshot a listing of the tenant's
// records then reads at. ErrNotFound when there is none.
func (s *Store) tenantNow(ctx context.Context, id string) (storedTenant, int64, error) {
	resp, err := s.cli.Get(ctx, s.tenantKey(id))
	if err != nil {
		return storedTenant{}, 0, err
	}
	if len(resp.Kvs) == 0 {
		return storedTenant{}, 0, apierror.NotFound("tenant %q", id)
	}
	var st storedTenant
	if err := decode(resp.Kvs[0], &st); err != nil {
		return storedTenant{}, 0, err
	}
	return st, resp.Header.Revision, nil
}

// GetTenant implements registry.Store.
func (s *Store) GetTenant(ctx context.Context, id string) (registry.Tenant, error) {
	st, _, err := s.getTenant(ctx, id, 0)
	if err != nil {
		return registry.Tenant{}, err
	}
	return st.domain(), nil
}

// GetTenantByCode implements registry.Store.
func (s *Store) GetTenantByCode(ctx context.Context, code string) (t registry.Tenant, err error) {
	err = retry(ctx, func() error {
		resp, err := s.cli.Get(ctx, s.codeKey(code))
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return apierror.NotFound("tenant with code %q", code)
		}
		st, _, err := s.getTenant(ctx, string(resp.Kvs[0].Value), resp.Header.Revision)
		t = st.domain()
		return err
	})
	return t, err
}

// ListTenants implements registry.Store.
func (s *Store) ListTenants(ctx context.Context, opts registry.ListOptions) (items []registry.Tenant, next string, err error) {
	prefix := s.p + "t/"
	var more bool
	err = retry(ctx, func() error {
		items, more, _, err = page(ctx, s, 0, after(prefix, opts.After), clientv3.GetPrefixRangeEnd(prefix), opts.EffectiveLimit(),
			func(kv *mvccpb.KeyValue, _ int64) (registry.Tenant, bool, error) {
				var st storedTenant
				err := decode(kv, &st)
				return st.domain(), true, err
			})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if more {
		next = items[len(items)-1].ID
	}
	return items, next, nil
}

// UpdateTenant implements registry.Store. update may run more than once.
func (s *Store) UpdateTenant(ctx context.Context, id string, update func(registry.Tenant) (registry.Tenant, error)) (t registry.Tenant, err error) {
	err = retry(ctx, func() error {
		old, kv, err := s.getTenant(ctx, id, 0)
		if err != nil {
			return err
		}
		t, err = update(old.domain())
		if err != nil {
			return err
		}
		t.ID = old.ID
		if badPart(t.Code) {
			return errBadID
		}
		st := tenantToStored(t)
		st.Gen = old.Gen
		raw, err := json.Marshal(st)
		if err != nil {
			return err
		}
		tk := s.tenantKey(id)
		conds := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(tk), "=", kv.ModRevision)}
		ops := []clientv3.Op{clientv3.OpPut(tk, string(raw))}
		if t.Code != old.Code {
			ck := s.codeKey(t.Code)
			conds = append(conds, clientv3.Compare(clientv3.CreateRevision(ck), "=", 0))
			ops = append(ops, clientv3.OpDelete(s.codeKey(old.Code)), clientv3.OpPut(ck, id))
		}
		resp, err := s.cli.Txn(ctx).If(conds...).Then(ops...).Else(clientv3.OpGet(tk, clientv3.WithKeysOnly())).Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			// The tenant unchanged means the code was the conflict.
			if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 && kvs[0].ModRevision == kv.ModRevision {
				return apierror.AlreadyExists("tenant code %q", t.Code)
			}
			return errConflict
		}
		s.note(resp.Header.Revision)
		return nil
	})
	if err != nil {
		return registry.Tenant{}, err
	}
	return tenantToStored(t).domain(), nil
}

// DeleteTenant implements registry.Store: one transaction deletes the tenant, its code and every per-tenant
// key (eight operations whatever the tenant's size; its users and API resources go with it); the global
// client records it leaves behind no longer count and are removed afterwards.
func (s *Store) DeleteTenant(ctx context.Context, id string) (deleted []string, err error) {
	if hasSep(id) {
		return nil, apierror.NotFound("tenant %q", id)
	}
	var gen string
	err = retry(ctx, func() error {
		old, kv, err := s.getTenant(ctx, id, 0)
		if err != nil {
			return err
		}
		gen = old.Gen
		tk := s.tenantKey(id)
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(tk), "=", kv.ModRevision)).Then(
			clientv3.OpDelete(tk),
			clientv3.OpDelete(s.codeKey(old.Code)),
			clientv3.OpDelete(s.memberPrefix(id), clientv3.WithPrefix(), clientv3.WithPrevKV()),
			clientv3.OpDelete(s.userPrefix(id), clientv3.WithPrefix()),
			clientv3.OpDelete(s.loginPrefix(id), clientv3.WithPrefix()),
			clientv3.OpDelete(s.emailPrefix(id), clientv3.WithPrefix()),
			clientv3.OpDelete(s.mobilePrefix(id), clientv3.WithPrefix()),
			clientv3.OpDelete(s.federatedPrefix(id), clientv3.WithPrefix()),
			clientv3.OpDelete(s.resourcePrefix(id), clientv3.WithPrefix()),
		).Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			return errConflict
		}
		s.note(resp.Header.Revision)
		deleted = nil
		prefix := s.memberPrefix(id)
		for _, kv := range resp.Responses[2].GetResponseDeleteRange().GetPrevKvs() {
			if string(kv.Value) == gen {
				deleted = append(deleted, strings.TrimPrefix(string(kv.Key), prefix))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The sweep outlives the caller (who may hang up once the delete is answered), within sweepTimeout.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sweepTimeout)
	defer cancel()
	s.sweepClients(sctx, id, gen, deleted)
	return deleted, nil
}

// sweepTimeout bounds the sweep after a tenant delete: about 40 transactions for 5,000 clients.
const sweepTimeout = time.Minute

// sweepClients removes the global records of clients ids of the deleted tenant id (generation gen), in
// bounded transactions, each deleting only records that still belong to that generation. Failures are
// ignored: what is left counts as absent anyway, and CreateClient may take those IDs again.
func (s *Store) sweepClients(ctx context.Context, id, gen string, ids []string) {
	for len(ids) > 0 {
		n := min(len(ids), maxTxnOps)
		keys := make([]string, n)
		for i, cid := range ids[:n] {
			keys[i] = s.clientKey(cid)
		}
		ids = ids[n:]
		kvs, _, err := s.getAll(ctx, 0, keys)
		if err != nil {
			return
		}
		var conds []clientv3.Cmp
		var ops []clientv3.Op
		for _, kv := range kvs {
			var sc storedClient
			if kv == nil || decode(kv, &sc) != nil || sc.TenantID != id || sc.TenantGen != gen {
				continue
			}
			conds = append(conds, clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision))
			ops = append(ops, clientv3.OpDelete(string(kv.Key)))
		}
		if len(ops) == 0 {
			continue
		}
		if _, err := s.cli.Txn(ctx).If(conds...).Then(ops...).Commit(); err != nil {
			return
		}
	}
}
