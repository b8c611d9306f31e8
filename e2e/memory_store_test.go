package e2e

import (
	"os"
	"testing"
)

// TestMemoryStore: `authsuite serve --store memory` runs the whole suite on the in-memory stores: the
// machine-to-machine walk-through works (admin token, tenant, client, secret, token, check, revoke), nothing
// is written to the data directory (no bbolt file, no master key), and a restart starts empty again.
func TestMemoryStore(t *testing.T) {
	s := &suite{t: t, dataDir: t.TempDir(), httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0", args: []string{"--store", "memory"}}
	s.start()
	t.Cleanup(s.stop)

	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "create tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme", "name": "Acme"}), 201)
	tenantID, _ := tenant["tenantId"].(string)
	expect(t, "create client", s.call("POST", "/api/adminapi2/v1/tenants/"+tenantID+"/clients/", admin,
		map[string]any{"clientId": "billing", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read"}}), 201)
	secret := expect(t, "create secret", s.call("POST", "/api/adminapi2/v1/tenants/"+tenantID+"/clients/billing/secrets/", admin,
		map[string]any{"description": "first"}), 201)
	value, _ := secret["value"].(string)
	awaitClient(t, s, "billing", value)
	token := clientToken(t, s, "billing", value, "orders.read")
	expect(t, "check", s.call("GET", "/api/oauth2/server/tokens/check?token="+token, "", nil), 200)
	expect(t, "revoke", s.call("GET", "/api/oauth2/server/tokens/revoke?token="+token, "", nil), 200)
	expect(t, "check after revoke", s.call("GET", "/api/oauth2/server/tokens/check?token="+token, "", nil), 400)

	entries, err := os.ReadDir(s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("--store memory wrote %s to the data directory", e.Name())
	}

	s.restart()
	admin = clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	expect(t, "tenant after restart", s.call("GET", "/api/adminapi2/v1/tenants/"+tenantID, admin, nil), 404)
}
