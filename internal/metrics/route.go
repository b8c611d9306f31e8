package metrics

import "strings"

// routeOther is the route of every path that is not one of authsuite's endpoints.
const routeOther = "other"

// staticRoutes are the endpoints without path parameters; each is its own route.
var staticRoutes = func() map[string]string {
	m := map[string]string{}
	for _, p := range []string{
		// OAuth / OIDC (hand-written form endpoints and the sign-in flow).
		"/connect/token", "/connect/introspect", "/connect/revocation",
		"/connect/authorize", "/connect/userinfo", "/connect/endsession",
		// Discovery and keys.
		"/.well-known/openid-configuration", "/.well-known/openid-configuration/jwks",
		// Simple token API.
		"/api/oauth2/server/tokens", "/api/oauth2/server/tokens/check", "/api/oauth2/server/tokens/revoke",
		// Provider configuration services and the OAuth return page.
		"/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration",
		"/Thingworx/Subsystems/WorkflowSubsystem/Services/GetOAuthConfiguration",
		"/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration",
		"/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens",
		"/Thingworx/Oauths/oauth/return",
		// Operations.
		"/healthz", "/readyz", "/metrics", "/openapi.json",
	} {
		m[p] = p
	}
	return m
}()

const (
	adminPrefix    = "/api/adminapi2/v1"
	adminV2Prefix  = "/api/adminapi2/v2"
	providerPrefix = "/api/provider/v1"
)

// A template is a route below a prefix, written with {name} for one non-empty path segment.
type template struct {
	pattern string // below the prefix
	route   string // prefix + pattern
}

func templates(prefix string, patterns ...string) []template {
	ts := make([]template, len(patterns))
	for i, p := range patterns {
		ts[i] = template{pattern: p, route: prefix + p}
	}
	return ts
}

var (
	adminRoutes = templates(adminPrefix,
		"/tenants",
		"/tenants/{tenantId}",
		"/tenants/{tenantId}/clients",
		"/tenants/{tenantId}/clients/{clientId}",
		"/tenants/{tenantId}/clients/{clientId}/secrets",
		"/tenants/{tenantId}/clients/{clientId}/secrets/{secretId}",
		"/tenants/{tenantId}/users",
		"/tenants/{tenantId}/users/{userId}",
		"/tenants/{tenantId}/resources",
		"/tenants/{tenantId}/resources/{resourceId}",
		"/tenants/{tenantId}/sessions",
		"/tenants/{tenantId}/sessions/{sid}",
		"/signing-keys",
		"/signing-keys:rotate",
		"/audit/{service}",
	)
	providerRoutes = templates(providerPrefix,
		"/connectors",
		"/connectors/{connectorId}",
		"/connectors/{connectorId}/token",
	)
)

// RouteOf returns the route label of an HTTP request path: one of a fixed set of templates, never a raw id,
// so the label's cardinality is bounded whatever clients send. Path parameters become {tenantId},
// {clientId}, {secretId}, {userId}, {resourceId}, {sid}, {service} or {connectorId}; /api/adminapi2/v2/…
// folds onto its /v1 template and trailing slashes are ignored, as the gateway serves them. Pass the escaped path
// (URL.EscapedPath or RawPath) so an id holding an encoded slash (a resource URI) stays one segment. Any other
// path is "other".
//
// RouteOf does not allocate.
func RouteOf(path string) string {
	for len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	if r, ok := staticRoutes[path]; ok {
		return r
	}
	if rest, ok := strings.CutPrefix(path, adminPrefix); ok {
		return match(adminRoutes, rest)
	}
	if rest, ok := strings.CutPrefix(path, adminV2Prefix); ok {
		return match(adminRoutes, rest)
	}
	if rest, ok := strings.CutPrefix(path, providerPrefix); ok {
		return match(providerRoutes, rest)
	}
	return routeOther
}

// match returns the route of the first template whose pattern matches path, or routeOther.
func match(ts []template, path string) string {
	for _, t := range ts {
		if matches(t.pattern, path) {
			return t.route
		}
	}
	return routeOther
}

// matches reports whether path has pattern's segments, where {…} stands for any non-empty segment.
func matches(pattern, path string) bool {
	for pattern != "" {
		if path == "" || path[0] != '/' {
			return false
		}
		var want, got string
		want, pattern = cutSegment(pattern[1:]) // patterns start with '/'
		got, path = cutSegment(path[1:])
		if want[0] == '{' {
			if got == "" {
				return false
			}
		} else if want != got {
			return false
		}
	}
	return path == ""
}

// cutSegment splits s at its first '/': the segment before it and the rest from it.
func cutSegment(s string) (seg, rest string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}
