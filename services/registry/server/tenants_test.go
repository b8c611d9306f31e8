package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
)

// TestSystemTenantCodeIsFixed: the system tenant's name may change, its code may not (FailedPrecondition
// naming code), and the refused update changes nothing.
func TestSystemTenantCodeIsFixed(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokSystem)
	_, err := e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: access.SystemTenant,
		Tenant: &registryv1.Tenant{Code: "renamed", Name: "Renamed"}})
	wantCode(t, err, codes.FailedPrecondition)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "code") {
		t.Fatalf("message %q does not name code", msg)
	}
	got, err := e.tenants.GetTenant(ctx, &registryv1.GetTenantRequest{TenantId: access.SystemTenant})
	if err != nil || got.GetTenant().GetCode() != "default" || got.GetTenant().GetName() != "System" {
		t.Fatalf("after refused update: %v, %v", got, err)
	}
	up, err := e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: access.SystemTenant,
		Tenant: &registryv1.Tenant{Code: "default", Name: "Operators"}})
	if err != nil || up.GetTenant().GetName() != "Operators" || up.GetTenant().GetCode() != "default" {
		t.Fatalf("renaming the system tenant: %v, %v", up, err)
	}
}
