package etcdstore

import (
	"context"
	"encoding/json"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// CreateTenantWithClients implements registry.Store in one etcd transaction: the tenant (with a new
// generation), its code, and each client with its member key, under the compares that CreateTenant and
// CreateClient make — the tenant id and code unused, each client id unused or held by a record of a deleted
// tenant (another generation), unchanged since it was read.
func (s *Store) CreateTenantWithClients(ctx context.Context, t registry.Tenant, clients []registry.Client) (registry.Tenant, error) {
	if badID(t.ID) || badPart(t.Code) {
		return registry.Tenant{}, errBadID
	}
	if 2+2*len(clients) > maxTxnOps {
		return registry.Tenant{}, apierror.Invalid("clients", "at most %d clients are created with a tenant", (maxTxnOps-2)/2)
	}
	seen := map[string]bool{}
	for _, c := range clients {
		if badID(c.ID) {
			return registry.Tenant{}, errBadID
		}
		if c.TenantID != t.ID {
			return registry.Tenant{}, apierror.Invalid("tenantId", "a client created with tenant %q must belong to it", t.ID)
		}
		if seen[c.ID] {
			return registry.Tenant{}, apierror.AlreadyExists("client %q", c.ID)
		}
		seen[c.ID] = true
	}
	st := tenantToStored(t)
	st.Gen = newGen()
	raw, err := json.Marshal(st)
	if err != nil {
		return registry.Tenant{}, err
	}
	tk, ck := s.tenantKey(t.ID), s.codeKey(t.Code)
	err = retry(ctx, func() error {
		reads := make([]clientv3.Op, len(clients))
		for i, c := range clients {
			reads[i] = clientv3.OpGet(s.clientKey(c.ID))
		}
		resp, err := s.cli.Txn(ctx).Then(reads...).Commit()
		if err != nil {
			return err
		}
		cmps := []clientv3.Cmp{
			clientv3.Compare(clientv3.CreateRevision(tk), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(ck), "=", 0),
		}
		puts := []clientv3.Op{clientv3.OpPut(tk, string(raw)), clientv3.OpPut(ck, t.ID)}
		for i, c := range clients {
			var mod int64
			if kvs := resp.Responses[i].GetResponseRange().GetKvs(); len(kvs) > 0 {
				var old storedClient
				if err := decode(kvs[0], &old); err != nil {
					return err
				}
				gen, err := s.tenantsAt(resp.Header.Revision).gen(ctx, old.TenantID)
				if err != nil {
					return err
				}
				if gen != "" && gen == old.TenantGen {
					return apierror.AlreadyExists("client %q", c.ID)
				}
				mod = kvs[0].ModRevision
			}
			sc := clientToStored(c)
			sc.TenantGen = st.Gen
			craw, err := json.Marshal(sc)
			if err != nil {
				return err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.clientKey(c.ID)), "=", mod))
			puts = append(puts, clientv3.OpPut(s.clientKey(c.ID), string(craw)), clientv3.OpPut(s.memberKey(t.ID, c.ID), st.Gen))
		}
		w, err := s.cli.Txn(ctx).If(cmps...).Then(puts...).Else(
			clientv3.OpGet(tk, clientv3.WithCountOnly()), clientv3.OpGet(ck, clientv3.WithCountOnly()),
		).Commit()
		if err != nil {
			return err
		}
		if !w.Succeeded {
			switch {
			case w.Responses[0].GetResponseRange().GetCount() > 0:
				return apierror.AlreadyExists("tenant %q", t.ID)
			case w.Responses[1].GetResponseRange().GetCount() > 0:
				return apierror.AlreadyExists("tenant code %q", t.Code)
			}
			return errConflict // a client record changed since it was read: read again
		}
		s.note(w.Header.Revision)
		return nil
	})
	if err != nil {
		return registry.Tenant{}, err
	}
	return tenantToStored(t).domain(), nil
}
