package memstore

import (
	"context"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// CreateTenantWithClients implements registry.Store: every check first, then every change, under the
// store's one lock.
func (s *Store) CreateTenantWithClients(ctx context.Context, t registry.Tenant, clients []registry.Client) (out registry.Tenant, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		if st.tenants[t.ID] != nil {
			return nil, apierror.AlreadyExists("tenant %q", t.ID)
		}
		if _, ok := st.codes[t.Code]; ok {
			return nil, apierror.AlreadyExists("tenant code %q", t.Code)
		}
		seen := map[string]bool{}
		for _, c := range clients {
			if c.TenantID != t.ID {
				return nil, apierror.Invalid("tenantId", "a client created with tenant %q must belong to it", t.ID)
			}
			if st.clients[c.ID] != nil || seen[c.ID] {
				return nil, apierror.AlreadyExists("client %q", c.ID)
			}
			seen[c.ID] = true
		}
		r, err := st.createTenant(t)
		if err != nil {
			return nil, err
		}
		out = r.domain()
		changes := []registry.Change{{Tenant: new(r.domain())}}
		for _, c := range clients {
			cr, err := st.createClient(c)
			if err != nil {
				return nil, err // cannot happen: checked above
			}
			changes = append(changes, registry.Change{Client: new(cr.domain())})
		}
		return changes, nil
	})
	return out, err
}
