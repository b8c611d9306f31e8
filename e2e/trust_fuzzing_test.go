package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestSudoCarriesAnyUTF8: gRPC text metadata carries printable ASCII only (PROTOCOL-HTTP2 "ASCII-Value"), and
// grpc-gateway silently drops any other header value, so a sudo naming a non-ASCII login (found by
// FuzzNormalize) used to reach the services without its sudo and run as the caller itself — the silent
// fallback docs/reference.md#sudo forbids. The gateway now forwards the query's sudo in binary metadata: a user named josé
// or 张三 can be impersonated on every API, an unknown one is 404, never the caller; a client that sets the
// text sudo header itself with such a value gets 400 instead of a dropped header.
func TestSudoCarriesAnyUTF8(t *testing.T) {
	f := newFixture(t)
	s := f.s
	users := "/api/adminapi2/v1/tenants/" + f.tenantID + "/users"
	for _, name := range []string{"josé", "张三"} {
		u := expect(t, name, s.call("POST", users, f.adminToken, map[string]any{"loginName": name}), 201)
		q := url.Values{"token": {f.adminToken}, "sudo": {"loginName:" + name}, "tenantCode": {"acme"}}
		r := s.call("GET", "/api/oauth2/server/tokens/check?"+q.Encode(), "", nil)
		var body struct {
			Error     string `json:"error"`
			Sub       string `json:"sub"`
			LoginName string `json:"loginName"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("check as %s: body %q: %v", name, r.body, err)
		}
		if r.status != http.StatusOK || body.LoginName != name || body.Sub != u["userId"] {
			t.Fatalf("check as %s: status %d body %s", name, r.status, r.body)
		}
		// The admin API acts as the user, who is no tenant_admin: 403, never the admin's own 200.
		expect(t, "admin API as "+name, s.call("GET", users+"?"+url.Values{"sudo": {"loginName:" + name}, "tenantCode": {"acme"}}.Encode(), f.adminToken, nil), 403)
	}
	expect(t, "admin API as an unknown non-ASCII user", s.call("GET", users+"?sudo=loginName:jos%C3%A9e&tenantCode=acme", f.adminToken, nil), 404)
	expect(t, "admin API in an unknown non-ASCII tenant", s.call("GET", users+"?sudo=loginName:admin&tenantCode=acm%C3%A9", f.adminToken, nil), 404)

	req, err := http.NewRequest("GET", s.base+users, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.adminToken)
	req.Header.Set("Authsuite-Sudo", "loginName:josé")
	req.Header.Set("Authsuite-Sudo-Tenant-Code", "acme")
	expect(t, "admin API with a non-ASCII text sudo header", s.do(req), 400, "invalid_request")
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
