package audit_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/audit"
)

// adminOf is the principal of a client token with scope adminapi in tenant: an admin of that tenant.
func adminOf(t *testing.T, tenant string) access.Principal {
	t.Helper()
	p, err := access.Resolve(context.Background(), nil, access.Token{ClientID: "admin-" + tenant, TenantID: tenant, Scopes: []string{access.ScopeAdminAPI}}, access.SudoRequest{})
	if err != nil || !p.Admin() {
		t.Fatalf("principal of %s: %+v, %v", tenant, p, err)
	}
	return p
}

// TestInterceptorRecordsActions runs a CreateClient through the interceptor as the registry would (the
// handler resolving its caller with bearer.Resolve, which notes the actor) and checks the event.
func TestInterceptorRecordsActions(t *testing.T) {
	log := audit.NewMemoryLog(0)
	rec := audit.NewRecorder(audit.Options{Service: "registry", Log: log})
	ic := audit.NewInterceptor()
	ic.Add(rec)
	unary := ic.UnaryServerInterceptor()
	sys := adminOf(t, access.SystemTenant)
	call := func(method string, req any, resp any, err error) {
		_, _ = unary(context.Background(), req, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			audit.NoteActor(ctx, sys)
			return resp, err
		})
	}
	call("/authsuite.registry.v1.ClientService/CreateClient",
		&registryv1.CreateClientRequest{TenantId: "t1", Client: &registryv1.Client{ClientId: "web", ClientName: "Web"}},
		&registryv1.CreateClientResponse{Client: &registryv1.Client{ClientId: "web"}}, nil)
	call("/authsuite.registry.v1.ClientService/CreateClientSecret",
		&registryv1.CreateClientSecretRequest{TenantId: "t1", ClientId: "web"},
		&registryv1.CreateClientSecretResponse{Secret: &registryv1.ClientSecret{SecretId: "s9", Value: new("the-secret-value")}}, nil)
	call("/authsuite.registry.v1.UserService/UpdateUser",
		&registryv1.UpdateUserRequest{TenantId: "t1", UserId: "u1", User: &registryv1.User{Disabled: true}}, nil,
		apistatus.ToStatus(apierror.Invalid("email", "bad")))
	call("/authsuite.registry.v1.UserService/UpdateUser",
		&registryv1.UpdateUserRequest{TenantId: "t1", UserId: "u2", User: &registryv1.User{Password: new("new-password-1")}}, nil, nil)
	call("/authsuite.token.v1.SigningKeyService/RotateSigningKey", &tokenv1.RotateSigningKeyRequest{}, nil, nil)
	call("/authsuite.registry.v1.ClientService/GetClient", &registryv1.GetClientRequest{TenantId: "t1", ClientId: "web"}, nil, nil)
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	items, _, _ := log.List(context.Background(), audit.Query{})
	if len(items) != 4 {
		t.Fatalf("%d events, want 4 (reads are not recorded, nor a service's without a recorder): %+v", len(items), items)
	}
	created, secret, disabled, password := items[3], items[2], items[1], items[0]
	if password.Event != "user_password_set" || password.Target.ID != "u2" {
		t.Errorf("user_password_set: %+v", password)
	}
	if created.Event != "client_created" || created.TenantID != "t1" || created.Target != (audit.Target{Kind: "client", ID: "web"}) ||
		created.Actor != (audit.Actor{ClientID: "admin-default", ActingFor: "default"}) || created.Outcome != audit.OutcomeSuccess {
		t.Errorf("client_created: %+v", created)
	}
	if secret.Event != "secret_created" || secret.Target.ID != "s9" {
		t.Errorf("secret_created: %+v", secret)
	}
	if disabled.Event != "user_disabled" || disabled.Outcome != audit.OutcomeFailure || disabled.Reason != codes.InvalidArgument.String() || disabled.Target.ID != "u1" {
		t.Errorf("user_disabled: %+v", disabled)
	}
}

func TestServerAuthorization(t *testing.T) {
	log := audit.NewMemoryLog(0)
	ctx := context.Background()
	_ = log.Append(ctx, []audit.Event{
		{ID: "01", Time: testNow, Service: "registry", Event: "client_created", TenantID: "t1"},
		{ID: "02", Time: testNow, Service: "registry", Event: "client_created", TenantID: "t2"},
	}, testNow)
	var caller access.Principal
	srv := audit.NewServer(map[string]audit.Log{"registry": log}, func(context.Context) (access.Principal, error) {
		if caller.Caller.ClientID == "" {
			return caller, apierror.Unauthenticated("no token")
		}
		return caller, nil
	})
	list := func(tenant string) ([]string, error) {
		resp, err := srv.ListAuditEvents(ctx, &opsv1.ListAuditEventsRequest{Service: "registry", TenantId: tenant})
		var ids []string
		for _, e := range resp.GetItems() {
			ids = append(ids, e.GetTenantId())
		}
		return ids, err
	}
	code := func(err error) codes.Code { return status.Code(apistatus.ToStatus(err)) }

	if _, err := list(""); code(err) != codes.Unauthenticated {
		t.Errorf("no caller: %v", err)
	}
	caller = adminOf(t, access.SystemTenant)
	if got, err := list(""); err != nil || len(got) != 2 {
		t.Errorf("system admin, every tenant: %v, %v", got, err)
	}
	caller = adminOf(t, "t1")
	if got, err := list("t1"); err != nil || len(got) != 1 || got[0] != "t1" {
		t.Errorf("t1 admin, t1: %v, %v", got, err)
	}
	for _, other := range []string{"", "t2"} {
		if got, err := list(other); code(err) != codes.PermissionDenied {
			t.Errorf("t1 admin asking for %q: %v, %v, want PERMISSION_DENIED", other, got, err)
		}
	}
	if _, err := srv.ListAuditEvents(ctx, &opsv1.ListAuditEventsRequest{Service: "token", TenantId: "t1"}); code(err) != codes.InvalidArgument {
		t.Errorf("a service this process does not run: %v", err)
	}
	if _, err := srv.ListAuditEvents(ctx, &opsv1.ListAuditEventsRequest{Service: "registry", TenantId: "t1", PageToken: "junk"}); code(err) != codes.InvalidArgument {
		t.Errorf("a bad page token: %v", err)
	}
	var r audit.Router
	if err := r.Invoke(ctx, opsv1.AuditService_ListAuditEvents_FullMethodName, &opsv1.ListAuditEventsRequest{Service: "nope"}, nil); !errors.As(err, new(*apierror.FieldError)) {
		t.Errorf("router, unknown service: %v", err)
	}
}
