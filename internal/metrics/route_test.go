package metrics

import "testing"

func TestRouteOf(t *testing.T) {
	const (
		secret    = "/api/adminapi2/v1/tenants/{tenantId}/clients/{clientId}/secrets/{secretId}"
		connToken = "/api/provider/v1/connectors/{connectorId}/token"
	)
	tests := []struct{ path, want string }{
		// Static endpoints.
		{"/connect/token", "/connect/token"},
		{"/connect/token/", "/connect/token"},
		{"/connect/introspect", "/connect/introspect"},
		{"/connect/revocation", "/connect/revocation"},
		{"/connect/authorize", "/connect/authorize"},
		{"/connect/userinfo", "/connect/userinfo"},
		{"/connect/endsession", "/connect/endsession"},
		{"/connect/unknown", "other"},
		{"/connect", "other"},
		{"/api/oauth2/server/tokens", "/api/oauth2/server/tokens"},
		{"/api/oauth2/server/tokens/check", "/api/oauth2/server/tokens/check"},
		{"/api/oauth2/server/tokens/revoke/", "/api/oauth2/server/tokens/revoke"},
		{"/api/oauth2/server/tokens/abc", "other"},
		{"/.well-known/openid-configuration", "/.well-known/openid-configuration"},
		{"/.well-known/openid-configuration/jwks", "/.well-known/openid-configuration/jwks"},
		{"/.well-known/other", "other"},
		{"/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration", "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration"},
		{"/Thingworx/Subsystems/WorkflowSubsystem/Services/GetOAuthConfiguration", "/Thingworx/Subsystems/WorkflowSubsystem/Services/GetOAuthConfiguration"},
		{"/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration"},
		{"/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens"},
		{"/Thingworx/Subsystems/WorkflowSubsystem/Services/Anything", "other"},
		{"/Thingworx/Oauths/oauth/return", "/Thingworx/Oauths/oauth/return"},
		{"/healthz", "/healthz"},
		{"/readyz", "/readyz"},
		{"/metrics", "/metrics"},
		{"/openapi.json", "/openapi.json"},

		// Admin API: ids become parameters, v2 and trailing slashes fold onto v1.
		{"/api/adminapi2/v1/tenants", "/api/adminapi2/v1/tenants"},
		{"/api/adminapi2/v2/tenants/", "/api/adminapi2/v1/tenants"},
		{"/api/adminapi2/v1/tenants/acme", "/api/adminapi2/v1/tenants/{tenantId}"},
		{"/api/adminapi2/v1/tenants/acme/clients", "/api/adminapi2/v1/tenants/{tenantId}/clients"},
		{"/api/adminapi2/v1/tenants/acme/clients/", "/api/adminapi2/v1/tenants/{tenantId}/clients"},
		{"/api/adminapi2/v1/tenants/acme/clients/c1", "/api/adminapi2/v1/tenants/{tenantId}/clients/{clientId}"},
		{"/api/adminapi2/v1/tenants/acme/clients/c1/secrets", "/api/adminapi2/v1/tenants/{tenantId}/clients/{clientId}/secrets"},
		{"/api/adminapi2/v1/tenants/acme/clients/c1/secrets/s1", secret},
		{"/api/adminapi2/v2/tenants/acme/clients/c1/secrets/s1", secret},
		{"/api/adminapi2/v2/tenants/acme/clients/c1/secrets/s1//", secret},
		{"/api/adminapi2/v1/tenants/a%2Fb/clients/c%201/secrets/s%3F1", secret},
		{"/api/adminapi2/v1/tenants/acme/users", "/api/adminapi2/v1/tenants/{tenantId}/users"},
		{"/api/adminapi2/v2/tenants/acme/users/u-1/", "/api/adminapi2/v1/tenants/{tenantId}/users/{userId}"},
		{"/api/adminapi2/v1/tenants/acme/resources/", "/api/adminapi2/v1/tenants/{tenantId}/resources"},
		{"/api/adminapi2/v2/tenants/acme/resources/https%3A%2F%2Forders.internal", "/api/adminapi2/v1/tenants/{tenantId}/resources/{resourceId}"},
		{"/api/adminapi2/v1/tenants/acme/resources/urn:x:y/", "/api/adminapi2/v1/tenants/{tenantId}/resources/{resourceId}"},
		{"/api/adminapi2/v1/tenants/acme/sessions/", "/api/adminapi2/v1/tenants/{tenantId}/sessions"},
		{"/api/adminapi2/v1/tenants/acme/sessions/abc", "/api/adminapi2/v1/tenants/{tenantId}/sessions/{sid}"},
		{"/api/adminapi2/v1/signing-keys", "/api/adminapi2/v1/signing-keys"},
		{"/api/adminapi2/v2/signing-keys:rotate", "/api/adminapi2/v1/signing-keys:rotate"},
		{"/api/adminapi2/v1/audit/registry", "/api/adminapi2/v1/audit/{service}"},
		{"/api/adminapi2/v1/audit/anything-at-all/", "/api/adminapi2/v1/audit/{service}"},
		{"/api/adminapi2/v1/tenants//clients", "other"}, // an empty id is no id
		{"/api/adminapi2/v1/tenants/acme/clients/c1/secrets/s1/extra", "other"},
		{"/api/adminapi2/v1/tenants/acme/widgets", "other"},
		{"/api/adminapi2/v1", "other"},
		{"/api/adminapi2/v3/tenants", "other"},
		{"/api/adminapi2/v1tenants", "other"},

		// Provider API.
		{"/api/provider/v1/connectors", "/api/provider/v1/connectors"},
		{"/api/provider/v1/connectors/k1", "/api/provider/v1/connectors/{connectorId}"},
		{"/api/provider/v1/connectors/k1/token", connToken},
		{"/api/provider/v1/connectors/k%2F1/token/", connToken},
		{"/api/provider/v1/connectors/k1/secret", "other"},

		// Everything else.
		{"", "other"},
		{"/", "other"},
		{"//", "other"},
		{"/favicon.ico", "other"},
		{"/wp-admin/install.php", "other"},
		{"/HEALTHZ", "other"},
		{"healthz", "other"},
	}
	for _, tt := range tests {
		if got := RouteOf(tt.path); got != tt.want {
			t.Errorf("RouteOf(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestRouteOfDoesNotAllocate(t *testing.T) {
	for _, p := range []string{
		"/connect/token",
		"/api/adminapi2/v2/tenants/acme/clients/c1/secrets/s1/",
		"/api/provider/v1/connectors/k1/token",
		"/nothing/here",
	} {
		if n := testing.AllocsPerRun(100, func() { RouteOf(p) }); n != 0 {
			t.Errorf("RouteOf(%q): %v allocations", p, n)
		}
	}
}

func FuzzRouteOf(f *testing.F) {
	for _, p := range []string{"/connect/token", "/api/adminapi2/v2/tenants/a/clients/b/", "/api/provider/v1/connectors/x/token", "//"} {
		f.Add(p)
	}
	known := map[string]bool{routeOther: true}
	for _, r := range staticRoutes {
		known[r] = true
	}
	for _, ts := range [][]template{adminRoutes, providerRoutes} {
		for _, tpl := range ts {
			known[tpl.route] = true
		}
	}
	f.Fuzz(func(t *testing.T, path string) {
		if r := RouteOf(path); !known[r] {
			t.Fatalf("RouteOf(%q) = %q, not a fixed route", path, r)
		}
	})
}
