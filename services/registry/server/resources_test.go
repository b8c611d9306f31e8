package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/grpctest"
)

func resourceClient(t *testing.T, e *env) registryv1.ApiResourceServiceClient {
	t.Helper()
	return registryv1.NewApiResourceServiceClient(grpctest.Dial(t, e.addr, e.cred))
}

func ordersResource() *registryv1.ApiResource {
	return &registryv1.ApiResource{ResourceId: "https://orders.internal", DisplayName: "Orders", Scopes: []string{"orders.read", "orders.write"}}
}

func TestApiResourceCRUD(t *testing.T) {
	e := newEnv(t)
	rc := resourceClient(t, e)
	var hdr metadata.MD
	created, err := rc.CreateApiResource(as(tokAcme), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: ordersResource()}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if v := hdr.Get("authsuite-revision"); len(v) != 1 || !strings.HasPrefix(v[0], "registry:") {
		t.Fatalf("create answered revision %q", v)
	}
	r := created.GetResource()
	if r.GetTenantId() != "acme" || r.GetCreateTime() == nil || r.GetUpdateTime() == nil || r.AccessTokenLifetime != nil {
		t.Fatalf("created %v", r)
	}
	_, err = rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: ordersResource()})
	wantCode(t, err, codes.AlreadyExists)
	// Another spelling of the same URI is the same resource.
	dup := ordersResource()
	dup.ResourceId = "HTTPS://Orders.Internal:443"
	_, err = rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: dup})
	wantCode(t, err, codes.AlreadyExists)
	// Resource IDs are unique per tenant: the system tenant may have its own.
	if _, err := rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "default", Resource: ordersResource()}); err != nil {
		t.Fatal(err)
	}

	got, err := rc.GetApiResource(as(tokAcme), &registryv1.GetApiResourceRequest{TenantId: "acme", ResourceId: "https://ORDERS.internal"})
	if err != nil || !proto.Equal(got.GetResource(), r) {
		t.Fatalf("GetApiResource = %v, %v; want %v", got, err, r)
	}
	_, err = rc.GetApiResource(as(tokAcme), &registryv1.GetApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal/"})
	wantCode(t, err, codes.NotFound)
	_, err = rc.GetApiResource(as(tokAcme), &registryv1.GetApiResourceRequest{TenantId: "acme", ResourceId: "not a uri"})
	wantCode(t, err, codes.NotFound)

	// A tenant administrator acts in their own tenant only; a client without adminapi nowhere.
	_, err = rc.GetApiResource(as(tokAcme), &registryv1.GetApiResourceRequest{TenantId: "default", ResourceId: "https://orders.internal"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = rc.DeleteApiResource(as(tokAcme), &registryv1.DeleteApiResourceRequest{TenantId: "default", ResourceId: "https://orders.internal"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = rc.CreateApiResource(as(tokNoAdmin), &registryv1.CreateApiResourceRequest{TenantId: "default", Resource: ordersResource()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = rc.ListApiResources(as(""), &registryv1.ListApiResourcesRequest{TenantId: "acme"})
	wantCode(t, err, codes.Unauthenticated)

	upd := &registryv1.ApiResource{DisplayName: "Orders v2", Scopes: []string{"orders.read"}, AccessTokenLifetime: proto.Int32(300)}
	u, err := rc.UpdateApiResource(as(tokAcme), &registryv1.UpdateApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal", Resource: upd}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if v := hdr.Get("authsuite-revision"); len(v) != 1 {
		t.Fatalf("update answered revision %q", v)
	}
	if ur := u.GetResource(); ur.GetAccessTokenLifetime() != 300 || ur.GetDisplayName() != "Orders v2" || len(ur.GetScopes()) != 1 ||
		!ur.GetCreateTime().AsTime().Equal(r.GetCreateTime().AsTime()) || ur.GetResourceId() != "https://orders.internal" {
		t.Fatalf("updated %v", ur)
	}
	upd.ResourceId = "https://other.internal"
	_, err = rc.UpdateApiResource(as(tokAcme), &registryv1.UpdateApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal", Resource: upd})
	wantField(t, err, "resourceId")
	upd.ResourceId = ""
	_, err = rc.UpdateApiResource(as(tokAcme), &registryv1.UpdateApiResourceRequest{TenantId: "acme", ResourceId: "https://none.internal", Resource: upd})
	wantCode(t, err, codes.NotFound)

	list, err := rc.ListApiResources(as(tokAcme), &registryv1.ListApiResourcesRequest{TenantId: "acme"})
	if err != nil || len(list.GetItems()) != 1 || list.GetNextPageToken() != "" {
		t.Fatalf("ListApiResources = %v, %v", list, err)
	}
	_, err = rc.ListApiResources(as(tokSystem), &registryv1.ListApiResourcesRequest{TenantId: "ghost"})
	wantCode(t, err, codes.NotFound)

	if _, err := rc.DeleteApiResource(as(tokAcme), &registryv1.DeleteApiResourceRequest{TenantId: "acme", ResourceId: "https%3A%2F%2Forders.internal"}); err == nil {
		t.Fatal("a still percent-encoded path value named the resource")
	}
	if _, err := rc.DeleteApiResource(as(tokAcme), &registryv1.DeleteApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal"}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if v := hdr.Get("authsuite-revision"); len(v) != 1 {
		t.Fatalf("delete answered revision %q", v)
	}
	_, err = rc.DeleteApiResource(as(tokAcme), &registryv1.DeleteApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal"})
	wantCode(t, err, codes.NotFound)
	if _, err := rc.GetApiResource(as(tokSystem), &registryv1.GetApiResourceRequest{TenantId: "default", ResourceId: "https://orders.internal"}); err != nil {
		t.Fatalf("the other tenant's resource: %v", err)
	}
}

func TestApiResourceValidation(t *testing.T) {
	e := newEnv(t)
	rc := resourceClient(t, e)
	tests := []struct {
		name   string
		mutate func(r *registryv1.ApiResource)
		field  string
	}{
		{"relative", func(r *registryv1.ApiResource) { r.ResourceId = "/orders" }, "resourceId"},
		{"fragment", func(r *registryv1.ApiResource) { r.ResourceId = "https://orders.internal#a" }, "resourceId"},
		{"query", func(r *registryv1.ApiResource) { r.ResourceId = "https://orders.internal?a=b" }, "resourceId"},
		{"missing", func(r *registryv1.ApiResource) { r.ResourceId = "" }, "resourceId"},
		{"reserved scope", func(r *registryv1.ApiResource) { r.Scopes = []string{"orders.read", "openid"} }, "scopes[1]"},
		{"duplicate scope", func(r *registryv1.ApiResource) { r.Scopes = []string{"a", "a"} }, "scopes[1]"},
		{"no scopes", func(r *registryv1.ApiResource) { r.Scopes = nil }, "scopes"},
		{"lifetime zero", func(r *registryv1.ApiResource) { r.AccessTokenLifetime = proto.Int32(0) }, "accessTokenLifetime"},
		{"lifetime negative", func(r *registryv1.ApiResource) { r.AccessTokenLifetime = proto.Int32(-60) }, "accessTokenLifetime"},
		{"lifetime too long", func(r *registryv1.ApiResource) { r.AccessTokenLifetime = proto.Int32(86401) }, "accessTokenLifetime"},
		{"display name", func(r *registryv1.ApiResource) { r.DisplayName = "a\x00" }, "displayName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ordersResource()
			tt.mutate(r)
			_, err := rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: r})
			wantField(t, err, tt.field)
		})
	}
	_, err := rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme"})
	wantField(t, err, "resource")
	list, err := rc.ListApiResources(as(tokSystem), &registryv1.ListApiResourcesRequest{TenantId: "acme"})
	if err != nil || len(list.GetItems()) != 0 {
		t.Fatalf("refused creates left %v (%v)", list.GetItems(), err)
	}
	// A refused update changes nothing.
	if _, err := rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: ordersResource()}); err != nil {
		t.Fatal(err)
	}
	bad := ordersResource()
	bad.Scopes = []string{"sudo"}
	_, err = rc.UpdateApiResource(as(tokSystem), &registryv1.UpdateApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal", Resource: bad})
	wantField(t, err, "scopes[0]")
	got, err := rc.GetApiResource(as(tokSystem), &registryv1.GetApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal"})
	if err != nil || len(got.GetResource().GetScopes()) != 2 {
		t.Fatalf("after a refused update %v (%v)", got, err)
	}
}

func TestApiResourcePaging(t *testing.T) {
	e := newEnv(t)
	rc := resourceClient(t, e)
	for _, id := range []string{"https://c.internal", "https://a.internal", "urn:authsuite:b"} {
		r := ordersResource()
		r.ResourceId = id
		if _, err := rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: r}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	token := ""
	for range 4 {
		page, err := rc.ListApiResources(as(tokAcme), &registryv1.ListApiResourcesRequest{TenantId: "acme", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.GetItems() {
			got = append(got, r.GetResourceId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if strings.Join(got, " ") != "https://a.internal https://c.internal urn:authsuite:b" {
		t.Fatalf("pages listed %v", got)
	}
	_, err := rc.ListApiResources(as(tokAcme), &registryv1.ListApiResourcesRequest{TenantId: "acme", PageToken: "!!"})
	wantField(t, err, "pageToken")
}

// TestWatchResources: the client feed sends every API resource before synced, then each create, update and
// delete; a tenant delete is one tenant deletion event, which covers its resources.
func TestWatchResources(t *testing.T) {
	e := newEnv(t)
	rc := resourceClient(t, e)
	if _, err := rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: ordersResource()}); err != nil {
		t.Fatal(err)
	}
	next := watch(t, e)
	ev := next()
	if r := ev.GetResourceUpsert(); r.GetResourceId() != "https://orders.internal" || r.GetTenantId() != "acme" || len(r.GetScopes()) != 2 {
		t.Fatalf("snapshot event %v", ev)
	}
	if !next().GetSynced() {
		t.Fatal("no synced marker after the snapshot")
	}
	upd := ordersResource()
	upd.AccessTokenLifetime = proto.Int32(120)
	if _, err := rc.UpdateApiResource(as(tokSystem), &registryv1.UpdateApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal", Resource: upd}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetResourceUpsert().GetAccessTokenLifetime() != 120 {
		t.Fatalf("update event %v", ev)
	}
	if _, err := rc.DeleteApiResource(as(tokSystem), &registryv1.DeleteApiResourceRequest{TenantId: "acme", ResourceId: "https://orders.internal"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetDeletedResource().GetResourceId() != "https://orders.internal" || ev.GetDeletedResource().GetTenantId() != "acme" {
		t.Fatalf("delete event %v", ev)
	}
	if _, err := rc.CreateApiResource(as(tokSystem), &registryv1.CreateApiResourceRequest{TenantId: "acme", Resource: ordersResource()}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetResourceUpsert() == nil {
		t.Fatalf("create event %v", ev)
	}
	if _, err := e.tenants.DeleteTenant(as(tokSystem), &registryv1.DeleteTenantRequest{TenantId: "acme"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.GetDeletedTenantId() != "acme" {
		t.Fatalf("tenant delete event %v", ev)
	}
}
