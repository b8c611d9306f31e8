package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
)

func TestUsers(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokAcme)
	pw := "correct horse battery"
	resp, err := e.users.CreateUser(ctx, &registryv1.CreateUserRequest{TenantId: "acme", User: &registryv1.User{
		LoginName: "alice", Email: "alice@acme.example", Mobile: "+4912345", DisplayName: "Alice",
		Password: &pw, Roles: []string{access.RoleTenantAdmin},
	}})
	if err != nil {
		t.Fatal(err)
	}
	u := resp.GetUser()
	if u.GetUserId() == "" || u.Password != nil || u.GetTenantId() != "acme" || u.GetCreateTime() == nil {
		t.Fatalf("created user = %v", u)
	}
	js, _ := protojson.Marshal(u)
	if strings.Contains(string(js), "password") || strings.Contains(string(js), pw) || strings.Contains(string(js), "argon2") {
		t.Fatalf("password leaked: %s", js)
	}
	stored, err := e.store.GetUser(t.Context(), "acme", u.GetUserId())
	if err != nil || !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") || !stored.VerifyPassword(pw) || stored.VerifyPassword("wrong") {
		t.Fatalf("stored hash %q, %v", stored.PasswordHash, err)
	}

	// Unique login name, email and mobile in the tenant (case-insensitive for names and emails).
	for _, dup := range []*registryv1.User{
		{LoginName: "ALICE"},
		{LoginName: "bob", Email: "Alice@acme.example"},
		{LoginName: "bob", Mobile: "+4912345"},
	} {
		_, err := e.users.CreateUser(ctx, &registryv1.CreateUserRequest{TenantId: "acme", User: dup})
		wantCode(t, err, codes.AlreadyExists)
	}
	// Same names in another tenant are fine.
	e.createUser(t, "default", &registryv1.User{LoginName: "alice", Email: "alice@acme.example"})

	for _, tc := range []struct {
		u     *registryv1.User
		field string
	}{
		{&registryv1.User{}, "loginName"},
		{&registryv1.User{LoginName: "x\ny"}, "loginName"},
		{&registryv1.User{LoginName: "x", Email: "not-an-email"}, "email"},
		{&registryv1.User{LoginName: "x", Mobile: "call me"}, "mobile"},
		{&registryv1.User{LoginName: "x", Password: new("short")}, "password"},
		{&registryv1.User{LoginName: "x", Roles: []string{"a", "a"}}, "roles[1]"},
		{&registryv1.User{LoginName: "x", Roles: []string{"has space"}}, "roles[0]"},
		{&registryv1.User{LoginName: "x", UserId: "bad/id"}, "userId"},
		{&registryv1.User{LoginName: "x", DisplayName: strings.Repeat("d", 201)}, "displayName"},
	} {
		_, err := e.users.CreateUser(ctx, &registryv1.CreateUserRequest{TenantId: "acme", User: tc.u})
		wantField(t, err, tc.field)
		if err != nil && strings.Contains(err.Error(), "short") {
			t.Fatal("error message quotes the password")
		}
	}

	// Update: profile replaced, password kept unless given.
	upd, err := e.users.UpdateUser(ctx, &registryv1.UpdateUserRequest{TenantId: "acme", UserId: u.GetUserId(), User: &registryv1.User{
		LoginName: "alice2", DisplayName: "Alice II", Disabled: true,
	}})
	if err != nil || upd.GetUser().GetLoginName() != "alice2" || !upd.GetUser().GetDisabled() || upd.GetUser().GetEmail() != "" {
		t.Fatalf("update = %v, %v", upd, err)
	}
	if s, _ := e.store.GetUser(t.Context(), "acme", u.GetUserId()); !s.VerifyPassword(pw) {
		t.Fatal("password lost by an update without password")
	}
	newPW := "another long password"
	if _, err := e.users.UpdateUser(ctx, &registryv1.UpdateUserRequest{TenantId: "acme", UserId: u.GetUserId(), User: &registryv1.User{LoginName: "alice2", Password: &newPW}}); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.store.GetUser(t.Context(), "acme", u.GetUserId()); !s.VerifyPassword(newPW) || s.VerifyPassword(pw) {
		t.Fatal("password not changed")
	}
	_, err = e.users.UpdateUser(ctx, &registryv1.UpdateUserRequest{TenantId: "acme", UserId: u.GetUserId(), User: &registryv1.User{UserId: "other", LoginName: "x"}})
	wantField(t, err, "userId")
	_, err = e.users.UpdateUser(ctx, &registryv1.UpdateUserRequest{TenantId: "acme", UserId: "ghost", User: &registryv1.User{LoginName: "x"}})
	wantCode(t, err, codes.NotFound)

	list, err := e.users.ListUsers(ctx, &registryv1.ListUsersRequest{TenantId: "acme"})
	if err != nil || len(list.GetItems()) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	if _, err := e.users.DeleteUser(ctx, &registryv1.DeleteUserRequest{TenantId: "acme", UserId: u.GetUserId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.users.GetUser(ctx, &registryv1.GetUserRequest{TenantId: "acme", UserId: u.GetUserId()})
	wantCode(t, err, codes.NotFound)
}

func TestResolveUser(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "acme", &registryv1.User{LoginName: "alice", Email: "alice@acme.example", Mobile: "+100"})
	e.createUser(t, "acme", &registryv1.User{LoginName: "off", Disabled: true})
	ctx := t.Context()
	for _, req := range []*registryv1.ResolveUserRequest{
		{Selector: "uid:" + u.GetUserId(), TenantId: "acme"},
		{Selector: "loginName:alice", TenantCode: "acme-code"},
		{Selector: "username:alice", TenantId: "acme"},
		{Selector: "email:alice@acme.example", TenantId: "acme"},
		{Selector: "mobile:+100", TenantId: "acme"},
	} {
		resp, err := e.internal.ResolveUser(ctx, req)
		if err != nil || resp.GetUser().GetUserId() != u.GetUserId() || resp.GetTenantCode() != "acme-code" || resp.GetUser().Password != nil {
			t.Fatalf("ResolveUser(%v) = %v, %v", req, resp, err)
		}
	}
	_, err := e.internal.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "loginName:bob", TenantId: "acme"})
	wantCode(t, err, codes.NotFound)
	_, err = e.internal.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "loginName:alice", TenantId: "default"})
	wantCode(t, err, codes.NotFound)
	_, err = e.internal.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "loginName:alice", TenantId: "ghost"})
	wantCode(t, err, codes.NotFound)
	_, err = e.internal.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "loginName:off", TenantId: "acme"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = e.internal.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "nick:alice", TenantId: "acme"})
	wantField(t, err, "sudo")
	_, err = e.internal.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: "loginName:alice"})
	wantField(t, err, "tenantId")
}

func TestTenants(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokSystem)
	resp, err := e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{Code: "globex", Name: "Globex"}})
	if err != nil || resp.GetTenant().GetTenantId() == "" || resp.GetTenant().GetCreateTime() == nil {
		t.Fatalf("CreateTenant = %v, %v", resp, err)
	}
	id := resp.GetTenant().GetTenantId()
	_, err = e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{Code: "globex"}})
	wantCode(t, err, codes.AlreadyExists)
	_, err = e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{TenantId: "acme", Code: "new"}})
	wantCode(t, err, codes.AlreadyExists)
	_, err = e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{Name: "no code"}})
	wantField(t, err, "code")
	_, err = e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{TenantId: "a b", Code: "x"}})
	wantField(t, err, "tenantId")
	_, err = e.tenants.CreateTenant(ctx, &registryv1.CreateTenantRequest{})
	wantField(t, err, "code")

	_, err = e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: id, Tenant: &registryv1.Tenant{Code: "acme-code"}})
	wantCode(t, err, codes.AlreadyExists)
	_, err = e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: id, Tenant: &registryv1.Tenant{TenantId: "other", Code: "x"}})
	wantField(t, err, "tenantId")
	up, err := e.tenants.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{TenantId: id, Tenant: &registryv1.Tenant{Code: "globex2", Name: "G"}})
	if err != nil || up.GetTenant().GetCode() != "globex2" {
		t.Fatalf("UpdateTenant = %v, %v", up, err)
	}
	list, err := e.tenants.ListTenants(ctx, &registryv1.ListTenantsRequest{PageSize: 2})
	if err != nil || len(list.GetItems()) != 2 || list.GetNextPageToken() == "" {
		t.Fatalf("ListTenants = %v, %v", list, err)
	}

	_, err = e.tenants.DeleteTenant(ctx, &registryv1.DeleteTenantRequest{TenantId: access.SystemTenant})
	wantCode(t, err, codes.FailedPrecondition)
	e.createClient(t, id, "g1")
	e.createUser(t, id, &registryv1.User{LoginName: "u"})
	if _, err := e.tenants.DeleteTenant(ctx, &registryv1.DeleteTenantRequest{TenantId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetClient(t.Context(), "g1"); err == nil {
		t.Fatal("client survived its tenant")
	}
	_, err = e.tenants.DeleteTenant(ctx, &registryv1.DeleteTenantRequest{TenantId: id})
	wantCode(t, err, codes.NotFound)
}

func TestAuthenticateUser(t *testing.T) {
	e := newEnv(t)
	pw := "correct horse battery"
	u := e.createUser(t, "acme", &registryv1.User{LoginName: "Alice", Email: "alice@acme.example", Password: &pw})
	e.createUser(t, "acme", &registryv1.User{LoginName: "off", Password: &pw, Disabled: true})
	e.createUser(t, "acme", &registryv1.User{LoginName: "nopw"})
	ctx := t.Context()
	for _, login := range []string{"alice", "ALICE", "alice@acme.example"} {
		resp, err := e.internal.AuthenticateUser(ctx, &registryv1.AuthenticateUserRequest{TenantId: "acme", Login: login, Password: pw})
		if err != nil || resp.GetUser().GetUserId() != u.GetUserId() || resp.GetUser().Password != nil {
			t.Fatalf("AuthenticateUser(%s) = %v, %v", login, resp, err)
		}
	}
	for _, req := range []*registryv1.AuthenticateUserRequest{
		{TenantId: "acme", Login: "alice", Password: "wrong password"},
		{TenantId: "acme", Login: "bob", Password: pw},
		{TenantId: "default", Login: "alice", Password: pw}, // users of another tenant
		{TenantId: "acme", Login: "nopw", Password: pw},
		{TenantId: "acme", Login: "", Password: pw},
		{TenantId: "acme", Login: "alice", Password: ""},
		{TenantId: "acme", Login: "off", Password: "wrong password"},
	} {
		_, err := e.internal.AuthenticateUser(ctx, req)
		wantCode(t, err, codes.Unauthenticated)
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Fatal("the error shows the password")
		}
	}
	_, err := e.internal.AuthenticateUser(ctx, &registryv1.AuthenticateUserRequest{TenantId: "acme", Login: "off", Password: pw})
	wantCode(t, err, codes.PermissionDenied)
	_, err = e.internal.AuthenticateUser(ctx, &registryv1.AuthenticateUserRequest{Login: "alice", Password: pw})
	wantField(t, err, "tenantId")
	_, err = e.noCred.AuthenticateUser(ctx, &registryv1.AuthenticateUserRequest{TenantId: "acme", Login: "alice", Password: pw})
	wantCode(t, err, codes.PermissionDenied) // internal API without the internal credential
	if strings.Contains(e.logs.String(), pw) {
		t.Fatal("a log shows the password")
	}
}
