package config

import (
	"io"
	"strings"
	"testing"
)

// --authz-routes belongs to the roles that run the token service, and is read from its variable too.
func TestAuthzRoutesFlag(t *testing.T) {
	key := []string{"AUTHSUITE_MASTER_KEY=k"}
	c, err := Load(RoleToken, []string{"--authz-routes", "/etc/authsuite/routes.json"}, key, io.Discard)
	if err != nil || c.AuthzRoutes != "/etc/authsuite/routes.json" {
		t.Fatalf("token role: %q, %v", c.AuthzRoutes, err)
	}
	c, err = Load(RoleAll, nil, []string{"AUTHSUITE_AUTHZ_ROUTES=routes.json"}, io.Discard)
	if err != nil || c.AuthzRoutes != "routes.json" {
		t.Fatalf("all-in-one from the environment: %q, %v", c.AuthzRoutes, err)
	}
	for _, role := range []Role{RoleGateway, RoleRegistry, RoleProvider} {
		_, err := Load(role, []string{"--authz-routes", "routes.json"}, key, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--authz-routes (AUTHSUITE_AUTHZ_ROUTES)") {
			t.Errorf("%s role with --authz-routes: %v; want an error naming the flag", role, err)
		}
	}
}
