package e2e

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestSudoNeverIgnored sends sudo (?sudo=loginName:alice&tenantCode=acme, with the admin token that carries
// scope sudo) to every authenticated REST route family. Each must either act as alice or refuse with a 4xx;
// none may answer as the admin, which a caller would take for alice's answer. The OAuth/OIDC endpoints, which
// answer about the caller's own credentials, refuse with 400 invalid_request.
func TestSudoNeverIgnored(t *testing.T) {
	f := newConnectorFixture(t, 3600)
	s := f.s
	const sudo = "sudo=loginName:alice&tenantCode=acme"
	aliceToken := f.userToken(t, "alice", alicePassword)
	tenantPath := "/api/adminapi2/v1/tenants/" + f.tenantID

	// ownedByAlice: a connector (or every listed one) whose owner is alice, not client:admin.
	ownedByAlice := func(t *testing.T, body []byte) bool {
		var one struct {
			Owner string `json:"owner"`
			Items []struct {
				Owner string `json:"owner"`
			} `json:"items"`
		}
		decodeJSON(t, body, &one)
		if one.Items == nil {
			return one.Owner == f.aliceID
		}
		for _, it := range one.Items {
			if it.Owner != f.aliceID {
				return false
			}
		}
		return true
	}
	// A connector of the admin's own (owner client:admin): as alice it is someone else's.
	adminConnector, _ := f.createConnector(t, f.adminToken, nil)
	connectorPath := "/api/provider/v1/connectors/" + adminConnector
	providerFile := map[string]any{"oauthConfigurations": map[string]any{"odata": map[string]any{"authsuite": map[string]any{
		"CLIENT_ID": "flow", "CLIENT_SECRET": f.flowSecret,
		"AUTH_URL": s.base + "/connect/authorize", "TOKEN_URL": s.base + "/connect/token",
	}}}}
	rows := []struct {
		name   string
		method string
		path   string
		body   any    // JSON body (call)
		form   string // form body (OAuth endpoints, admin client by HTTP Basic)
		token  string // bearer token; default the admin's
		// asAlice says whether a 2xx answer shows alice as the actor; nil: a 2xx is a failure.
		asAlice func(t *testing.T, body []byte) bool
		// refused: the route must answer 400 invalid_request.
		refused bool
		// control: the same request without sudo succeeds as the admin (checked after the sudo one), so a
		// 4xx with sudo is alice's refusal, not a bad request.
		control bool
	}{
		{name: "admin API: list tenants", control: true, method: "GET", path: "/api/adminapi2/v1/tenants"},
		{name: "admin API: list users", control: true, method: "GET", path: tenantPath + "/users"},
		{name: "admin API: list clients", control: true, method: "GET", path: tenantPath + "/clients"},
		{name: "admin API: create user", control: true, method: "POST", path: tenantPath + "/users", body: map[string]any{"loginName": "mallory", "password": "mallory-password-1"}},
		{name: "simple token API: check", method: "GET", path: "/api/oauth2/server/tokens/check?token=" + url.QueryEscape(f.adminToken),
			asAlice: func(t *testing.T, body []byte) bool {
				var c struct {
					Sub       string `json:"sub"`
					LoginName string `json:"loginName"`
				}
				decodeJSON(t, body, &c)
				return c.Sub == f.aliceID && c.LoginName == "alice"
			}},
		{name: "simple token API: get token", method: "GET", path: "/api/oauth2/server/tokens?grant_type=client_credentials&client_id=admin&client_secret=" + url.QueryEscape(bootstrapSecret)},
		{name: "simple token API: revoke", method: "GET", path: "/api/oauth2/server/tokens/revoke?token=" + url.QueryEscape(f.userToken(t, "alice", alicePassword))},
		{name: "connectors: create", method: "POST", path: "/api/provider/v1/connectors",
			body: map[string]any{"connectorType": "odata", "oauthProvider": "authsuite", "kind": "session"},
			asAlice: func(t *testing.T, body []byte) bool {
				var c struct {
					ConnectorID string `json:"connectorId"`
				}
				decodeJSON(t, body, &c)
				r := s.call("GET", "/api/provider/v1/connectors/"+c.ConnectorID, aliceToken, nil)
				return r.status == 200 && ownedByAlice(t, r.body)
			}},
		{name: "connectors: list", method: "GET", path: "/api/provider/v1/connectors", asAlice: ownedByAlice},
		{name: "connectors: get the admin's", control: true, method: "GET", path: connectorPath},
		{name: "connectors: token of the admin's", method: "POST", path: connectorPath + "/token", body: map[string]any{}},
		{name: "connectors: delete the admin's", method: "DELETE", path: connectorPath},
		{name: "Thingworx: LoadOAuthConfiguration", control: true, method: "POST", path: "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration", body: providerFile},
		{name: "Thingworx: DeleteOAuthConfiguration", method: "POST", path: "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration",
			body: map[string]any{"connectorName": "odata", "oauthProvider": "authsuite"}},
		{name: "Thingworx: GetOAuthConfiguration", control: true, method: "POST", path: "/Thingworx/Subsystems/WorkflowSubsystem/Services/GetOAuthConfiguration", body: map[string]any{}},
		{name: "Thingworx: DeleteOAuthTokens", method: "POST", path: "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens",
			body: map[string]any{"oauthProvider": "authsuite"}},
		{name: "userinfo (admin token)", method: "GET", path: "/connect/userinfo", refused: true},
		{name: "userinfo (alice's own token)", method: "GET", path: "/connect/userinfo", token: aliceToken, refused: true},
		{name: "userinfo (POST)", method: "POST", path: "/connect/userinfo", form: "access_token=" + url.QueryEscape(aliceToken), refused: true},
		{name: "token endpoint", method: "POST", path: "/connect/token", form: "grant_type=client_credentials&scope=adminapi", refused: true},
		{name: "introspection", method: "POST", path: "/connect/introspect", form: "token=" + url.QueryEscape(f.adminToken), refused: true},
		{name: "revocation", method: "POST", path: "/connect/revocation", form: "token=" + url.QueryEscape(f.adminToken), refused: true},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			sep := "?"
			if strings.Contains(row.path, "?") {
				sep = "&"
			}
			path := row.path + sep + sudo
			var r response
			switch {
			case row.form != "" && strings.HasPrefix(row.path, "/connect/userinfo"):
				r = s.form(path, row.form, "", "")
			case row.form != "":
				r = s.form(path, row.form, "admin", bootstrapSecret)
			default:
				tok := row.token
				if tok == "" {
					tok = f.adminToken
				}
				r = s.call(row.method, path, tok, row.body)
			}
			if row.refused {
				var e struct {
					Error            string `json:"error"`
					ErrorDescription string `json:"error_description"`
				}
				if r.status != 400 || json.Unmarshal(r.body, &e) != nil || e.Error != "invalid_request" || !strings.Contains(e.ErrorDescription, "sudo") {
					t.Fatalf("%d %s: want 400 invalid_request naming sudo", r.status, r.body)
				}
				return
			}
			switch {
			case r.status >= 400 && r.status < 500:
			case r.status >= 200 && r.status < 300 && row.asAlice != nil && row.asAlice(t, r.body):
			default:
				t.Fatalf("%d %s: neither acted as alice nor refused", r.status, r.body)
			}
			if row.control {
				if c := s.call(row.method, row.path, f.adminToken, row.body); c.status < 200 || c.status > 299 {
					t.Fatalf("control without sudo: %d %s", c.status, c.body)
				}
			}
		})
	}
	// Nothing was done as the admin: its connector is still there.
	expect(t, "the admin's connector", s.call("GET", connectorPath, f.adminToken, nil), 200)
}
