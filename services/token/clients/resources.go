package clients

import (
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Resource is an API resource (RFC 8707) as the token service knows it: the audience of the access tokens
// issued for its scopes. A *Resource handed out by the Cache is never modified afterwards; changes replace
// it.
type Resource struct {
	// ID is the resource indicator, an absolute URI (RFC 8707 §2), compared byte for byte.
	ID       string   `json:"id"`
	TenantID string   `json:"tenant_id"`
	Scopes   []string `json:"scopes,omitempty"`
	// AccessTokenLifetime bounds the lifetime of tokens naming the resource in aud; 0: no bound.
	AccessTokenLifetime time.Duration `json:"access_token_lifetime,omitempty"`
}

// Limits on a resource record from the feed; a record beyond them is skipped, so the request path never
// walks an unbounded list.
const (
	maxResourceIDLen    = 2048
	maxResourceScopes   = 256
	maxResourceScopeLen = 128
)

type resourceKey struct{ tenantID, id string }

func (r *Resource) key() resourceKey { return resourceKey{r.TenantID, r.ID} }

// Defines reports whether the resource lists scope.
func (r *Resource) Defines(scope string) bool { return slices.Contains(r.Scopes, scope) }

// resourceFromRecord converts a registry ApiResource (the only place that reads that type).
func resourceFromRecord(p *registryv1.ApiResource) (*Resource, error) {
	id, tenant := p.GetResourceId(), p.GetTenantId()
	switch {
	case id == "" || tenant == "":
		return nil, errors.New("resource record without resource_id or tenant_id")
	case len(id) > maxResourceIDLen || !utf8.ValidString(id) || !utf8.ValidString(tenant):
		return nil, errors.New("resource record with an invalid resource_id")
	case len(p.GetScopes()) > maxResourceScopes:
		return nil, errors.New("resource record with too many scopes")
	}
	r := &Resource{ID: id, TenantID: tenant}
	for _, sc := range p.GetScopes() {
		if sc == "" || len(sc) > maxResourceScopeLen || !utf8.ValidString(sc) {
			return nil, errors.New("resource record with an invalid scope")
		}
		if !slices.Contains(r.Scopes, sc) {
			r.Scopes = append(r.Scopes, sc)
		}
	}
	if p.AccessTokenLifetime != nil && p.GetAccessTokenLifetime() > 0 {
		r.AccessTokenLifetime = time.Duration(p.GetAccessTokenLifetime()) * time.Second
	}
	return r, nil
}

// Resource returns the API resource id of the tenant, if the view holds it. A map lookup under a read lock.
func (c *Cache) Resource(tenantID, id string) (*Resource, bool) {
	c.mu.RLock()
	r, ok := c.resources[resourceKey{tenantID, id}]
	c.mu.RUnlock()
	return r, ok
}

// ResourcesOf returns the API resources of the tenant that define scope (nil when none: scope is then not a
// resource scope), in resource id order. The slice is shared: callers must not modify it. A map lookup
// under a read lock.
func (c *Cache) ResourcesOf(tenantID, scope string) []*Resource {
	c.mu.RLock()
	l := c.byScope[resourceKey{tenantID, scope}]
	c.mu.RUnlock()
	return l
}

// putResourceLocked sets (r != nil) or deletes the resource k and reports whether that changed the view.
// Call with mu held.
func (c *Cache) putResourceLocked(k resourceKey, r *Resource) bool {
	old, ok := c.resources[k]
	switch {
	case r == nil && !ok:
		return false
	case r != nil && ok && sameResource(old, r):
		return false
	}
	if ok {
		c.indexResourceLocked(old, false)
	}
	if r == nil {
		delete(c.resources, k)
		return true
	}
	c.resources[k] = r
	c.indexResourceLocked(r, true)
	return true
}

// indexResourceLocked adds r to (or removes it from) the scope index, keeping each list in id order and
// copying on write, since ResourcesOf hands the lists out. Call with mu held.
func (c *Cache) indexResourceLocked(r *Resource, add bool) {
	for _, sc := range r.Scopes {
		k := resourceKey{r.TenantID, sc}
		old := c.byScope[k]
		l := make([]*Resource, 0, len(old)+1)
		for _, o := range old {
			if o.ID != r.ID {
				l = append(l, o)
			}
		}
		if add {
			l = append(l, r)
			slices.SortFunc(l, func(a, b *Resource) int {
				switch {
				case a.ID < b.ID:
					return -1
				case a.ID > b.ID:
					return 1
				}
				return 0
			})
		}
		if len(l) == 0 {
			delete(c.byScope, k)
		} else {
			c.byScope[k] = l
		}
	}
}

// setResourcesLocked replaces every resource and rebuilds the index. Call with mu held.
func (c *Cache) setResourcesLocked(m map[resourceKey]*Resource) {
	c.resources = map[resourceKey]*Resource{}
	c.byScope = map[resourceKey][]*Resource{}
	for k, r := range m {
		c.resources[k] = r
		c.indexResourceLocked(r, true)
	}
}

// applyResource applies one resource event (r == nil deletes k).
func (c *Cache) applyResource(k resourceKey, r *Resource) {
	c.mu.Lock()
	changed := c.putResourceLocked(k, r)
	c.mu.Unlock()
	if changed {
		c.changed()
	}
}

// deleteTenantResources drops every resource of a deleted tenant.
func (c *Cache) deleteTenantResources(tenantID string) {
	c.mu.Lock()
	changed := false
	for k := range c.resources {
		if k.tenantID == tenantID {
			changed = c.putResourceLocked(k, nil) || changed
		}
	}
	c.mu.Unlock()
	if changed {
		c.changed()
	}
}

func sameResource(a, b *Resource) bool {
	return a.ID == b.ID && a.TenantID == b.TenantID && slices.Equal(a.Scopes, b.Scopes) &&
		a.AccessTokenLifetime == b.AccessTokenLifetime
}

// TestingPutResource inserts (or replaces) a resource in the cache as if the registry had sent it. It
// exists for tests and benchmarks of packages that use the cache without a registry.
func TestingPutResource(c *Cache, p *registryv1.ApiResource) error {
	r, err := resourceFromRecord(p)
	if err != nil {
		return err
	}
	c.applyResource(r.key(), r)
	return nil
}
