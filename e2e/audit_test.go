package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
)

// auditEvents lists one service's audit events through REST as token sees them, decoded into the API's own
// type (unknown fields refused), with the raw body for checks on what it must never hold.
func auditEvents(t *testing.T, s *suite, token, service string, q url.Values) (*opsv1.ListAuditEventsResponse, response) {
	t.Helper()
	r := s.call(http.MethodGet, "/api/adminapi2/v1/audit/"+service+"?"+q.Encode(), token, nil)
	if r.status != http.StatusOK {
		return nil, r
	}
	var out opsv1.ListAuditEventsResponse
	if err := protojson.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("audit events of %s: %v\n%s", service, err, r.body)
	}
	return &out, r
}

// find is the first event of kind whose target id (or, when targetID is "", any event of kind) is given.
func find(items []*opsv1.AuditEvent, kind, targetID string) *opsv1.AuditEvent {
	for _, e := range items {
		if e.GetEvent() == kind && (targetID == "" || e.GetTarget().GetId() == targetID) {
			return e
		}
	}
	return nil
}

// TestAuditLogREST: creating a client (registry) and signing in, rightly and wrongly (token), each leave an
// audit event that a system administrator lists through REST from the service that recorded it, with the
// actor, tenant, target and outcome, and never a secret or password; an administrator of another tenant
// sees neither, and may not list every tenant's events or those of the first tenant.
func TestAuditLogREST(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	if a := f.passwordGrant("alice", alicePassword); a.status != http.StatusOK {
		t.Fatalf("alice's password grant: %d", a.status)
	}
	if a := f.passwordGrant("alice", "not-alices-password"); a.status == http.StatusOK {
		t.Fatal("a wrong password was accepted")
	}

	// The recorders store in the background: wait for the events to be listed.
	var reg, tok *opsv1.ListAuditEventsResponse
	var regRaw, tokRaw response
	q := url.Values{"pageSize": {"1000"}}
	eventually(t, 10*time.Second, "the audit events", func() bool {
		reg, regRaw = auditEvents(t, s, f.adminToken, "registry", q)
		tok, tokRaw = auditEvents(t, s, f.adminToken, "token", q)
		return find(reg.GetItems(), "client_created", "legacy") != nil && find(tok.GetItems(), "sign_in_failed", "") != nil &&
			find(tok.GetItems(), "sign_in", "") != nil
	})
	created := find(reg.GetItems(), "client_created", "legacy")
	if created.GetService() != "registry" || created.GetTenantId() != f.tenantID || created.GetOutcome() != "success" ||
		created.GetActor().GetClientId() != "admin" || created.GetActor().GetActingFor() != "default" ||
		created.GetTarget().GetKind() != "client" || created.GetTime().AsTime().IsZero() {
		t.Errorf("client_created: %v", created)
	}
	if e := find(reg.GetItems(), "secret_created", ""); e == nil || e.GetTenantId() != f.tenantID {
		t.Errorf("secret_created: %v", e)
	}
	in := find(tok.GetItems(), "sign_in", "")
	if in.GetService() != "token" || in.GetTenantId() != f.tenantID || in.GetActor().GetUserId() != f.aliceID ||
		in.GetActor().GetClientId() != "legacy" || in.GetOutcome() != "success" {
		t.Errorf("sign_in: %v", in)
	}
	failed := find(tok.GetItems(), "sign_in_failed", "")
	if failed.GetOutcome() != "failure" || failed.GetReason() != "bad_credentials" || failed.GetActor().GetUserId() != f.aliceID {
		t.Errorf("sign_in_failed: %v", failed)
	}
	// Newest first.
	items := reg.GetItems()
	for i := 1; i < len(items); i++ {
		if items[i-1].GetId() <= items[i].GetId() {
			t.Fatalf("registry events out of order at %d: %s then %s", i, items[i-1].GetId(), items[i].GetId())
		}
	}
	for _, secret := range []string{f.webSecret, f.ropcSecret, alicePassword, "not-alices-password", bootstrapSecret} {
		if bytes.Contains(regRaw.body, []byte(secret)) || bytes.Contains(tokRaw.body, []byte(secret)) {
			t.Errorf("an audit listing holds a secret or password %q", secret)
		}
	}
	// Filters: by event, by tenant.
	only, _ := auditEvents(t, s, f.adminToken, "registry", url.Values{"event": {"user_created"}, "tenantId": {f.tenantID}})
	if len(only.GetItems()) != 2 || find(only.GetItems(), "user_created", f.aliceID) == nil {
		t.Errorf("user_created events of acme: %v", only.GetItems())
	}

	// An administrator of another tenant.
	other := expect(t, "tenant other", s.call("POST", "/api/adminapi2/v1/tenants/", f.adminToken, map[string]any{"code": "other"}), 201)["tenantId"].(string)
	base := "/api/adminapi2/v1/tenants/" + other
	expect(t, "other's admin client", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": "other-admin", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"adminapi"},
	}), 201)
	otherSecret := expect(t, "its secret", s.call("POST", base+"/clients/other-admin/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	s.sync()
	otherAdmin := clientToken(t, s, "other-admin", otherSecret, "adminapi")
	for _, service := range []string{"registry", "token"} {
		for _, tenant := range []string{"", f.tenantID} {
			if _, r := auditEvents(t, s, otherAdmin, service, url.Values{"tenantId": {tenant}}); r.status != http.StatusForbidden {
				t.Errorf("other's admin listing %s events of tenant %q: %d %s, want 403", service, tenant, r.status, r.body)
			}
		}
		own, _ := auditEvents(t, s, otherAdmin, service, url.Values{"tenantId": {other}})
		for _, e := range own.GetItems() {
			if e.GetTenantId() != other {
				t.Errorf("other's admin sees an event of tenant %s: %v", e.GetTenantId(), e)
			}
		}
	}
	if _, r := auditEvents(t, s, "", "registry", nil); r.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", r.status)
	}
	if _, r := auditEvents(t, s, f.adminToken, "nosuch", nil); r.status != http.StatusBadRequest {
		t.Errorf("an unknown service: %d, want 400", r.status)
	}
}

// TestListFilterREST: ?filter= selects clients and users server-side by a case-insensitive substring, pages
// by matches, and a page token works only with the filter it came with.
func TestListFilterREST(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	ids := func(path, key string) (got []string, next string) {
		t.Helper()
		m := expect(t, path, s.call(http.MethodGet, path, f.adminToken, nil), http.StatusOK)
		for _, it := range m["items"].([]any) {
			got = append(got, it.(map[string]any)[key].(string))
		}
		next, _ = m["nextPageToken"].(string)
		return got, next
	}
	if got, _ := ids(base+"/clients?filter=SINGLE", "clientId"); len(got) != 1 || got[0] != "spa" {
		t.Errorf("clients matching SINGLE (spa's name): %v", got)
	}
	first, next := ids(base+"/clients?filter=e&pageSize=1", "clientId") // legacy, nopkce, web and more
	if len(first) != 1 || next == "" {
		t.Fatalf("first page of clients matching e: %v, next %q", first, next)
	}
	second, _ := ids(base+"/clients?filter=e&pageSize=1&pageToken="+url.QueryEscape(next), "clientId")
	if len(second) != 1 || second[0] <= first[0] {
		t.Errorf("second page %v after %v", second, first)
	}
	r := s.call(http.MethodGet, base+"/clients?filter=x&pageSize=1&pageToken="+url.QueryEscape(next), f.adminToken, nil)
	if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte("pageToken")) {
		t.Errorf("a token with another filter: %d %s, want 400 naming pageToken", r.status, r.body)
	}
	if got, _ := ids(base+"/users?filter=LIDDELL", "userId"); len(got) != 1 || got[0] != f.aliceID {
		t.Errorf("users matching LIDDELL (alice's display name): %v", got)
	}
	if got, _ := ids(base+"/users?filter=acme.example", "userId"); len(got) != 1 || got[0] != f.aliceID {
		t.Errorf("users matching acme.example (alice's email): %v", got)
	}
}

// TestAuditKeysAndProviders: a key rotation an administrator asks for is a keys_rotated event of the token
// service naming the new key; loading the provider file and a refused file are provider events
// (provider_config_loaded, success and failure).
func TestAuditKeysAndProviders(t *testing.T) {
	s := startSuite(t)
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	rotated := expect(t, "rotate", s.call("POST", "/api/adminapi2/v1/signing-keys:rotate", admin, map[string]any{}), http.StatusOK)
	kid := rotated["key"].(map[string]any)["kid"].(string)
	file, err := os.ReadFile("../docs/examples/oauth-configurations.json")
	if err != nil {
		t.Fatal(err)
	}
	expectRaw(t, "load", s.raw(http.MethodPost, thingworxServices+"LoadOAuthConfiguration", admin, string(file)), 200)
	if r := s.raw(http.MethodPost, thingworxServices+"LoadOAuthConfiguration", admin, `{"oauthConfigurations":{"x":1}}`); r.status != http.StatusBadRequest {
		t.Fatalf("a bad file: %d %s", r.status, r.body)
	}
	var tok, prov *opsv1.ListAuditEventsResponse
	var provRaw response
	eventually(t, 10*time.Second, "the audit events", func() bool {
		tok, _ = auditEvents(t, s, admin, "token", nil)
		prov, provRaw = auditEvents(t, s, admin, "provider", url.Values{"event": {"provider_config_loaded"}})
		return find(tok.GetItems(), "keys_rotated", "") != nil && len(prov.GetItems()) == 2
	})
	if e := find(tok.GetItems(), "keys_rotated", ""); e.GetTarget().GetId() != kid || e.GetActor().GetClientId() != "admin" || e.GetOutcome() != "success" {
		t.Errorf("keys_rotated: %v, want the new key %s", e, kid)
	}
	if a, b := prov.GetItems()[0], prov.GetItems()[1]; a.GetOutcome() != "failure" || a.GetReason() != "InvalidArgument" || b.GetOutcome() != "success" {
		t.Errorf("provider loads, newest first: %v, %v", a, b)
	}
	if bytes.Contains(provRaw.body, []byte("example-gmail-client-secret")) {
		t.Error("a provider event holds the file's client secret")
	}
}
