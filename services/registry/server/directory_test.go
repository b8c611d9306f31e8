package server_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/directory"
)

// TestDirectoryOverGRPC drives internal/directory (the token and provider services' access.Directory) against
// a real registry over loopback gRPC: LookupTenant by id and code, ResolveUser with include_disabled, and
// the errors the rule relies on.
func TestDirectoryOverGRPC(t *testing.T) {
	e := newEnv(t)
	boss := e.createUser(t, "acme", &registryv1.User{LoginName: "boss", Roles: []string{access.RoleTenantAdmin}})
	gone := e.createUser(t, "acme", &registryv1.User{LoginName: "gone", Disabled: true})
	dir := directory.NewRegistry(e.internal)
	ctx := context.Background()

	for _, ref := range []access.TenantRef{{ID: "acme"}, {Code: "acme-code"}, {ID: "acme", Code: "ignored"}} {
		if got, err := dir.Tenant(ctx, ref); err != nil || got != (access.Tenant{ID: "acme", Code: "acme-code"}) {
			t.Errorf("Tenant(%+v) = %+v, %v", ref, got, err)
		}
	}
	for _, ref := range []access.TenantRef{{ID: "ghost"}, {Code: "ghost-code"}} {
		if _, err := dir.Tenant(ctx, ref); !errors.Is(err, apierror.ErrNotFound) {
			t.Errorf("Tenant(%+v) err = %v, want not found", ref, err)
		}
	}
	if _, err := e.internal.LookupTenant(ctx, &registryv1.LookupTenantRequest{}); err == nil {
		t.Error("LookupTenant without id or code succeeded")
	}

	u, err := dir.User(ctx, "acme", access.Selector{Kind: access.ByUID, Value: boss.GetUserId()})
	if err != nil || u.ID != boss.GetUserId() || u.TenantID != "acme" || u.LoginName != "boss" || !u.HasRole(access.RoleTenantAdmin) || u.Disabled {
		t.Errorf("User(boss) = %+v, %v", u, err)
	}
	if u, err := dir.User(ctx, "acme", access.Selector{Kind: access.ByLoginName, Value: "gone"}); err != nil || !u.Disabled || u.ID != gone.GetUserId() {
		t.Errorf("User(gone) = %+v, %v; want the disabled user", u, err)
	}
	if _, err := dir.User(ctx, "acme", access.Selector{Kind: access.ByLoginName, Value: "nobody"}); !errors.Is(err, apierror.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	// Without include_disabled, ResolveUser still refuses a disabled user (older callers keep their answer).
	if _, err := e.internal.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "loginName:gone", TenantId: "acme"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ResolveUser(disabled) = %v", err)
	}
	// A registry that refuses the caller is the suite's problem, not the user's.
	if _, err := directory.NewRegistry(e.noCred).Tenant(ctx, access.TenantRef{ID: "acme"}); !errors.Is(err, apierror.ErrUnavailable) {
		t.Errorf("without the internal credential: %v", err)
	}
}
