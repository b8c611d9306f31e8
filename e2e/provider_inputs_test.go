package e2e

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// The provider service as ThingWorx Flow's users send it: the configuration file as printed (the bare
// {<connector type>: ...} object), userName as a login name, and sudo on every connector and Thingworx route.

const thingworxServices = "/Thingworx/Subsystems/WorkflowSubsystem/Services/"

// providerErrorAnswer is the REST error shape.
type providerErrorAnswer struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Field            string `json:"field"`
}

// providerLoadAnswer is LoadOAuthConfiguration's answer.
type providerLoadAnswer struct {
	Items []struct {
		ConnectorType string `json:"connectorType"`
		OauthProvider string `json:"oauthProvider"`
		Action        string `json:"action"`
	} `json:"items"`
}

// providerConnectorAnswer is a connector as the REST API shows it.
type providerConnectorAnswer struct {
	ConnectorID string `json:"connectorId"`
	Owner       string `json:"owner"`
	TenantID    string `json:"tenantId"`
	Status      string `json:"status"`
	ExpireTime  string `json:"expireTime"`
}

// TestProviderLoadFileAsPrinted: the example file (ThingWorx Flow's bare shape) loads over REST; the wrapped
// spelling of the same file is "unchanged"; a file with the missing comma of ThingWorx Flow's snippet is refused with its line
// and column, and nothing is stored.
func TestProviderLoadFileAsPrinted(t *testing.T) {
	s := startSuite(t)
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	file, err := os.ReadFile("../docs/examples/oauth-configurations.json")
	if err != nil {
		t.Fatal(err)
	}
	var loaded providerLoadAnswer
	decodeJSON(t, expectRaw(t, "bare load", s.raw(http.MethodPost, thingworxServices+"LoadOAuthConfiguration", admin, string(file)), 200), &loaded)
	if len(loaded.Items) == 0 {
		t.Fatal("the example file loaded no provider")
	}
	for _, it := range loaded.Items {
		if it.Action != "created" {
			t.Fatalf("bare load: %+v", loaded.Items)
		}
	}
	wrapped := append(append([]byte(`{"oauthConfigurations": `), file...), '}')
	decodeJSON(t, expectRaw(t, "wrapped load", s.raw(http.MethodPost, thingworxServices+"LoadOAuthConfiguration", admin, string(wrapped)), 200), &loaded)
	for _, it := range loaded.Items {
		if it.Action != "unchanged" {
			t.Fatalf("the wrapped spelling of the same file changed %+v", it)
		}
	}

	broken := []byte("{\n  \"box\": {\n    \"Box\": {\n      \"CLIENT_ID\": \"id\"\n      \"CLIENT_SECRET\": \"secret\"\n    }\n  }\n}\n")
	var e providerErrorAnswer
	decodeJSON(t, expectRaw(t, "syntax error", s.raw(http.MethodPost, thingworxServices+"LoadOAuthConfiguration", admin, string(broken)), 400), &e)
	if e.Error != "invalid_request" || !strings.Contains(e.ErrorDescription, "line 5, column 7") {
		t.Fatalf("syntax error answer %+v, want invalid_request naming line 5, column 7", e)
	}
	var list struct {
		Items []struct {
			ConnectorType string `json:"connectorType"`
		} `json:"items"`
	}
	decodeJSON(t, expectRaw(t, "list", s.call("POST", thingworxServices+"GetOAuthConfiguration", admin, map[string]any{}), 200), &list)
	for _, it := range list.Items {
		if it.ConnectorType == "box" {
			t.Fatal("a refused load stored box")
		}
	}
	// Without a valid token nothing is parsed: 401.
	if r := s.raw(http.MethodPost, thingworxServices+"LoadOAuthConfiguration", "not-a-token", string(file)); r.status != 401 {
		t.Fatalf("load without a valid token: %d %s", r.status, r.body)
	}
}

// TestProviderSudoEveryRoute: an admin token with ?sudo=loginName:alice&tenantCode=acme acts as alice on
// every connector route (the connector it creates is alice's) and is refused, as alice, on the suite-wide
// Thingworx configuration routes; the browser-facing start step refuses sudo instead of ignoring it.
func TestProviderSudoEveryRoute(t *testing.T) {
	f := newConnectorFixture(t, 300)
	s := f.s
	sudo := "?" + url.Values{"sudo": {"loginName:alice"}, "tenantCode": {"acme"}}.Encode()
	alice := f.userToken(t, "alice", alicePassword)

	var created struct {
		ConnectorID      string `json:"connectorId"`
		AuthorizationURL string `json:"authorizationUrl"`
	}
	decodeJSON(t, expectRaw(t, "create under sudo", s.call("POST", "/api/provider/v1/connectors"+sudo, f.adminToken,
		map[string]any{"connectorType": "odata", "oauthProvider": "authsuite"}), 201), &created)
	var c providerConnectorAnswer
	decodeJSON(t, expectRaw(t, "alice gets it", s.call("GET", "/api/provider/v1/connectors/"+created.ConnectorID, alice, nil), 200), &c)
	if c.Owner != f.aliceID || c.TenantID != f.tenantID || c.Status != "pending" || c.ExpireTime == "" {
		t.Fatalf("connector created under sudo: %+v, want alice's (%s) pending one", c, f.aliceID)
	}
	if strings.Contains(created.AuthorizationURL, "start_token") {
		t.Fatalf("a user's connector got a client's start link: %s", created.AuthorizationURL)
	}
	// List, get and token act as alice.
	var list struct {
		Items []providerConnectorAnswer `json:"items"`
	}
	decodeJSON(t, expectRaw(t, "list under sudo", s.call("GET", "/api/provider/v1/connectors"+sudo, f.adminToken, nil), 200), &list)
	if len(list.Items) != 1 || list.Items[0].ConnectorID != created.ConnectorID {
		t.Fatalf("list under sudo: %+v", list.Items)
	}
	decodeJSON(t, expectRaw(t, "get under sudo", s.call("GET", "/api/provider/v1/connectors/"+created.ConnectorID+sudo, f.adminToken, nil), 200), &c)
	var e providerErrorAnswer
	// alice's connector is pending: its token is refused as alice's would be (not as a stranger's 404).
	decodeJSON(t, expectRaw(t, "token under sudo", s.call("POST", "/api/provider/v1/connectors/"+created.ConnectorID+"/token"+sudo, f.adminToken, map[string]any{}), 400), &e)
	if !strings.Contains(e.ErrorDescription, "not active") {
		t.Fatalf("token under sudo: %+v", e)
	}
	// Robert's connector is not alice's: under sudo it is invisible, as it is to alice.
	bob := f.userToken(t, "robert", robertPassword)
	bobs, _ := f.createConnector(t, bob, nil)
	expect(t, "robert's connector under sudo", s.call("GET", "/api/provider/v1/connectors/"+bobs+sudo, f.adminToken, nil), 404)
	expect(t, "delete robert's under sudo", s.call("DELETE", "/api/provider/v1/connectors/"+bobs+sudo, f.adminToken, nil), 404)

	// The Thingworx configuration routes are for system administrators: as alice they are refused.
	for _, route := range []struct {
		path string
		body map[string]any
	}{
		{"GetOAuthConfiguration", map[string]any{}},
		{"DeleteOAuthConfiguration", map[string]any{"connectorName": "odata", "oauthProvider": "authsuite"}},
		{"DeleteOAuthTokens", map[string]any{"oauthProvider": "authsuite"}},
		{"LoadOAuthConfiguration", map[string]any{"odata": map[string]any{}}},
	} {
		decodeJSON(t, expectRaw(t, route.path+" under sudo", s.call("POST", thingworxServices+route.path+sudo, f.adminToken, route.body), 403), &e)
		if e.Error == "" {
			t.Fatalf("%s under sudo: %+v", route.path, e)
		}
	}
	// The start step is authenticated by the browser's session, not a bearer token: sudo is refused there.
	b := newBrowser(t)
	f.signIn(t, b, "alice", alicePassword)
	if p := b.get(created.AuthorizationURL + sudo); p.status != 400 || !strings.Contains(p.body, "sudo") {
		t.Fatalf("start with sudo: %d %s", p.status, p.body)
	}
	// Deleting under sudo deletes alice's connector.
	expect(t, "delete under sudo", s.call("DELETE", "/api/provider/v1/connectors/"+created.ConnectorID+sudo, f.adminToken, nil), 200)
	expect(t, "deleted", s.call("GET", "/api/provider/v1/connectors/"+created.ConnectorID, alice, nil), 404)
}
