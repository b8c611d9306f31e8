package e2e

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// TestExpireClientSecretOverREST: POST .../secrets/{secretId}:expire ends a secret now. The answer is the
// secret without its value, and the token endpoint refuses it (401 invalid_client) as soon as the token
// service has applied the write, which the suite's Authsuite-Revision barrier waits for; the client's other
// secret keeps working, and another client's secret is not found.
func TestExpireClientSecretOverREST(t *testing.T) {
	s := startSuite(t)
	admin, tenantID, secret := setupBilling(t, s, 30*time.Second)
	secrets := "/api/adminapi2/v1/tenants/" + tenantID + "/clients/billing/secrets"
	second := expect(t, "second secret", s.call(http.MethodPost, secrets+"/", admin, map[string]any{}), 201)["value"].(string)
	tokenFor := func(value string) response {
		return s.form("/connect/token", "grant_type=client_credentials&scope=orders.read", "billing", value)
	}
	expect(t, "token before expiry", tokenFor(secret), 200)

	var list registryv1.ListClientSecretsResponse
	r := expectBody(t, "list", s.call(http.MethodGet, secrets, admin, nil), 200)
	if err := protojson.Unmarshal(r, &list); err != nil || len(list.GetItems()) != 2 {
		t.Fatalf("list %s: %v", r, err)
	}
	var id string
	for _, it := range list.GetItems() {
		if secret[:3] == it.GetValueDisplay() && id == "" {
			id = it.GetSecretId()
		}
	}
	if id == "" {
		t.Fatalf("no secret shows %q: %v", secret[:3], list.GetItems())
	}

	before := time.Now()
	resp := s.call(http.MethodPost, secrets+"/"+id+":expire", admin, map[string]any{})
	if resp.header.Get(revisionHeader) == "" {
		t.Fatalf("expire answered no %s header", revisionHeader)
	}
	var got registryv1.ClientSecret
	if err := protojson.Unmarshal(expectBody(t, "expire", resp, 200), &got); err != nil {
		t.Fatal(err)
	}
	if exp := got.GetExpiration().AsTime(); got.GetSecretId() != id || got.Value != nil ||
		exp.Before(before.Add(-time.Second)) || exp.After(time.Now()) {
		t.Fatalf("expired secret = %v", &got)
	}

	expect(t, "the expired secret", tokenFor(secret), 401, "invalid_client")
	expect(t, "the other secret", tokenFor(second), 200)

	// The secret stays listed; a secret id of another client is not found; a caller without the admin API
	// is refused.
	r = expectBody(t, "list after", s.call(http.MethodGet, secrets, admin, nil), 200)
	if err := protojson.Unmarshal(r, &list); err != nil || len(list.GetItems()) != 2 {
		t.Fatalf("list after %s: %v", r, err)
	}
	expect(t, "other client", s.call(http.MethodPost, "/api/adminapi2/v1/tenants/"+tenantID+"/clients/", admin, map[string]any{
		"clientId": "other", "allowedGrantTypes": []string{"client_credentials"},
	}), 201)
	expect(t, "secret of another client", s.call(http.MethodPost, "/api/adminapi2/v1/tenants/"+tenantID+"/clients/other/secrets/"+id+":expire", admin, map[string]any{}), 404)
	billing := expect(t, "billing token", tokenFor(second), 200)["access_token"].(string)
	if r := s.call(http.MethodPost, secrets+"/"+id+":expire", billing, map[string]any{}); r.status != 403 && r.status != 401 {
		t.Fatalf("expire without the admin API: status %d %s", r.status, r.body)
	}
}

// expectBody checks r's status and returns its body for a typed decode.
func expectBody(t testing.TB, what string, r response, status int) []byte {
	t.Helper()
	expect(t, what, r, status)
	return r.body
}
