package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestSudoValuesGRPCCannotCarryAreRefused: gRPC metadata text values are printable ASCII only (gRPC
// PROTOCOL-HTTP2 "ASCII-Value"), and grpc-gateway silently drops any other header value. A sudo selector or
// tenant naming a non-ASCII login (found by FuzzNormalize) therefore used to reach the service without its
// sudo metadata, and the call ran as the caller itself — exactly the silent fallback SPEC §3 forbids. Such a
// request must answer 400 invalid_request, on the check endpoint and on the admin API, whether the sudo
// arrives in the query or as a header.
func TestSudoValuesGRPCCannotCarryAreRefused(t *testing.T) {
	f := newFixture(t)
	s := f.s
	users := "/api/adminapi2/v1/tenants/" + f.tenantID + "/users"
	expect(t, "josé", s.call("POST", users, f.adminToken, map[string]any{"loginName": "josé"}), 201)

	for _, q := range []url.Values{
		{"token": {f.adminToken}, "sudo": {"loginName:josé"}, "tenantCode": {"acme"}},
		{"token": {f.adminToken}, "sudo": {"loginName:admin"}, "tenantCode": {"acmé"}},
		{"token": {f.adminToken}, "sudo": {"loginName:a\x7fb"}, "tenantId": {f.tenantID}},
	} {
		r := s.call("GET", "/api/oauth2/server/tokens/check?"+q.Encode(), "", nil)
		var body struct {
			Error string `json:"error"`
			Sub   string `json:"sub"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("check %v: body %q: %v", q, r.body, err)
		}
		if r.status != http.StatusBadRequest || body.Error != "invalid_request" {
			t.Fatalf("check with sudo=%q tenant=%q%q: status %d body %s (sub %q)", q.Get("sudo"), q.Get("tenantCode"), q.Get("tenantId"), r.status, r.body, body.Sub)
		}
	}

	expect(t, "admin API as josé", s.call("GET", users+"?sudo=loginName:jos%C3%A9&tenantCode=acme", f.adminToken, nil), 400, "invalid_request")

	req, err := http.NewRequest("GET", s.base+users, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.adminToken)
	req.Header.Set("Authsuite-Sudo", "loginName:josé")
	req.Header.Set("Authsuite-Sudo-Tenant-Code", "acme")
	expect(t, "admin API with a sudo header", s.do(req), 400, "invalid_request")
}

// TestUserValidationAsDocumented: registry.ValidateUser documents login names without ':' (the sudo selector
// separator) and e-mail addresses without control characters, but accepted both (found by FuzzValidateUser).
// The admin API must answer 400 naming the field and store nothing.
func TestUserValidationAsDocumented(t *testing.T) {
	f := newFixture(t)
	s := f.s
	users := "/api/adminapi2/v1/tenants/" + f.tenantID + "/users"
	for _, tc := range []struct {
		field string
		body  map[string]any
	}{
		{"loginName", map[string]any{"loginName": "uid:alice"}},
		{"email", map[string]any{"loginName": "bob", "email": "bob@acme\x01.test"}},
		{"email", map[string]any{"loginName": "carol", "email": "carol@acme.test\x7f"}},
	} {
		r := s.call("POST", users, f.adminToken, tc.body)
		var body struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("%v: body %q: %v", tc.body, r.body, err)
		}
		if r.status != http.StatusBadRequest || body.Error != "invalid_request" || body.Field != tc.field {
			t.Fatalf("create %q: status %d body %s, want 400 naming %s", tc.body, r.status, r.body, tc.field)
		}
	}
	var list struct {
		Items []struct {
			LoginName string `json:"loginName"`
		} `json:"items"`
	}
	if err := json.Unmarshal(s.call("GET", users, f.adminToken, nil).body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Fatalf("refused users were stored: %+v", list.Items)
	}
}
