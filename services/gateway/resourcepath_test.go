package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestResourcePath(t *testing.T) {
	for _, tt := range []struct{ target, path, id string }{
		{"/api/adminapi2/v1/tenants/acme/resources/https%3A%2F%2Forders.internal", "/api/adminapi2/v1/tenants/acme/resources/-", "https://orders.internal"},
		{"/api/adminapi2/v2/tenants/acme/resources/https%3A%2F%2Forders.internal/", "/api/adminapi2/v1/tenants/acme/resources/-", "https://orders.internal"},
		{"/api/adminapi2/v1/tenants/acme/resources/https%3a%2f%2fx%2Fa%252Fb", "/api/adminapi2/v1/tenants/acme/resources/-", "https://x/a%2Fb"},
		{"/api/adminapi2/v1/tenants/acme/resources/urn:authsuite:orders", "/api/adminapi2/v1/tenants/acme/resources/-", "urn:authsuite:orders"},
		{"/api/adminapi2/v1/tenants/acme/resources/https%3A%2F%2Fx%2F", "/api/adminapi2/v1/tenants/acme/resources/-", "https://x/"},
		{"/api/adminapi2/v1/tenants/acme/resources/", "/api/adminapi2/v1/tenants/acme/resources/", ""},
		{"/api/adminapi2/v1/tenants/acme/resources", "/api/adminapi2/v1/tenants/acme/resources", ""},
		{"/api/adminapi2/v1/tenants/acme/resources/https:/x/y", "/api/adminapi2/v1/tenants/acme/resources/https:/x/y", ""},
		{"/api/adminapi2/v1/tenants/acme/clients/https%3A%2F%2Fx", "/api/adminapi2/v1/tenants/acme/clients/https://x", ""},
		{"/api/adminapi2/v1/tenants/a%2Fb/resources/x", "/api/adminapi2/v1/tenants/a/b/resources/x", ""},
	} {
		r := resourcePath(httptest.NewRequest(http.MethodGet, tt.target, nil))
		id, ok := r.Context().Value(resourceIDKey{}).(string)
		if r.URL.Path != tt.path || id != tt.id || ok != (tt.id != "") {
			t.Errorf("%s: path %q, id %q (%v); want %q, %q", tt.target, r.URL.Path, id, ok, tt.path, tt.id)
		}
	}
}

// FuzzResourcePath: any resource indicator, percent-encoded into the path as a client does
// (url.PathEscape), reaches the handler exactly as it was, and the path routed names the placeholder.
func FuzzResourcePath(f *testing.F) {
	for _, s := range []string{"https://orders.internal", "urn:a:b", "https://x/a%2Fb", "https://x/", "-", "a b", "%", "é"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, id string, v2 bool) {
		if id == "" {
			return
		}
		base := "/api/adminapi2/v1/"
		if v2 {
			base = "/api/adminapi2/v2/"
		}
		u, err := url.Parse(base + "tenants/acme/resources/" + url.PathEscape(id))
		if err != nil {
			t.Fatalf("client URL: %v", err)
		}
		r := resourcePath(&http.Request{URL: u, Header: http.Header{}})
		got, _ := r.Context().Value(resourceIDKey{}).(string)
		if got != id || r.URL.Path != "/api/adminapi2/v1/tenants/acme/resources/-" || strings.Contains(r.URL.RawPath, "%") {
			t.Fatalf("%q: routed %q, id %q", id, r.URL.Path, got)
		}
	})
}
