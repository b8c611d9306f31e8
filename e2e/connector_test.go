package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConnectorAgainstOwnTokenService is the provider service's round trip with no internet: an odata
// provider whose AUTH_URL, TOKEN_URL, REFRESH_URL and VALIDATE_URL point at authsuite's own token service
// (a client registered there), a user who signs in through the login page, the return at
// /Thingworx/Oauths/oauth/return, then get, expire, refresh and revoke the connector's token.
func TestConnectorAgainstOwnTokenService(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	base := s.base
	returnURL := base + "/Thingworx/Oauths/oauth/return"

	// The integration platform's client at "the provider" (authsuite itself): access tokens live 1 s.
	tenantPath := "/api/adminapi2/v1/tenants/" + f.tenantID
	expect(t, "flow client", s.call("POST", tenantPath+"/clients/", f.adminToken, map[string]any{
		"clientId": "flow", "allowedGrantTypes": []string{"authorization_code", "refresh_token"}, "allowOfflineAccess": true,
		"allowedScopes": []string{"openid", "profile", "offline_access"}, "redirectUris": []string{returnURL},
		"accessTokenLifetime": 1,
	}), 201)
	flowSecret := expect(t, "flow secret", s.call("POST", tenantPath+"/clients/flow/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	eventually(t, 2*time.Second, "flow known", func() bool {
		return s.form("/connect/token", "grant_type=authorization_code&code=x&redirect_uri=x", "flow", flowSecret).status == 400
	})

	// Load the provider with the seed's odata keys, pointed at authsuite.
	cfg := map[string]any{"oauthConfigurations": map[string]any{"odata": map[string]any{"authsuite": map[string]any{
		"CLIENT_ID": "flow", "CLIENT_SECRET": flowSecret,
		"AUTH_URL": base + "/connect/authorize", "TOKEN_URL": base + "/connect/token",
		"REFRESH_URL": base + "/connect/token", "VALIDATE_URL": base + "/connect/userinfo",
		"oauth2_validate_headers": []string{`{"Authorization":"Bearer {access_token}"}`},
		"oauth2_params_scope":     []string{`{"OPENID":"openid"}`, `{"PROFILE":"profile"}`, `{"OFFLINE":"offline_access"}`},
	}}}}
	expect(t, "load", s.call("POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration", f.adminToken, cfg), 200)

	// Alice, signed in to authsuite (password grant of the fixture's legacy client), starts a connector.
	alice := expect(t, "alice token", s.form("/connect/token", "grant_type=password&scope=openid&username=alice&password="+alicePassword,
		"legacy", f.ropcSecret), 200)["access_token"].(string)
	con := expect(t, "start connector", s.call("POST", "/api/provider/v1/connectors", alice, map[string]any{
		"connectorType": "odata", "oauthProvider": "authsuite", "kind": "session",
	}), 201)
	id, authURL := con["connectorId"].(string), con["authorizationUrl"].(string)
	if con["status"] != "pending" || !strings.HasPrefix(authURL, base+"/connect/authorize?") {
		t.Fatalf("connector %v", con)
	}
	q, _ := url.Parse(authURL)
	if q.Query().Get("state") == "" || q.Query().Get("code_challenge_method") != "S256" {
		t.Fatalf("authorization URL lacks state or PKCE: %s", authURL)
	}

	// Her browser signs in at the provider and comes back to the return URL.
	b := newBrowser(t)
	back := b.login(base, b.get(authURL), "alice", alicePassword)
	if back.status != 302 && back.status != 303 || !strings.HasPrefix(back.location, returnURL+"?") {
		t.Fatalf("after login: %d %q %s", back.status, back.location, back.body)
	}
	done := b.get(back.location)
	if done.status != 200 {
		t.Fatalf("return URL answered %d: %s", done.status, done.body)
	}
	// A replayed return is refused and changes nothing.
	if again := b.get(back.location); again.status != 400 {
		t.Fatalf("replayed return answered %d", again.status)
	}
	got := expect(t, "connector", s.call("GET", "/api/provider/v1/connectors/"+id, alice, nil), 200)
	if got["status"] != "active" {
		t.Fatalf("connector after return: %v", got)
	}

	// The current access token is one authsuite issued to flow for alice.
	first := expect(t, "token", s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}), 200)
	firstToken := first["access_token"].(string)
	in := expect(t, "introspect", s.form("/connect/introspect", "token="+url.QueryEscape(firstToken), "flow", flowSecret), 200)
	if in["active"] != true || in["sub"] != f.aliceID || in["client_id"] != "flow" {
		t.Fatalf("connector token introspects as %v", in)
	}

	// It expires after a second; the next request refreshes it at REFRESH_URL.
	eventually(t, 5*time.Second, "refreshed token", func() bool {
		r := expect(t, "token", s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}), 200)
		return r["access_token"] != firstToken
	})
	second := expect(t, "token", s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}), 200)["access_token"].(string)
	if second == firstToken {
		t.Fatal("no refresh happened")
	}

	// Revoke: DeleteOAuthTokens drops alice's grant; the connector no longer hands out tokens.
	expect(t, "delete tokens", s.call("POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens", f.adminToken,
		map[string]any{"oauthProvider": "authsuite", "userName": f.aliceID}), 200)
	if r := s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}); r.status == 200 {
		t.Fatalf("token after DeleteOAuthTokens: %s", r.body)
	}
	// The provider is still in use by the (revoked) connector, so it cannot be deleted.
	expect(t, "delete provider in use", s.call("POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", f.adminToken,
		map[string]any{"connectorName": "odata", "oauthProvider": "authsuite"}), 400)
}
