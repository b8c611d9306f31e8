package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// resourceRec is the record form of an API resource: copied in and out, normalised as the bbolt store's
// encoding does (whole-second lifetime, empty scopes as nil, times without their monotonic reading).
type resourceRec struct {
	id, tenantID, displayName string
	scopes                    []string
	lifetimeSeconds           int64
	createTime, updateTime    time.Time
}

func resourceToRec(r registry.ApiResource) *resourceRec {
	rec := &resourceRec{
		id: r.ID, tenantID: r.TenantID, displayName: r.DisplayName, scopes: slices.Clone(r.Scopes),
		lifetimeSeconds: int64(r.AccessTokenLifetime / time.Second),
		createTime:      wall(r.CreateTime), updateTime: wall(r.UpdateTime),
	}
	if len(rec.scopes) == 0 {
		rec.scopes = nil
	}
	return rec
}

func (r *resourceRec) domain() registry.ApiResource {
	return registry.ApiResource{
		ID: r.id, TenantID: r.tenantID, DisplayName: r.displayName, Scopes: slices.Clone(r.scopes),
		AccessTokenLifetime: time.Duration(r.lifetimeSeconds) * time.Second,
		CreateTime:          r.createTime, UpdateTime: r.updateTime,
	}
}

func (st *state) resource(tenantID, id string) (*resourceRec, error) {
	r := st.resources[tenantID][id]
	if r == nil {
		return nil, apierror.NotFound("API resource %q in tenant %q", id, tenantID)
	}
	return r, nil
}

// CreateApiResource implements registry.Store.
func (s *Store) CreateApiResource(ctx context.Context, r registry.ApiResource) (out registry.ApiResource, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		if st.tenants[r.TenantID] == nil {
			return nil, apierror.NotFound("tenant %q", r.TenantID)
		}
		if st.resources[r.TenantID][r.ID] != nil {
			return nil, apierror.AlreadyExists("API resource %q in tenant %q", r.ID, r.TenantID)
		}
		rec := resourceToRec(r)
		m := st.resources[r.TenantID]
		if m == nil {
			m = map[string]*resourceRec{}
			st.resources[r.TenantID] = m
		}
		m[r.ID] = rec
		out = rec.domain()
		return []registry.Change{{Resource: new(rec.domain())}}, nil
	})
	return out, err
}

// GetApiResource implements registry.Store.
func (s *Store) GetApiResource(ctx context.Context, tenantID, id string) (r registry.ApiResource, err error) {
	err = s.view(ctx, func(st *state) error {
		rec, err := st.resource(tenantID, id)
		if err == nil {
			r = rec.domain()
		}
		return err
	})
	return r, err
}

// ListApiResources implements registry.Store.
func (s *Store) ListApiResources(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.ApiResource, next string, err error) {
	err = s.view(ctx, func(st *state) error {
		m := st.resources[tenantID]
		var keys []string
		keys, next = page(m, opts.After, opts.EffectiveLimit())
		for _, k := range keys {
			items = append(items, m[k].domain())
		}
		return nil
	})
	return items, next, err
}

// UpdateApiResource implements registry.Store. Here update runs exactly once, with the registry locked.
func (s *Store) UpdateApiResource(ctx context.Context, tenantID, id string, update func(registry.ApiResource) (registry.ApiResource, error)) (r registry.ApiResource, err error) {
	err = s.update(ctx, func(st *state) ([]registry.Change, error) {
		old, err := st.resource(tenantID, id)
		if err != nil {
			return nil, err
		}
		r, err = update(old.domain())
		if err != nil {
			return nil, err
		}
		r.ID, r.TenantID = old.id, old.tenantID
		rec := resourceToRec(r)
		st.resources[tenantID][id] = rec
		r = rec.domain()
		return []registry.Change{{Resource: new(rec.domain())}}, nil
	})
	if err != nil {
		return registry.ApiResource{}, err
	}
	return r, nil
}

// DeleteApiResource implements registry.Store.
func (s *Store) DeleteApiResource(ctx context.Context, tenantID, id string) error {
	return s.update(ctx, func(st *state) ([]registry.Change, error) {
		if _, err := st.resource(tenantID, id); err != nil {
			return nil, err
		}
		delete(st.resources[tenantID], id)
		if len(st.resources[tenantID]) == 0 {
			delete(st.resources, tenantID)
		}
		return []registry.Change{{DeletedResource: &registry.ApiResourceRef{TenantID: tenantID, ID: id}}}, nil
	})
}
