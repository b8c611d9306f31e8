package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// apiResource is an API resource as the admin API answers it, with the JSON types the reference documents:
// the lifetime a number (absent when the client's applies), the times RFC 3339 strings.
type apiResource struct {
	ResourceID          string    `json:"resourceId"`
	TenantID            string    `json:"tenantId"`
	DisplayName         string    `json:"displayName"`
	Scopes              []string  `json:"scopes"`
	AccessTokenLifetime *int      `json:"accessTokenLifetime"`
	CreateTime          time.Time `json:"createTime"`
	UpdateTime          time.Time `json:"updateTime"`
}

type apiResourceList struct {
	Items         []apiResource `json:"items"`
	NextPageToken string        `json:"nextPageToken"`
}

// TestApiResources drives the API resource admin API over REST: create, get by the percent-encoded
// resource URI (also through /v2 and with a trailing slash), list, update, delete; a tenant administrator of
// another tenant is refused; bad input is answered 400 naming the field and changes nothing.
func TestApiResources(t *testing.T) {
	f := newFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID + "/resources/"
	one := base + url.PathEscape("https://orders.internal")

	r := decodeAs[apiResource](t, "create", s.call(http.MethodPost, base, f.adminToken, map[string]any{
		"resourceId": "https://orders.internal", "displayName": "Orders", "scopes": []string{"orders.read", "orders.write"}, "accessTokenLifetime": 300,
	}), http.StatusCreated)
	if r.ResourceID != "https://orders.internal" || r.TenantID != f.tenantID || r.AccessTokenLifetime == nil || *r.AccessTokenLifetime != 300 ||
		r.CreateTime.IsZero() || !r.UpdateTime.Equal(r.CreateTime) || len(r.Scopes) != 2 {
		t.Fatalf("created %+v", r)
	}
	decodeAs[apiError](t, "duplicate", s.call(http.MethodPost, base, f.adminToken, map[string]any{
		"resourceId": "HTTPS://Orders.Internal:443", "scopes": []string{"x"},
	}), http.StatusConflict)

	for _, path := range []string{
		one,
		one + "/",
		"/api/adminapi2/v2/tenants/" + f.tenantID + "/resources/" + url.PathEscape("https://orders.internal"),
		base + "https%3a%2f%2forders.internal",
	} {
		got := decodeAs[apiResource](t, "get "+path, s.call(http.MethodGet, path, f.adminToken, nil), http.StatusOK)
		if got.ResourceID != r.ResourceID || !got.CreateTime.Equal(r.CreateTime) {
			t.Fatalf("get %s: %+v", path, got)
		}
	}
	// A URI with a path and an encoded slash inside it is named exactly.
	odd := "https://api.example/v1/a%2Fb"
	decodeAs[apiResource](t, "create odd", s.call(http.MethodPost, base, f.adminToken, map[string]any{"resourceId": odd, "scopes": []string{"odd"}}), http.StatusCreated)
	if got := decodeAs[apiResource](t, "get odd", s.call(http.MethodGet, base+url.PathEscape(odd), f.adminToken, nil), http.StatusOK); got.ResourceID != odd {
		t.Fatalf("get odd: %+v", got)
	}
	decodeAs[apiError](t, "get the same URI decoded once more", s.call(http.MethodGet, base+url.PathEscape("https://api.example/v1/a/b"), f.adminToken, nil), http.StatusNotFound)

	list := decodeAs[apiResourceList](t, "list", s.call(http.MethodGet, base+"?pageSize=1", f.adminToken, nil), http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].ResourceID != odd || list.NextPageToken == "" {
		t.Fatalf("first page %+v", list)
	}
	list = decodeAs[apiResourceList](t, "list page 2", s.call(http.MethodGet, base+"?pageSize=1&pageToken="+url.QueryEscape(list.NextPageToken), f.adminToken, nil), http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].ResourceID != "https://orders.internal" || list.NextPageToken != "" {
		t.Fatalf("second page %+v", list)
	}

	// Update replaces the settings: the lifetime left out is the client's again.
	u := decodeAs[apiResource](t, "update", s.call(http.MethodPut, one, f.adminToken, map[string]any{
		"displayName": "Orders v2", "scopes": []string{"orders.read"},
	}), http.StatusOK)
	if u.DisplayName != "Orders v2" || u.AccessTokenLifetime != nil || len(u.Scopes) != 1 || !u.CreateTime.Equal(r.CreateTime) || !u.UpdateTime.After(r.CreateTime) && !u.UpdateTime.Equal(r.CreateTime) {
		t.Fatalf("updated %+v", u)
	}

	// Bad input: 400 naming the field, nothing changed.
	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"relative URI", map[string]any{"resourceId": "/orders", "scopes": []string{"a"}}, "resourceId"},
		{"fragment", map[string]any{"resourceId": "https://orders.internal#x", "scopes": []string{"a"}}, "resourceId"},
		{"reserved scope", map[string]any{"resourceId": "https://billing.internal", "scopes": []string{"openid"}}, "scopes[0]"},
		{"duplicate scope", map[string]any{"resourceId": "https://billing.internal", "scopes": []string{"a", "a"}}, "scopes[1]"},
		{"short lifetime", map[string]any{"resourceId": "https://billing.internal", "scopes": []string{"a"}, "accessTokenLifetime": 5}, "accessTokenLifetime"},
	} {
		e := decodeAs[apiError](t, tt.name, s.call(http.MethodPost, base, f.adminToken, tt.body), http.StatusBadRequest)
		if e.Field != tt.field || e.Error == "" {
			t.Fatalf("%s: %+v, want field %q", tt.name, e, tt.field)
		}
	}
	e := decodeAs[apiError](t, "bad update", s.call(http.MethodPut, one, f.adminToken, map[string]any{"scopes": []string{"sudo"}}), http.StatusBadRequest)
	if e.Field != "scopes[0]" {
		t.Fatalf("bad update: %+v", e)
	}
	if got := decodeAs[apiResource](t, "after bad update", s.call(http.MethodGet, one, f.adminToken, nil), http.StatusOK); got.DisplayName != "Orders v2" || len(got.Scopes) != 1 {
		t.Fatalf("a refused update changed %+v", got)
	}
	if all := decodeAs[apiResourceList](t, "list after bad input", s.call(http.MethodGet, base, f.adminToken, nil), http.StatusOK); len(all.Items) != 2 {
		t.Fatalf("refused creates left %+v", all.Items)
	}

	// billing administers acme (adminapi in its own tenant) and nothing else.
	acmeAdmin := clientToken(t, s, "billing", f.secret, "adminapi")
	decodeAs[apiResourceList](t, "tenant admin lists own tenant", s.call(http.MethodGet, base, acmeAdmin, nil), http.StatusOK)
	other := decodeAs[map[string]any](t, "tenant", s.call(http.MethodPost, "/api/adminapi2/v1/tenants", f.adminToken, map[string]any{"code": "globex"}), http.StatusCreated)["tenantId"].(string)
	otherBase := "/api/adminapi2/v1/tenants/" + other + "/resources/"
	decodeAs[apiResource](t, "create in globex", s.call(http.MethodPost, otherBase, f.adminToken, map[string]any{"resourceId": "https://orders.internal", "scopes": []string{"orders.read"}}), http.StatusCreated)
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, otherBase, nil},
		{http.MethodGet, otherBase + url.PathEscape("https://orders.internal"), nil},
		{http.MethodPost, otherBase, map[string]any{"resourceId": "https://evil.internal", "scopes": []string{"x"}}},
		{http.MethodPut, otherBase + url.PathEscape("https://orders.internal"), map[string]any{"scopes": []string{"x"}}},
		{http.MethodDelete, otherBase + url.PathEscape("https://orders.internal"), nil},
	} {
		decodeAs[apiError](t, "tenant admin in another tenant: "+call.method+" "+call.path, s.call(call.method, call.path, acmeAdmin, call.body), http.StatusForbidden)
	}
	if got := decodeAs[apiResource](t, "globex resource", s.call(http.MethodGet, otherBase+url.PathEscape("https://orders.internal"), f.adminToken, nil), http.StatusOK); len(got.Scopes) != 1 || got.Scopes[0] != "orders.read" {
		t.Fatalf("globex resource changed: %+v", got)
	}
	decodeAs[apiError](t, "no token", s.call(http.MethodGet, base, "", nil), http.StatusUnauthorized)

	// Delete, through /v2 with a trailing slash.
	expect(t, "delete", s.call(http.MethodDelete, "/api/adminapi2/v2/tenants/"+f.tenantID+"/resources/"+url.PathEscape("https://orders.internal")+"/", f.adminToken, nil), http.StatusOK)
	decodeAs[apiError](t, "get deleted", s.call(http.MethodGet, one, f.adminToken, nil), http.StatusNotFound)
	decodeAs[apiError](t, "delete again", s.call(http.MethodDelete, one, f.adminToken, nil), http.StatusNotFound)

	// Deleting the tenant takes its resources with it.
	expect(t, "delete tenant", s.call(http.MethodDelete, "/api/adminapi2/v1/tenants/"+other, f.adminToken, nil), http.StatusOK)
	decodeAs[apiError](t, "resources of a deleted tenant", s.call(http.MethodGet, otherBase, f.adminToken, nil), http.StatusNotFound)
}
