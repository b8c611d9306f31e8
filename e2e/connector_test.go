package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConnectorAgainstOwnTokenService is the provider service's round trip with no internet: an odata
// provider whose AUTH_URL, TOKEN_URL, REFRESH_URL and VALIDATE_URL point at authsuite's own token service
// (a client registered there), a user who signs in through the login page and starts the connector at
// authsuite's start URL, the return at
// /Thingworx/Oauths/oauth/return, then get, expire, refresh and revoke the connector's token.
func TestConnectorAgainstOwnTokenService(t *testing.T) {
	// The integration platform's client at "the provider" (authsuite itself): access tokens live 1 s.
	f := newConnectorFixture(t, 1)
	s := f.s
	base := s.base
	returnURL, flowSecret := f.returnURL, f.flowSecret

	// Alice, signed in to authsuite (password grant of the fixture's legacy client), creates a connector.
	alice := f.userToken(t, "alice", alicePassword)
	id, authURL := f.createConnector(t, alice, nil)
	if !strings.HasPrefix(authURL, base+"/api/provider/v1/connectors/"+id+"/start") {
		t.Fatalf("authorizationUrl %s is not authsuite's start URL", authURL)
	}

	// Her browser, signed in to authsuite, starts it: authsuite sends it to the provider with state and PKCE.
	b := newBrowser(t)
	f.signIn(t, b, "alice", alicePassword)
	start := b.get(authURL)
	if start.status != 303 || !strings.HasPrefix(start.location, base+"/connect/authorize?") {
		t.Fatalf("start: %d %q %s", start.status, start.location, start.body)
	}
	q, _ := url.Parse(start.location)
	if q.Query().Get("state") == "" || q.Query().Get("code_challenge_method") != "S256" {
		t.Fatalf("authorization request lacks state or PKCE: %s", start.location)
	}
	// The provider (authsuite, through the SSO session) sends it back to the return URL.
	back := b.get(start.location)
	if back.status != 302 && back.status != 303 || !strings.HasPrefix(back.location, returnURL+"?") {
		t.Fatalf("at the provider: %d %q %s", back.status, back.location, back.body)
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

	// The current access token is one authsuite issued to flow for alice. It lives one second, so on a busy
	// machine it may expire before it is introspected: then the next one (refreshed) is checked.
	var firstToken string
	eventually(t, 5*time.Second, "an active connector token", func() bool {
		first := expect(t, "token", s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}), 200)
		firstToken = first["access_token"].(string)
		in := expect(t, "introspect", s.form("/connect/introspect", "token="+url.QueryEscape(firstToken), "flow", flowSecret), 200)
		if in["active"] == true && (in["sub"] != f.aliceID || in["client_id"] != "flow") {
			t.Fatalf("connector token introspects as %v", in)
		}
		return in["active"] == true
	})

	// It expires after a second; the next request refreshes it at REFRESH_URL.
	eventually(t, 5*time.Second, "refreshed token", func() bool {
		r := expect(t, "token", s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}), 200)
		return r["access_token"] != firstToken
	})
	second := expect(t, "token", s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}), 200)["access_token"].(string)
	if second == firstToken {
		t.Fatal("no refresh happened")
	}

	// Revoke: DeleteOAuthTokens drops alice's grant, named by her login name in her tenant (ThingWorx's
	// user name); an unknown user is 404 and drops nothing. The connector no longer hands out tokens.
	deleteTokens := "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens"
	for _, body := range []map[string]any{
		{"oauthProvider": "authsuite", "userName": "nobody", "tenantCode": "acme"},
		{"oauthProvider": "authsuite", "userName": f.aliceID, "tenantCode": "acme"}, // an id is not a login name
		{"oauthProvider": "authsuite", "userName": "alice"},                         // alice is not in the system tenant
	} {
		expect(t, "delete tokens of an unknown user", s.call("POST", deleteTokens, f.adminToken, body), 404)
	}
	if r := expect(t, "token still there", s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}), 200); r["access_token"] == "" {
		t.Fatal("no token after refused deletes")
	}
	var dropped struct {
		DeletedCount int `json:"deletedCount"`
	}
	decodeJSON(t, expectRaw(t, "delete tokens", s.call("POST", deleteTokens, f.adminToken,
		map[string]any{"oauthProvider": "authsuite", "userName": "alice", "tenantCode": "acme"}), 200), &dropped)
	if dropped.DeletedCount != 1 {
		t.Fatalf("deletedCount %d, want 1", dropped.DeletedCount)
	}
	if r := s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}); r.status == 200 {
		t.Fatalf("token after DeleteOAuthTokens: %s", r.body)
	}
	// The provider is still in use by the (revoked) connector, so it cannot be deleted.
	expect(t, "delete provider in use", s.call("POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", f.adminToken,
		map[string]any{"connectorName": "odata", "oauthProvider": "authsuite"}), 400)
}
