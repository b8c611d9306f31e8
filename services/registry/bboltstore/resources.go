package bboltstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// storedResource is the stored form of an API resource (bucket resources, key tenantID sep resourceID).
type storedResource struct {
	ID                         string    `json:"id"`
	TenantID                   string    `json:"tenant_id"`
	DisplayName                string    `json:"display_name,omitempty"`
	Scopes                     []string  `json:"scopes,omitempty"`
	AccessTokenLifetimeSeconds int64     `json:"access_token_lifetime_s,omitempty"`
	CreateTime                 time.Time `json:"create_time"`
	UpdateTime                 time.Time `json:"update_time"`
}

func resourceToStored(r registry.ApiResource) storedResource {
	return storedResource{
		ID: r.ID, TenantID: r.TenantID, DisplayName: r.DisplayName, Scopes: r.Scopes,
		AccessTokenLifetimeSeconds: int64(r.AccessTokenLifetime / time.Second),
		CreateTime:                 r.CreateTime, UpdateTime: r.UpdateTime,
	}
}

func (s storedResource) domain() registry.ApiResource {
	return registry.ApiResource{
		ID: s.ID, TenantID: s.TenantID, DisplayName: s.DisplayName, Scopes: s.Scopes,
		AccessTokenLifetime: time.Duration(s.AccessTokenLifetimeSeconds) * time.Second,
		CreateTime:          s.CreateTime, UpdateTime: s.UpdateTime,
	}
}

// storedCopy returns r as it reads back: what the JSON encoding keeps (a copy).
func storedCopy(r registry.ApiResource) registry.ApiResource {
	raw, err := json.Marshal(resourceToStored(r))
	if err != nil {
		return r.Clone()
	}
	var sr storedResource
	if json.Unmarshal(raw, &sr) != nil {
		return r.Clone()
	}
	return sr.domain()
}

func resourceKey(tenantID, id string) []byte { return joinKey(tenantID, id) }

func getResource(tx *bolt.Tx, tenantID, id string) (registry.ApiResource, error) {
	var sr storedResource
	ok, err := getJSON(tx.Bucket(bucketResources), resourceKey(tenantID, id), &sr)
	if err != nil {
		return registry.ApiResource{}, err
	}
	if !ok || strings.Contains(tenantID, sep) || strings.Contains(id, sep) {
		return registry.ApiResource{}, apierror.NotFound("API resource %q in tenant %q", id, tenantID)
	}
	return sr.domain(), nil
}

func createResource(tx *bolt.Tx, r registry.ApiResource) error {
	if tx.Bucket(bucketTenants).Get([]byte(r.TenantID)) == nil || strings.Contains(r.TenantID, sep) {
		return apierror.NotFound("tenant %q", r.TenantID)
	}
	b, key := tx.Bucket(bucketResources), resourceKey(r.TenantID, r.ID)
	if b.Get(key) != nil {
		return apierror.AlreadyExists("API resource %q in tenant %q", r.ID, r.TenantID)
	}
	if r.ID == "" || strings.Contains(r.ID, sep) {
		return apierror.Invalid("resourceId", "must be an absolute URI")
	}
	return putJSON(b, key, resourceToStored(r))
}

// CreateApiResource implements registry.Store.
func (s *Store) CreateApiResource(ctx context.Context, r registry.ApiResource) (registry.ApiResource, error) {
	out := storedCopy(r)
	err := s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		return one(registry.Change{Resource: new(out.Clone())}), createResource(tx, r)
	})
	if err != nil {
		return registry.ApiResource{}, err
	}
	return out, nil
}

// GetApiResource implements registry.Store.
func (s *Store) GetApiResource(ctx context.Context, tenantID, id string) (r registry.ApiResource, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		r, err = getResource(tx, tenantID, id)
		return err
	})
	return r, err
}

// ListApiResources implements registry.Store.
func (s *Store) ListApiResources(ctx context.Context, tenantID string, opts registry.ListOptions) (items []registry.ApiResource, next string, err error) {
	if strings.Contains(tenantID, sep) {
		return nil, "", nil
	}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		next, err = page(tx.Bucket(bucketResources), joinKey(tenantID, ""), opts.After, opts.EffectiveLimit(), func(_ string, v []byte) error {
			var sr storedResource
			if err := json.Unmarshal(v, &sr); err != nil {
				return err
			}
			items = append(items, sr.domain())
			return nil
		})
		return err
	})
	return items, next, err
}

// UpdateApiResource implements registry.Store.
func (s *Store) UpdateApiResource(ctx context.Context, tenantID, id string, update func(registry.ApiResource) (registry.ApiResource, error)) (r registry.ApiResource, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		old, err := getResource(tx, tenantID, id)
		if err != nil {
			return nil, err
		}
		r, err = update(old)
		if err != nil {
			return nil, err
		}
		r.ID, r.TenantID = old.ID, old.TenantID
		r = storedCopy(r)
		return one(registry.Change{Resource: new(r.Clone())}), putJSON(tx.Bucket(bucketResources), resourceKey(tenantID, id), resourceToStored(r))
	})
	if err != nil {
		return registry.ApiResource{}, err
	}
	return r, nil
}

// DeleteApiResource implements registry.Store.
func (s *Store) DeleteApiResource(ctx context.Context, tenantID, id string) error {
	return s.update(ctx, func(tx *bolt.Tx) ([]registry.Change, error) {
		if _, err := getResource(tx, tenantID, id); err != nil {
			return nil, err
		}
		return one(registry.Change{DeletedResource: &registry.ApiResourceRef{TenantID: tenantID, ID: id}}),
			tx.Bucket(bucketResources).Delete(resourceKey(tenantID, id))
	})
}
