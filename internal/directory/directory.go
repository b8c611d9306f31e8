// Package directory is the access.Directory of the services that do not own the users: it asks the
// registry's internal gRPC API (the connection must carry the suite's internal credential). The token and
// provider services use it; the registry answers from its own store.
package directory

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
)

// Registry is an access.Directory backed by RegistryInternalService. It is safe for concurrent use and
// caches nothing, so a role or disabled flag changed in the registry counts on the next call.
type Registry struct {
	client registryv1.RegistryInternalServiceClient
}

var _ access.Directory = (*Registry)(nil)

// NewRegistry returns a Directory that asks client.
func NewRegistry(client registryv1.RegistryInternalServiceClient) *Registry {
	return &Registry{client: client}
}

// Tenant implements access.Directory with LookupTenant.
func (r *Registry) Tenant(ctx context.Context, ref access.TenantRef) (access.Tenant, error) {
	resp, err := r.client.LookupTenant(ctx, &registryv1.LookupTenantRequest{TenantId: ref.ID, TenantCode: ref.Code})
	if err != nil {
		return access.Tenant{}, mapError(err, "tenant")
	}
	return access.Tenant{ID: resp.GetTenantId(), Code: resp.GetTenantCode()}, nil
}

// User implements access.Directory with ResolveUser (include_disabled, so a disabled user is reported as
// such rather than refused).
func (r *Registry) User(ctx context.Context, tenantID string, sel access.Selector) (access.User, error) {
	resp, err := r.client.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: sel.String(), TenantId: tenantID, IncludeDisabled: true})
	if err != nil {
		return access.User{}, mapError(err, "user")
	}
	u := resp.GetUser()
	if u == nil {
		return access.User{}, apierror.NotFound("no such user")
	}
	return access.User{ID: u.GetUserId(), TenantID: u.GetTenantId(), LoginName: u.GetLoginName(), Roles: u.GetRoles(), Disabled: u.GetDisabled()}, nil
}

// mapError turns a failed registry call into the domain errors access.Directory promises: NOT_FOUND wraps
// apierror.ErrNotFound, INVALID_ARGUMENT keeps its field message, a cancelled or timed-out call stays so,
// and anything else (unreachable registry, wrong internal credential) is the suite's problem:
// apierror.ErrUnavailable, never blamed on the caller.
func mapError(err error, what string) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return apierror.NotFound("no such %s", what)
	case codes.InvalidArgument, codes.Canceled, codes.DeadlineExceeded:
		return err
	}
	return fmt.Errorf("directory: registry %s lookup: %s: %w", what, st.Code(), apierror.ErrUnavailable)
}
