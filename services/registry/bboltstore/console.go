package bboltstore

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// CreateTenantWithClients implements registry.Store in one bbolt transaction: a failure rolls back all.
func (s *Store) CreateTenantWithClients(ctx context.Context, t registry.Tenant, clients []registry.Client) (registry.Tenant, error) {
	err := s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		if err := createTenant(tx, t); err != nil {
			return nil, err
		}
		changes := []registry.Change{{Tenant: new(tenantToStored(t).domain())}}
		for _, c := range clients {
			if c.TenantID != t.ID {
				return nil, apierror.Invalid("tenantId", "a client created with tenant %q must belong to it", t.ID)
			}
			if err := createClient(tx, c); err != nil {
				return nil, err
			}
			changes = append(changes, registry.Change{Client: new(clientToStored(c.Clone()).domain())})
		}
		return changes, nil
	})
	if err != nil {
		return registry.Tenant{}, err
	}
	return tenantToStored(t).domain(), nil
}
