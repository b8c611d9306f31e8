package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Admin API inputs as users of the adminapi2 dialect send them (docs/reference/admin-api.md).

type apiError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Field            string `json:"field"`
}

type apiClient struct {
	ClientID           string   `json:"clientId"`
	ClientName         string   `json:"clientName"`
	AllowedCorsOrigins []string `json:"allowedCorsOrigins"`
	RedirectUris       []string `json:"redirectUris"`
	AllowedScopes      []string `json:"allowedScopes"`
}

type apiSecrets struct {
	Items []struct {
		SecretID string `json:"secretId"`
	} `json:"items"`
}

// decodeAs decodes r's body into a value of type T, failing the test unless r has the status.
func decodeAs[T any](t *testing.T, what string, r response, status int) T {
	t.Helper()
	var v T
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: body %q: %v", what, r.body, err)
	}
	return v
}

// raw sends a JSON body exactly as written.
func (s *suite) raw(method, path, token, body string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return s.do(req)
}

// TestAdminSeedClientBodyOrigins: the adminapi2 documentation's own client example lists allowedCorsOrigins
// ["https://myApp.myDomain.com"]. It is accepted and stored as browsers send the origin (lowercase scheme and
// host, RFC 6454 §6.2); redirect URIs keep their case, as they are compared exactly.
func TestAdminSeedClientBodyOrigins(t *testing.T) {
	f := newFixture(t)
	s := f.s
	clients := "/api/adminapi2/v1/tenants/" + f.tenantID + "/clients/"
	body := `{
  "clientId": "myApp",
  "clientName": "My App",
  "allowOfflineAccess": true,
  "allowRememberConsent": true,
  "backChannelLogoutSessionRequired": true,
  "requireClientSecret": true,
  "requireConsent": false,
  "allowNoPkce": false,
  "allowedGrantTypes": ["authorization_code", "refresh_token"],
  "allowedCorsOrigins": ["https://myApp.myDomain.com"],
  "allowedScopes": ["openid", "permissions", "publicapi.all"],
  "postLogoutRedirectUris": ["https://myApp.myDomain.com/SignedOut"],
  "redirectUris": ["https://myApp.myDomain.com/oauth-signin.html"]
}`
	r := s.raw("POST", clients, f.adminToken, body)
	c := decodeAs[apiClient](t, "seed client", r, 201)
	if !slices.Equal(c.AllowedCorsOrigins, []string{"https://myapp.mydomain.com"}) {
		t.Fatalf("origins answered %q", c.AllowedCorsOrigins)
	}
	if !slices.Equal(c.RedirectUris, []string{"https://myApp.myDomain.com/oauth-signin.html"}) {
		t.Fatalf("redirect URIs answered %q", c.RedirectUris)
	}
	if !bytes.HasSuffix(r.body, []byte("}\n")) {
		t.Errorf("success body does not end with a newline: %q", r.body)
	}
	got := decodeAs[apiClient](t, "get", s.call("GET", clients+"myApp", f.adminToken, nil), 200)
	if !slices.Equal(got.AllowedCorsOrigins, c.AllowedCorsOrigins) {
		t.Fatalf("stored origins %q", got.AllowedCorsOrigins)
	}
	// The browser's Origin is accepted by CORS on the userinfo endpoint.
	req, _ := http.NewRequest("OPTIONS", s.base+"/connect/userinfo", nil)
	req.Header.Set("Origin", "https://myapp.mydomain.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	if pre := s.do(req); pre.header.Get("Access-Control-Allow-Origin") != "https://myapp.mydomain.com" {
		t.Errorf("preflight from the listed origin: %d %v", pre.status, pre.header)
	}
	// Paths and wildcards are still refused, naming the entry.
	for _, o := range []string{"https://myApp.myDomain.com/", "https://*.myDomain.com"} {
		e := decodeAs[apiError](t, "origin "+o, s.call("POST", clients, f.adminToken, map[string]any{
			"clientId": "bad", "allowedGrantTypes": []string{"client_credentials"}, "allowedCorsOrigins": []string{o},
		}), 400)
		if e.Error != "invalid_request" || e.Field != "allowedCorsOrigins[0]" {
			t.Errorf("origin %s: %+v", o, e)
		}
	}
}

// TestAdminUnknownFieldsRefused: a misspelt or unknown member is answered 400 invalid_request naming it,
// and nothing is changed, on every JSON body route. Members of our own GET answers are accepted back.
func TestAdminUnknownFieldsRefused(t *testing.T) {
	f := newFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	for _, tc := range []struct {
		method, path, body, field string
	}{
		// The adminapi2 documentation's parameter table calls the secret's start "start time".
		{"POST", base + "/clients/billing/secrets/", `{"description":"rotation","start time":"2031-01-01T00:00:00Z"}`, "start time"},
		{"POST", base + "/clients/", `{"clientId":"typo","allowedGrantTypes":["client_credentials"],"allowedScope":["openid"]}`, "allowedScope"},
		{"PUT", base + "/clients/billing", `{"allowedGrantTypes":["client_credentials"],"clientname":"x"}`, "clientname"},
		{"POST", "/api/adminapi2/v1/tenants/", `{"code":"beta","displayName":"Beta"}`, "displayName"},
		{"PUT", base, `{"code":"acme","nam":"Acme"}`, "nam"},
		{"POST", base + "/users/", `{"loginName":"carol","passwd":"correct horse battery"}`, "passwd"},
		{"POST", "/api/provider/v1/connectors", `{"connectorType":"github","oauthProvider":"gh","returnUrl":"/x"}`, "returnUrl"},
		{"POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", `{"connectorName":"github","provider":"gh"}`, "provider"},
	} {
		e := decodeAs[apiError](t, tc.method+" "+tc.path, s.raw(tc.method, tc.path, f.adminToken, tc.body), 400)
		if e.Error != "invalid_request" || e.Field != tc.field || !strings.Contains(e.ErrorDescription, "unknown field") {
			t.Errorf("%s %s %s: %+v, want invalid_request naming %q", tc.method, tc.path, tc.body, e, tc.field)
		}
	}
	// A body is one JSON value: what follows it is refused, not ignored.
	for _, body := range []string{`{"description":"junk"} junk`, `{"description":"two"}{"description":"three"}`} {
		if e := decodeAs[apiError](t, "trailing data", s.raw("POST", base+"/clients/billing/secrets/", f.adminToken, body), 400); e.Error != "invalid_request" {
			t.Errorf("%s: %+v, want invalid_request", body, e)
		}
	}
	// Nothing changed.
	if sec := decodeAs[apiSecrets](t, "secrets", s.call("GET", base+"/clients/billing/secrets", f.adminToken, nil), 200); len(sec.Items) != 1 {
		t.Errorf("secrets after refused bodies: %d, want the fixture's 1", len(sec.Items))
	}
	expect(t, "typo client", s.call("GET", base+"/clients/typo", f.adminToken, nil), 404)
	if c := decodeAs[apiClient](t, "billing", s.call("GET", base+"/clients/billing", f.adminToken, nil), 200); c.ClientName == "x" {
		t.Errorf("refused PUT changed the client: %+v", c)
	}
	// GET, change one field, PUT back everything the GET answered.
	for _, path := range []string{base + "/clients/billing", base} {
		var obj map[string]any
		r := s.call("GET", path, f.adminToken, nil)
		if err := json.Unmarshal(decodeAs[json.RawMessage](t, "get "+path, r, 200), &obj); err != nil {
			t.Fatal(err)
		}
		obj["name"], obj["clientName"] = "Renamed", "Renamed"
		if path == base {
			delete(obj, "clientName")
		} else {
			delete(obj, "name")
		}
		b, _ := json.Marshal(obj)
		expect(t, "put back "+path, s.raw("PUT", path, f.adminToken, string(b)), 200)
	}
	user := decodeAs[map[string]any](t, "user", s.call("POST", base+"/users/", f.adminToken, map[string]any{"loginName": "dave", "password": "correct horse battery"}), 201)
	userPath := base + "/users/" + user["userId"].(string)
	got := decodeAs[map[string]any](t, "get user", s.call("GET", userPath, f.adminToken, nil), 200)
	got["displayName"] = "Dave"
	b, _ := json.Marshal(got)
	expect(t, "put user back", s.raw("PUT", userPath, f.adminToken, string(b)), 200)
}

// TestAdminClientIDConflictNamesTenant: client ids are unique across tenants. The 409 names the tenant
// holding the id for a caller who administers it, and only says the id is taken to anyone else.
func TestAdminClientIDConflictNamesTenant(t *testing.T) {
	f := newFixture(t)
	s := f.s
	beta := decodeAs[map[string]any](t, "tenant beta", s.call("POST", "/api/adminapi2/v1/tenants/", f.adminToken, map[string]any{"code": "beta"}), 201)["tenantId"].(string)
	clients := "/api/adminapi2/v1/tenants/" + beta + "/clients/"
	expect(t, "beta admin client", s.call("POST", clients, f.adminToken, map[string]any{
		"clientId": "beta-admin", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"adminapi"},
	}), 201)
	sec := decodeAs[map[string]any](t, "beta secret", s.call("POST", clients+"beta-admin/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	awaitClient(t, s, "beta-admin", sec)
	betaAdmin := clientToken(t, s, "beta-admin", sec, "adminapi")
	body := map[string]any{"clientId": "billing", "allowedGrantTypes": []string{"client_credentials"}}

	e := decodeAs[apiError](t, "system admin", s.call("POST", clients, f.adminToken, body), 409)
	if !strings.Contains(e.ErrorDescription, `client id "billing" is taken in tenant acme`) {
		t.Errorf("system admin's conflict: %+v", e)
	}
	e = decodeAs[apiError](t, "beta admin", s.call("POST", clients, betaAdmin, body), 409)
	if !strings.Contains(e.ErrorDescription, `client id "billing" is taken`) || strings.Contains(e.ErrorDescription, "acme") || strings.Contains(e.ErrorDescription, f.tenantID) {
		t.Errorf("another tenant's admin learns where the id is: %+v", e)
	}
}
