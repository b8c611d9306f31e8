package registry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
)

func validResource() ApiResource {
	return ApiResource{ID: "https://orders.internal", DisplayName: "Orders", Scopes: []string{"orders.read", "orders.write"}}
}

func TestValidateApiResource(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*ApiResource)
		field string // "" = valid
	}{
		{"valid", func(*ApiResource) {}, ""},
		{"path", func(r *ApiResource) { r.ID = "https://api.example.com/orders/v1" }, ""},
		{"port", func(r *ApiResource) { r.ID = "https://orders.internal:8443" }, ""},
		{"urn", func(r *ApiResource) { r.ID = "urn:authsuite:orders" }, ""},
		{"ipv6", func(r *ApiResource) { r.ID = "http://[::1]:8080" }, ""},
		{"lifetime min", func(r *ApiResource) { r.AccessTokenLifetime = time.Minute }, ""},
		{"lifetime max", func(r *ApiResource) { r.AccessTokenLifetime = 24 * time.Hour }, ""},
		{"empty id", func(r *ApiResource) { r.ID = "" }, "resourceId"},
		{"relative", func(r *ApiResource) { r.ID = "/orders" }, "resourceId"},
		{"no scheme", func(r *ApiResource) { r.ID = "orders.internal" }, "resourceId"},
		{"fragment", func(r *ApiResource) { r.ID = "https://orders.internal#x" }, "resourceId"},
		{"empty fragment", func(r *ApiResource) { r.ID = "https://orders.internal#" }, "resourceId"},
		{"query", func(r *ApiResource) { r.ID = "https://orders.internal?a=1" }, "resourceId"},
		{"userinfo", func(r *ApiResource) { r.ID = "https://u@orders.internal" }, "resourceId"},
		{"https without host", func(r *ApiResource) { r.ID = "https:orders" }, "resourceId"},
		{"empty host", func(r *ApiResource) { r.ID = "https:///orders" }, "resourceId"},
		{"uppercase host", func(r *ApiResource) { r.ID = "https://Orders.internal" }, "resourceId"},
		{"default port", func(r *ApiResource) { r.ID = "https://orders.internal:443" }, "resourceId"},
		{"space", func(r *ApiResource) { r.ID = "https://orders.internal/a b" }, "resourceId"},
		{"bad escape", func(r *ApiResource) { r.ID = "https://orders.internal/%zz" }, "resourceId"},
		{"non-ascii", func(r *ApiResource) { r.ID = "https://bücher.example" }, "resourceId"},
		{"too long", func(r *ApiResource) { r.ID = "https://o.internal/" + strings.Repeat("a", MaxResourceIDLen) }, "resourceId"},
		{"scheme only", func(r *ApiResource) { r.ID = "urn:" }, "resourceId"},
		{"display name", func(r *ApiResource) { r.DisplayName = strings.Repeat("x", 201) }, "displayName"},
		{"display control", func(r *ApiResource) { r.DisplayName = "a\nb" }, "displayName"},
		{"no scopes", func(r *ApiResource) { r.Scopes = nil }, "scopes"},
		{"too many scopes", func(r *ApiResource) {
			r.Scopes = nil
			for i := range MaxResourceScopes + 1 {
				r.Scopes = append(r.Scopes, "s"+strings.Repeat("x", i))
			}
		}, "scopes"},
		{"reserved", func(r *ApiResource) { r.Scopes = []string{"orders.read", "openid"} }, "scopes[1]"},
		{"reserved sudo", func(r *ApiResource) { r.Scopes = []string{"sudo"} }, "scopes[0]"},
		{"duplicate", func(r *ApiResource) { r.Scopes = []string{"a", "b", "a"} }, "scopes[2]"},
		{"bad scope", func(r *ApiResource) { r.Scopes = []string{"a b"} }, "scopes[0]"},
		{"long scope", func(r *ApiResource) { r.Scopes = []string{strings.Repeat("s", MaxResourceScopeLen+1)} }, "scopes[0]"},
		{"lifetime short", func(r *ApiResource) { r.AccessTokenLifetime = 59 * time.Second }, "accessTokenLifetime"},
		{"lifetime long", func(r *ApiResource) { r.AccessTokenLifetime = 86401 * time.Second }, "accessTokenLifetime"},
		{"lifetime fraction", func(r *ApiResource) { r.AccessTokenLifetime = 90*time.Second + time.Millisecond }, "accessTokenLifetime"},
		{"lifetime negative", func(r *ApiResource) { r.AccessTokenLifetime = -time.Minute }, "accessTokenLifetime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validResource()
			tt.edit(&r)
			err := ValidateApiResource(r)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ValidateApiResource: %v", err)
				}
				return
			}
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("ValidateApiResource = %v, want a field error naming %q", err, tt.field)
			}
		})
	}
}

func TestNormalizeResourceID(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Orders.Internal:443/V1": "https://orders.internal/V1",
		"http://ORDERS:80":               "http://orders",
		"https://orders:":                "https://orders",
		"https://orders:8443":            "https://orders:8443",
		"http://orders:443":              "http://orders:443",
		"URN:Authsuite:Orders":           "urn:Authsuite:Orders",
		"https://orders#frag":            "https://orders#frag", // invalid whatever the case: unchanged
		"relative/path":                  "relative/path",
		"https://orders.internal":        "https://orders.internal",
	} {
		if got := NormalizeResourceID(in); got != want {
			t.Errorf("NormalizeResourceID(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzValidateApiResource: validation never panics, and every refusal names one of the resource's fields.
func FuzzValidateApiResource(f *testing.F) {
	f.Add("https://orders.internal", "Orders", "orders.read orders.write", int64(300))
	f.Add("https://orders.internal", "", "openid", int64(0))
	f.Add("urn:x", "\x00", "a a", int64(-1))
	f.Fuzz(func(t *testing.T, id, name, scopes string, lifetime int64) {
		r := ApiResource{ID: id, DisplayName: name, Scopes: strings.Split(scopes, " "), AccessTokenLifetime: time.Duration(lifetime) * time.Second}
		err := ValidateApiResource(r)
		if err == nil {
			if IsReservedScope(r.Scopes[0]) || len(r.Scopes) > MaxResourceScopes || ValidateResourceID("", id) != nil {
				t.Fatalf("accepted %+v", r)
			}
			return
		}
		var fe *apierror.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("not a field error: %v", err)
		}
		if f := fe.Field; f != "resourceId" && f != "displayName" && f != "scopes" && !strings.HasPrefix(f, "scopes[") && f != "accessTokenLifetime" {
			t.Fatalf("error names %q", f)
		}
	})
}
