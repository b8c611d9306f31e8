package e2e

import (
	"net/url"
	"strings"
	"testing"
)

// TestPrefixRedirectRefusesDotSegmentForms (RFC 9700 §4.1.3, RFC 3986 §5.2.4): a client
// registered with redirectUriPrefixMatching gets the login page for a redirect_uri under its prefix, and an
// error page (never a redirect) for one that escapes the prefix through a matrix-parameter, double-encoded
// or NUL-padded dot-segment.
func TestPrefixRedirectRefusesDotSegmentForms(t *testing.T) {
	s := startSuite(t)
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme"}), 201)["tenantId"].(string)
	expect(t, "client", s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/", admin, map[string]any{
		"clientId": "prefixed", "requireClientSecret": false, "allowedGrantTypes": []string{"authorization_code"},
		"allowedScopes": []string{"openid"}, "redirectUris": []string{"https://app.example/cb/"}, "redirectUriPrefixMatching": true,
	}), 201)
	_, challenge := pkce()
	authorize := func(redirect string) page {
		q := url.Values{"response_type": {"code"}, "client_id": {"prefixed"}, "redirect_uri": {redirect}, "scope": {"openid"},
			"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		return newBrowser(t).get(s.base + "/connect/authorize?" + q.Encode())
	}
	s.sync() // the browser sends no barrier: wait until the token service has applied the client's creation
	if !authorize("https://app.example/cb/next").isLogin() {
		t.Fatal("a redirect URI under the registered prefix is not accepted")
	}
	for _, bad := range []string{
		"https://app.example/cb/..;/admin",
		"https://app.example/cb/..;jsessionid=1/admin",
		"https://app.example/cb/%252e%252e/admin",
		"https://app.example/cb/.%00./admin",
		"https://app.example/cb/%2e%2e%3b/admin",
	} {
		p := authorize(bad)
		if p.status != 400 || p.location != "" || strings.Contains(p.body, `id="login"`) {
			t.Errorf("redirect_uri %s: status %d, location %q; want an error page", bad, p.status, p.location)
		}
	}
}
