package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// liveClient is a client record that counts, with what a compare-and-swap on it needs.
type liveClient struct {
	rec      storedClient
	mod      int64 // ModRevision of c/<id>
	tenantCR int64 // CreateRevision of its tenant's key
}

// getClient reads client id and its tenant in one snapshot; ErrNotFound when there is none or it belongs to a
// generation of its tenant that no longer exists.
func (s *Store) getClient(ctx context.Context, id string) (liveClient, error) {
	resp, err := s.cli.Get(ctx, s.clientKey(id))
	if err != nil {
		return liveClient{}, err
	}
	if len(resp.Kvs) == 0 {
		return liveClient{}, apierror.NotFound("client %q", id)
	}
	var sc storedClient
	if err := decode(resp.Kvs[0], &sc); err != nil {
		return liveClient{}, err
	}
	t, tkv, err := s.getTenant(ctx, sc.TenantID, resp.Header.Revision)
	if errors.Is(err, apierror.ErrNotFound) || (err == nil && t.Gen != sc.TenantGen) {
		return liveClient{}, apierror.NotFound("client %q", id)
	}
	if err != nil {
		return liveClient{}, err
	}
	return liveClient{rec: sc, mod: resp.Kvs[0].ModRevision, tenantCR: tkv.CreateRevision}, nil
}

// GetClient implements registry.Store.
func (s *Store) GetClient(ctx context.Context, id string) (c registry.Client, err error) {
	err = retry(ctx, func() error {
		lc, err := s.getClient(ctx, id)
		c = lc.rec.domain()
		return err
	})
	if err != nil {
		return registry.Client{}, err
	}
	return c, nil
}

// CreateClient implements registry.Store. A client record left behind by a deleted tenant does not hold its
// ID: it is replaced.
func (s *Store) CreateClient(ctx context.Context, c registry.Client) (registry.Client, error) {
	if badID(c.ID) || badPart(c.TenantID) {
		return registry.Client{}, errBadID
	}
	err := retry(ctx, func() error {
		resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.tenantKey(c.TenantID)), clientv3.OpGet(s.clientKey(c.ID))).Commit()
		if err != nil {
			return err
		}
		tkvs, ckvs := resp.Responses[0].GetResponseRange().GetKvs(), resp.Responses[1].GetResponseRange().GetKvs()
		if len(tkvs) == 0 {
			return apierror.NotFound("tenant %q", c.TenantID)
		}
		var t storedTenant
		if err := decode(tkvs[0], &t); err != nil {
			return err
		}
		var mod int64
		if len(ckvs) > 0 {
			var old storedClient
			if err := decode(ckvs[0], &old); err != nil {
				return err
			}
			gen, err := s.tenantsAt(resp.Header.Revision).gen(ctx, old.TenantID)
			if err != nil {
				return err
			}
			if gen != "" && gen == old.TenantGen {
				return apierror.AlreadyExists("client %q", c.ID)
			}
			mod = ckvs[0].ModRevision
		}
		sc := clientToStored(c)
		sc.TenantGen = t.Gen
		raw, err := json.Marshal(sc)
		if err != nil {
			return err
		}
		ck := s.clientKey(c.ID)
		w, err := s.cli.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(s.tenantKey(c.TenantID)), "=", tkvs[0].CreateRevision),
			clientv3.Compare(clientv3.ModRevision(ck), "=", mod),
		).Then(clientv3.OpPut(ck, string(raw)), clientv3.OpPut(s.memberKey(c.TenantID, c.ID), t.Gen)).Commit()
		if err != nil {
			return err
		}
		if !w.Succeeded {
			return errConflict
		}
		s.note(w.Header.Revision)
		return nil
	})
	if err != nil {
		return registry.Client{}, err
	}
	return c.Clone(), nil
}

// ListClients implements registry.Store.
func (s *Store) ListClients(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.Client, next string, err error) {
	var more bool
	err = retry(ctx, func() error {
		switch {
		case tenantID == "":
			items, more, err = s.listAllClients(ctx, opts)
		case opts.Filter != "":
			items, more, err = s.listTenantClientsFiltered(ctx, tenantID, opts)
		default:
			items, more, err = s.listTenantClients(ctx, tenantID, opts)
		}
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

// listAllClients pages the global client records, skipping those whose tenant generation is gone.
func (s *Store) listAllClients(ctx context.Context, opts registry.ListOptions) ([]registry.Client, bool, error) {
	prefix := s.p + "c/"
	var ts *tenants
	raw := registry.NewRawMatcher(opts.Filter)
	items, more, _, err := page(ctx, s, 0, after(prefix, opts.After), clientv3.GetPrefixRangeEnd(prefix), opts.EffectiveLimit(),
		func(kv *mvccpb.KeyValue, rev int64) (registry.Client, bool, error) {
			if ts == nil {
				ts = s.tenantsAt(rev)
			}
			if !raw.MayMatch(kv.Value) {
				return registry.Client{}, false, nil
			}
			var sc storedClient
			if err := decode(kv, &sc); err != nil {
				return registry.Client{}, false, err
			}
			c := sc.domain()
			if !registry.ClientMatches(c, opts.Filter) {
				return registry.Client{}, false, nil
			}
			gen, err := ts.gen(ctx, sc.TenantID)
			return c, err == nil && gen != "" && gen == sc.TenantGen, err
		})
	return items, more, err
}

// listTenantClients pages the tenant's client list, then reads those clients at the same revision.
func (s *Store) listTenantClients(ctx context.Context, tenantID string, opts registry.ListOptions) ([]registry.Client, bool, error) {
	if hasSep(tenantID) {
		return nil, false, nil
	}
	t, rev, err := s.tenantNow(ctx, tenantID)
	if errors.Is(err, apierror.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	prefix := s.memberPrefix(tenantID)
	keys, more, _, err := page(ctx, s, rev, after(prefix, opts.After), clientv3.GetPrefixRangeEnd(prefix), opts.EffectiveLimit(),
		func(kv *mvccpb.KeyValue, _ int64) (string, bool, error) {
			return s.clientKey(strings.TrimPrefix(string(kv.Key), prefix)), string(kv.Value) == t.Gen, nil
		})
	if err != nil {
		return nil, false, err
	}
	kvs, _, err := s.getAll(ctx, rev, keys)
	if err != nil {
		return nil, false, err
	}
	var items []registry.Client // nil when empty, as every backend answers
	for i, kv := range kvs {
		var sc storedClient
		if kv == nil {
			return nil, false, fmt.Errorf("registry etcdstore: client list of tenant %q names missing client %q", tenantID, keys[i])
		}
		if err := decode(kv, &sc); err != nil {
			return nil, false, err
		}
		items = append(items, sc.domain())
	}
	return items, more, nil
}

// UpdateClient implements registry.Store. update may run more than once.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(registry.Client) (registry.Client, error)) (c registry.Client, err error) {
	err = retry(ctx, func() error {
		old, err := s.getClient(ctx, id)
		if err != nil {
			return err
		}
		c, err = update(old.rec.domain())
		if err != nil {
			return err
		}
		c.ID, c.TenantID = old.rec.ID, old.rec.TenantID
		sc := clientToStored(c)
		sc.TenantGen = old.rec.TenantGen
		raw, err := json.Marshal(sc)
		if err != nil {
			return err
		}
		return s.casClient(ctx, old, clientv3.OpPut(s.clientKey(id), string(raw)))
	})
	if err != nil {
		return registry.Client{}, err
	}
	return c.Clone(), nil
}

// casClient commits ops if client old and its tenant are unchanged, else errConflict.
func (s *Store) casClient(ctx context.Context, old liveClient, ops ...clientv3.Op) error {
	resp, err := s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(s.clientKey(old.rec.ID)), "=", old.mod),
		clientv3.Compare(clientv3.CreateRevision(s.tenantKey(old.rec.TenantID)), "=", old.tenantCR),
	).Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errConflict
	}
	s.note(resp.Header.Revision)
	return nil
}

// DeleteClient implements registry.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return retry(ctx, func() error {
		old, err := s.getClient(ctx, id)
		if err != nil {
			return err
		}
		return s.casClient(ctx, old, clientv3.OpDelete(s.clientKey(id)), clientv3.OpDelete(s.memberKey(old.rec.TenantID, id)))
	})
}

// RecordSecretUse implements registry.Store. The uses are applied in transactions of at most maxTxnOps
// clients and maxTxnBytes each, every one atomic: a reader may see the uses of one group before another's,
// never part of a client's. Last-use times only grow, so any such state is one a later read would also
// accept.
func (s *Store) RecordSecretUse(ctx context.Context, uses []registry.SecretUse) error {
	if len(uses) == 0 {
		return nil
	}
	byClient := map[string][]registry.SecretUse{}
	for _, u := range uses {
		byClient[u.ClientID] = append(byClient[u.ClientID], u)
	}
	ids := slices.Sorted(maps.Keys(byClient))
	for len(ids) > 0 {
		n := min(len(ids), maxTxnOps)
		chunk := ids[:n]
		ids = ids[n:]
		err := retry(ctx, func() error {
			rest, err := s.recordSecretUse(ctx, chunk, byClient)
			if err != nil {
				return err
			}
			if chunk = rest; len(chunk) > 0 {
				return errConflict // not a conflict: the next part of the chunk
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// recordSecretUse applies the uses of clients ids in one transaction of at most maxTxnBytes, returning the IDs
// left for another (after a size split); on an error (errConflict when a client changed meanwhile) nothing
// was applied.
func (s *Store) recordSecretUse(ctx context.Context, ids []string, byClient map[string][]registry.SecretUse) ([]string, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.clientKey(id)
	}
	kvs, rev, err := s.getAll(ctx, 0, keys)
	if err != nil {
		return ids, err
	}
	ts := s.tenantsAt(rev)
	var (
		conds []clientv3.Cmp
		ops   []clientv3.Op
		size  int
	)
	for i, kv := range kvs {
		if kv == nil {
			continue
		}
		var sc storedClient
		if err := decode(kv, &sc); err != nil {
			return ids, err
		}
		if gen, err := ts.gen(ctx, sc.TenantID); err != nil {
			return ids, err
		} else if gen == "" || gen != sc.TenantGen {
			continue
		}
		changed := false
		for _, u := range byClient[ids[i]] {
			for j := range sc.Secrets {
				if sc.Secrets[j].ID == u.SecretID && u.Time.After(sc.Secrets[j].LastUsed) {
					sc.Secrets[j].LastUsed = u.Time.UTC()
					changed = true
				}
			}
		}
		if !changed {
			continue
		}
		raw, err := json.Marshal(sc)
		if err != nil {
			return ids, err
		}
		if size+len(raw) > maxTxnBytes && len(ops) > 0 {
			if err := s.commitUses(ctx, conds, ops); err != nil {
				return ids, err
			}
			return ids[i:], nil
		}
		size += len(raw) + len(kv.Key)
		conds = append(conds, clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision))
		ops = append(ops, clientv3.OpPut(string(kv.Key), string(raw)))
	}
	if err := s.commitUses(ctx, conds, ops); err != nil {
		return ids, err
	}
	return nil, nil
}

func (s *Store) commitUses(ctx context.Context, conds []clientv3.Cmp, ops []clientv3.Op) error {
	if len(ops) == 0 {
		return nil
	}
	resp, err := s.cli.Txn(ctx).If(conds...).Then(ops...).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errConflict
	}
	s.note(resp.Header.Revision)
	return nil
}
