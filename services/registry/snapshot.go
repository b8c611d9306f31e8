package registry

import (
	"fmt"
	"strings"
)

// Snapshot is every record of a registry at one point in time, as one backend exports it and another imports
// it (moving an install from one backend to another). Users keep their Incarnation and password hash, clients
// their secrets' digests: nothing is generated again, so every credential and every token bound to an
// incarnation stays valid.
type Snapshot struct {
	Tenants []Tenant
	Clients []Client
	Users   []User
	// Resources are the API resources of every tenant.
	Resources []ApiResource
}

// CheckSnapshotResources checks the API resources of snap as an import must: each belongs to one of snap's
// tenants, no two share a tenant and ID, and none holds a NUL byte or an empty ID (a key separator).
func CheckSnapshotResources(snap Snapshot) error {
	tenants := make(map[string]bool, len(snap.Tenants))
	for _, t := range snap.Tenants {
		tenants[t.ID] = true
	}
	seen := make(map[ApiResourceRef]bool, len(snap.Resources))
	for _, r := range snap.Resources {
		ref := ApiResourceRef{TenantID: r.TenantID, ID: r.ID}
		switch {
		case !tenants[r.TenantID]:
			return fmt.Errorf("API resource %q: no tenant %q", r.ID, r.TenantID)
		case r.ID == "" || strings.Contains(r.ID, "\x00"):
			return fmt.Errorf("API resource %q of tenant %q: not a valid resource ID", r.ID, r.TenantID)
		case seen[ref]:
			return fmt.Errorf("API resource %q of tenant %q: duplicate", r.ID, r.TenantID)
		}
		seen[ref] = true
	}
	return nil
}
