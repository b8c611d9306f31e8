package registry

import (
	"context"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/changelog"
)

// ListOptions selects one page of a listing ordered by key. After is the key of the last item of the previous
// page ("" for the first page); Limit is the page size (values < 1 mean DefaultPageSize, values above
// MaxPageSize mean MaxPageSize). Filter, for the listings of clients and users only, keeps the items
// ClientMatches or UserMatches accepts ("" keeps all); Limit counts kept items, and a backend that can
// iterate skips the others without copying the table.
type ListOptions struct {
	Limit  int
	After  string
	Filter string
}

// Page sizes of every listing.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// EffectiveLimit is the page size a backend must use for o.
func (o ListOptions) EffectiveLimit() int {
	switch {
	case o.Limit < 1:
		return DefaultPageSize
	case o.Limit > MaxPageSize:
		return MaxPageSize
	}
	return o.Limit
}

// Store persists the registry. Every method is safe for concurrent use and atomic: it either commits all its
// effects durably (surviving a crash of the process or, for a replicated backend, of a minority of its nodes)
// before returning nil or changes nothing, and no reader ever sees part of a write. Errors wrap the apierror
// sentinels: apierror.ErrNotFound when a named record (or the tenant it belongs to) does not exist,
// apierror.ErrAlreadyExists when a unique key is taken. Returned values are copies that callers own.
//
// Update functions (the update argument of UpdateTenant, UpdateClient, UpdateUser and UpdateApiResource) may
// run more than once for one call: a backend that writes by compare-and-swap runs the function again on the
// newer value when another writer got in first. They must compute their result from the value they are given
// only, must not call back into the store, and must not have effects a second run would repeat. Only the
// result of the run that is stored is returned.
//
// Listings return the items after opts.After in key order and the key to pass as After for the next page,
// or "" when there is no further item.
//
// Every committed write that changes something has a revision, greater than every earlier commit's; Watch
// reports each such commit with its changes (see Change), so that replicas can keep caches that follow the
// store instead of process memory.
type Store interface {
	// CreateTenant stores t. ErrAlreadyExists when t.ID or t.Code is taken.
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error)
	// CreateTenantWithClients stores t and clients (each of tenant t) in one atomic write: all of them or,
	// on any error, nothing. ErrAlreadyExists when t.ID, t.Code or a client's ID is taken. It is how a tenant
	// is created with its admin console client.
	CreateTenantWithClients(ctx context.Context, t Tenant, clients []Client) (Tenant, error)
	// GetTenant returns the tenant with id. ErrNotFound when there is none.
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// GetTenantByCode returns the tenant whose code is code. ErrNotFound when there is none.
	GetTenantByCode(ctx context.Context, code string) (Tenant, error)
	// ListTenants lists tenants ordered by ID.
	ListTenants(ctx context.Context, opts ListOptions) (items []Tenant, next string, err error)
	// UpdateTenant runs update on the stored tenant and stores its result atomically (update may run more
	// than once, see above); an error from update aborts with nothing changed and is returned as is. The ID
	// cannot change. ErrNotFound when there is no such tenant; ErrAlreadyExists when the new code is taken.
	UpdateTenant(ctx context.Context, id string, update func(Tenant) (Tenant, error)) (Tenant, error)
	// DeleteTenant deletes the tenant with all its clients (and their secrets), users and API resources atomically,
	// returning the IDs of the clients deleted, in order. ErrNotFound when there is no such tenant.
	DeleteTenant(ctx context.Context, id string) (deletedClients []string, err error)

	// CreateClient stores c. ErrNotFound when c.TenantID does not exist; ErrAlreadyExists when c.ID is taken
	// in any tenant.
	CreateClient(ctx context.Context, c Client) (Client, error)
	// GetClient returns the client with id, whatever its tenant, secrets included. ErrNotFound when there is
	// none.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients lists the clients of tenantID ordered by ID, or of every tenant when tenantID is "".
	// A tenant that does not exist has no clients (no error).
	ListClients(ctx context.Context, tenantID string, opts ListOptions) (items []Client, next string, err error)
	// UpdateClient runs update on the stored client and stores its result atomically (update may run more
	// than once, see above); an error from update aborts with nothing changed and is returned as is. The ID
	// and TenantID cannot change. ErrNotFound when there is no such client.
	UpdateClient(ctx context.Context, id string, update func(Client) (Client, error)) (Client, error)
	// DeleteClient deletes the client and its secrets. ErrNotFound when there is none.
	DeleteClient(ctx context.Context, id string) error
	// RecordSecretUse sets LastUsed of each named secret to the use's time when that is later than the stored
	// value, all atomically. Unknown clients and secrets are skipped.
	RecordSecretUse(ctx context.Context, uses []SecretUse) error

	// CreateUser stores u with a new random Incarnation (NewIncarnation; u.Incarnation is ignored) and
	// returns it so. ErrNotFound when u.TenantID does not exist; ErrAlreadyExists when u.ID, its login name,
	// or its email or mobile (when set) is taken in the tenant. Login names and emails compare
	// case-insensitively.
	CreateUser(ctx context.Context, u User) (User, error)
	// GetUser returns the user tenantID/id. ErrNotFound when there is none.
	GetUser(ctx context.Context, tenantID, id string) (User, error)
	// FindUser returns the user of tenantID that sel names (uid, login name, email or mobile). ErrNotFound
	// when there is none.
	FindUser(ctx context.Context, tenantID string, sel access.Selector) (User, error)
	// FindUserByFederatedIdentity returns the user of tenantID linked to subject at the upstream provider
	// providerID (an index lookup, no scan). ErrNotFound when there is none. (providerID, subject) is unique
	// within a tenant: CreateUser and UpdateUser fail with ErrAlreadyExists when another user holds it.
	FindUserByFederatedIdentity(ctx context.Context, tenantID, providerID, subject string) (User, error)
	// ListUsers lists the users of tenantID ordered by ID. A tenant that does not exist has no users.
	ListUsers(ctx context.Context, tenantID string, opts ListOptions) (items []User, next string, err error)
	// UpdateUser runs update on the stored user and stores its result atomically (update may run more than
	// once, see above), maintaining the unique indexes; an error from update aborts with nothing changed and
	// is returned as is. The ID, TenantID and Incarnation cannot change. ErrNotFound when there is no such user; ErrAlreadyExists when a new login
	// name, email or mobile is taken.
	UpdateUser(ctx context.Context, tenantID, id string, update func(User) (User, error)) (User, error)
	// DeleteUser deletes a user. ErrNotFound when there is none.
	DeleteUser(ctx context.Context, tenantID, id string) error

	// CreateApiResource stores r. ErrNotFound when r.TenantID does not exist; ErrAlreadyExists when r.ID is
	// taken in the tenant (resource IDs are compared byte for byte: callers store them normalized).
	CreateApiResource(ctx context.Context, r ApiResource) (ApiResource, error)
	// GetApiResource returns the API resource tenantID/id. ErrNotFound when there is none (or no such tenant).
	GetApiResource(ctx context.Context, tenantID, id string) (ApiResource, error)
	// ListApiResources lists the API resources of tenantID ordered by ID. A tenant that does not exist has
	// no resources (no error).
	ListApiResources(ctx context.Context, tenantID string, opts ListOptions) (items []ApiResource, next string, err error)
	// UpdateApiResource runs update on the stored resource and stores its result atomically (update may run
	// more than once, see above); an error from update aborts with nothing changed and is returned as is. The
	// ID and TenantID cannot change. ErrNotFound when there is no such resource.
	UpdateApiResource(ctx context.Context, tenantID, id string, update func(ApiResource) (ApiResource, error)) (ApiResource, error)
	// DeleteApiResource deletes an API resource. ErrNotFound when there is none.
	DeleteApiResource(ctx context.Context, tenantID, id string) error

	// Seed stores the tenants, clients and users (each with a new Incarnation, as CreateUser) atomically if
	// and only if the registry has no tenant; it reports whether it did. Of several callers seeding at once,
	// exactly one does. It is how Bootstrap stays atomic and idempotent.
	Seed(ctx context.Context, tenants []Tenant, clients []Client, users []User) (bool, error)

	// Revision returns a revision at or after every write this store value has acknowledged (no I/O).
	Revision() int64
	// Watch calls fn with every commit after revision from, in revision order, then every later commit as it
	// happens, until ctx ends (ctx.Err() is returned) or fn fails (its error is returned as is). It returns
	// changelog.ErrCompacted (wrapped or as is) when the history after from is no longer kept: the caller
	// re-reads a snapshot and watches from the Revision noted before reading. A Batch with no Changes is a
	// progress report (every commit up to its Revision was delivered). Changes are copies fn owns.
	Watch(ctx context.Context, from int64, fn func(changelog.Batch[Change]) error) error

	// Close releases the store. Other methods must not be called after it.
	Close() error
}
