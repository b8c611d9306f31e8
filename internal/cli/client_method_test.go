package cli_test

import (
	"encoding/json"
	"testing"

	"github.com/authsuite/authsuite/internal/cli"
)

// --require-client-secret=false on a client stored with a secret method makes it public (method none), and
// =true makes a public client confidential again, instead of the update being refused as a contradiction.
func TestClientRequireSecretFlagSwitchesMethod(t *testing.T) {
	s := startSuite(t)
	env := s.env()
	method := func(args ...string) string {
		t.Helper()
		r := run(t, env, "", append(args, "--output", "json")...)
		if r.code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s %s", args, r.code, r.stderr, r.err)
		}
		var c struct {
			RequireClientSecret     bool   `json:"requireClientSecret"`
			TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
			t.Fatalf("%v: %v: %s", args, err, r.stdout)
		}
		if c.RequireClientSecret != (c.TokenEndpointAuthMethod != "none") {
			t.Fatalf("%v: requireClientSecret %v with method %q", args, c.RequireClientSecret, c.TokenEndpointAuthMethod)
		}
		return c.TokenEndpointAuthMethod
	}
	if m := method("client", "create", "cli-app", "--grant-types", "client_credentials"); m != "client_secret_basic" {
		t.Fatalf("created with method %q", m)
	}
	if m := method("client", "update", "cli-app", "--require-client-secret=false", "--grant-types", "authorization_code", "--redirect-uris", "https://app.example/cb"); m != "none" {
		t.Fatalf("after --require-client-secret=false: method %q", m)
	}
	if m := method("client", "update", "cli-app", "--require-client-secret=true", "--grant-types", "client_credentials"); m != "client_secret_basic" {
		t.Fatalf("after --require-client-secret=true: method %q", m)
	}
}
