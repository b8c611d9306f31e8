package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/bearer"
)

func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	admin := e.createUser(t, "acme", &registryv1.User{LoginName: "boss", Email: "boss@acme.example", Roles: []string{access.RoleTenantAdmin}})
	e.createUser(t, "acme", &registryv1.User{LoginName: "worker", Mobile: "+100"})
	e.createUser(t, "acme", &registryv1.User{LoginName: "gone", Roles: []string{access.RoleTenantAdmin}, Disabled: true})
	sysAdmin := e.createUser(t, "default", &registryv1.User{LoginName: "root", Roles: []string{access.RoleTenantAdmin}})
	e.auth.set("tok-user-admin", bearer.TokenInfo{ClientID: "spa", TenantID: "acme", UserID: admin.GetUserId(), Scopes: []string{"adminapi"}})
	e.auth.set("tok-user-plain", bearer.TokenInfo{ClientID: "spa", TenantID: "acme", UserID: "nobody", Scopes: []string{"adminapi"}})
	e.auth.set("tok-user-sys", bearer.TokenInfo{ClientID: "spa", TenantID: "default", UserID: sysAdmin.GetUserId(), Scopes: []string{"adminapi"}})
	worker := e.createUser(t, "default", &registryv1.User{LoginName: "sysworker"})
	e.auth.set("tok-user-sys-sudo", bearer.TokenInfo{ClientID: "spa", TenantID: "default", UserID: sysAdmin.GetUserId(), Scopes: []string{"adminapi", "sudo"}})
	e.auth.set("tok-user-norole-sudo", bearer.TokenInfo{ClientID: "spa", TenantID: "default", UserID: worker.GetUserId(), Scopes: []string{"adminapi", "sudo"}})
	e.auth.set("tok-user-admin-sudo", bearer.TokenInfo{ClientID: "spa", TenantID: "acme", UserID: admin.GetUserId(), Scopes: []string{"adminapi", "sudo"}})
	e.auth.set("tok-other", bearer.TokenInfo{ClientID: "other-admin", TenantID: "other", Scopes: []string{"adminapi", "sudo"}})

	list := func(ctx context.Context, tenant string) error {
		_, err := e.clients.ListClients(ctx, &registryv1.ListClientsRequest{TenantId: tenant})
		return err
	}
	tests := []struct {
		name   string
		ctx    context.Context
		tenant string
		want   codes.Code
	}{
		{"no token", as(""), "acme", codes.Unauthenticated},
		{"not bearer", metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic abc"), "acme", codes.Unauthenticated},
		{"unknown token", as("forged"), "acme", codes.Unauthenticated},
		{"no adminapi scope", as(tokNoAdmin), "acme", codes.PermissionDenied},
		{"own tenant", as(tokAcme), "acme", codes.OK},
		{"lowercase bearer scheme", metadata.AppendToOutgoingContext(context.Background(), "authorization", "bearer "+tokAcme), "acme", codes.OK},
		{"other tenant", as(tokAcme), "default", codes.PermissionDenied},
		{"other tenant that does not exist", as(tokAcme), "ghost", codes.PermissionDenied},
		{"system tenant acts anywhere", as(tokSystem), "acme", codes.OK},
		{"tenant_admin user", as("tok-user-admin"), "acme", codes.OK},
		{"tenant_admin user, other tenant", as("tok-user-admin"), "default", codes.PermissionDenied},
		{"user token of unknown user", as("tok-user-plain"), "acme", codes.Unauthenticated},
		{"system tenant_admin user acts anywhere", as("tok-user-sys"), "acme", codes.OK},
		{"sudo without sudo scope", as(tokSystemNoSu, access.MDSudo, "loginName:boss", access.MDSudoTenantID, "acme"), "acme", codes.PermissionDenied},
		{"sudo into tenant_admin", as(tokSystem, access.MDSudo, "loginName:boss", access.MDSudoTenantID, "acme"), "acme", codes.OK},
		{"sudo by tenant code", as(tokSystem, access.MDSudo, "email:boss@acme.example", access.MDSudoTenantCode, "acme-code"), "acme", codes.OK},
		{"sudo deprecated username", as(tokSystem, access.MDSudo, "username:boss", access.MDSudoTenantID, "acme"), "acme", codes.OK},
		{"sudo by uid", as(tokSystem, access.MDSudo, "uid:"+admin.GetUserId(), access.MDSudoTenantID, "acme"), "acme", codes.OK},
		{"sudo user's tenant scoping applies", as(tokSystem, access.MDSudo, "loginName:boss", access.MDSudoTenantID, "acme"), "default", codes.PermissionDenied},
		{"sudo unknown user", as(tokSystem, access.MDSudo, "loginName:nobody", access.MDSudoTenantID, "acme"), "acme", codes.NotFound},
		{"sudo into non-admin user", as(tokSystem, access.MDSudo, "mobile:+100", access.MDSudoTenantID, "acme"), "acme", codes.PermissionDenied},
		{"sudo into disabled user", as(tokSystem, access.MDSudo, "loginName:gone", access.MDSudoTenantID, "acme"), "acme", codes.PermissionDenied},
		{"sudo bad selector", as(tokSystem, access.MDSudo, "nickname:boss", access.MDSudoTenantID, "acme"), "acme", codes.InvalidArgument},
		{"sudo unknown tenant", as(tokSystem, access.MDSudo, "loginName:boss", access.MDSudoTenantID, "ghost"), "acme", codes.NotFound},
		{"sudo in own tenant by tenant client", as(tokAcmeSudo, access.MDSudo, "loginName:boss"), "acme", codes.OK},
		{"sudo cross-tenant by non-system client", as("tok-other", access.MDSudo, "loginName:boss", access.MDSudoTenantID, "acme"), "acme", codes.PermissionDenied},
		{"sudo cross-tenant by code, non-system client", as("tok-other", access.MDSudo, "loginName:boss", access.MDSudoTenantCode, "acme-code"), "acme", codes.PermissionDenied},
		{"sudo by a system tenant_admin user", as("tok-user-sys-sudo", access.MDSudo, "loginName:boss", access.MDSudoTenantID, "acme"), "acme", codes.OK},
		{"sudo by a user without roles", as("tok-user-norole-sudo", access.MDSudo, "loginName:boss", access.MDSudoTenantID, "acme"), "acme", codes.PermissionDenied},
		{"sudo by a user without roles, own tenant", as("tok-user-norole-sudo", access.MDSudo, "loginName:root"), "default", codes.PermissionDenied},
		{"sudo by a non-system tenant_admin user", as("tok-user-admin-sudo", access.MDSudo, "loginName:boss"), "acme", codes.PermissionDenied},
		{"sudo unknown code, non-system client", as("tok-other", access.MDSudo, "loginName:boss", access.MDSudoTenantCode, "nope"), "acme", codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, list(tc.ctx, tc.tenant), tc.want)
		})
	}

	t.Run("tenant API is system only", func(t *testing.T) {
		_, err := e.tenants.ListTenants(as(tokAcme), &registryv1.ListTenantsRequest{})
		wantCode(t, err, codes.PermissionDenied)
		_, err = e.tenants.ListTenants(as("tok-user-admin"), &registryv1.ListTenantsRequest{})
		wantCode(t, err, codes.PermissionDenied)
		_, err = e.tenants.ListTenants(as(tokSystem), &registryv1.ListTenantsRequest{})
		wantCode(t, err, codes.OK)
		// sudo into a tenant_admin of acme makes the principal an acme user: no tenant API.
		_, err = e.tenants.ListTenants(as(tokSystem, access.MDSudo, "loginName:boss", access.MDSudoTenantID, "acme"), &registryv1.ListTenantsRequest{})
		wantCode(t, err, codes.PermissionDenied)
	})

	t.Run("audit log", func(t *testing.T) {
		logs := e.logs.String()
		for _, want := range []string{`"msg":"admin call"`, `"method":"/authsuite.registry.v1.ClientService/ListClients"`, `"caller_client_id":"admin"`, `"caller_tenant":"default"`, `"as_user_id":"` + admin.GetUserId() + `"`, `"as_tenant":"acme"`, `"outcome":"PermissionDenied"`, `"sudo":true`} {
			if !strings.Contains(logs, want) {
				t.Errorf("audit log lacks %s", want)
			}
		}
		for tok := range map[string]bool{tokSystem: true, tokAcme: true, "tok-user-admin": true} {
			if strings.Contains(logs, tok) {
				t.Errorf("audit log contains token %q", tok)
			}
		}
	})
}
