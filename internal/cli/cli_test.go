package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/cli"
)

func TestTenants(t *testing.T) {
	s := startSuite(t)
	tr := newTranscript(t, s)
	tr.run(cli.ExitOK, "", "tenant", "create", "acme", "--code", "acme", "--name", "Acme")
	// --id is the deprecated spelling of the argument; both at once must agree.
	tr.run(cli.ExitConflict, "", "tenant", "create", "--id", "acme2", "--code", "acme", "--name", "Acme again")
	tr.run(cli.ExitUsage, "", "tenant", "create", "acme3", "--id", "acme4", "--code", "acme3")
	tr.run(cli.ExitUsage, "", "tenant", "create", "bad", "--code", "no spaces allowed")
	tr.run(cli.ExitOK, "", "tenant", "get", "acme", "--output", "json")
	tr.run(cli.ExitOK, "", "tenant", "list")
	tr.run(cli.ExitOK, "", "tenant", "list", "--output", "json")
	tr.run(cli.ExitOK, "", "tenant", "update", "acme", "--name", "Acme Inc", "--output", "json")
	tr.run(cli.ExitUsage, "", "tenant", "update", "acme")
	tr.run(cli.ExitNotFound, "", "tenant", "get", "nope")
	tr.run(cli.ExitOK, "", "tenant", "delete", "acme")
	tr.run(cli.ExitNotFound, "", "tenant", "delete", "acme", "--output", "json")
	tr.check("tenants")
}

func TestClientsAndSecrets(t *testing.T) {
	s := startSuite(t)
	tr := newTranscript(t, s)
	tr.run(cli.ExitOK, "", "client", "create", "billing", "--name", "Billing", "--grant-types", "client_credentials",
		"--scopes", "orders.read,orders.write", "--output", "json")
	tr.run(cli.ExitOK, "", "client", "create", "--from-file", "testdata/client.json", "--require-consent=false")
	tr.run(cli.ExitUsage, "", "client", "create", "--from-file", "testdata/client_unknown_field.json")
	tr.run(cli.ExitUsage, "", "client", "create", "--from-file", "testdata/missing.json")
	tr.run(cli.ExitUsage, "", "client", "create", "--grant-types", "client_credentials")
	tr.run(cli.ExitUsage, "", "client", "create", "bad", "--grant-types", "authorization_code", "--redirect-uris", "https://ok.example/cb,not a uri")
	tr.run(cli.ExitUsage, "", "client", "create", "--id", "bad", "--access-token-lifetime", "forever")
	tr.run(cli.ExitConflict, "", "client", "create", "--id", "billing", "--grant-types", "client_credentials")
	tr.run(cli.ExitOK, "", "client", "get", "billing")
	tr.run(cli.ExitOK, "", "client", "list")
	tr.run(cli.ExitOK, "", "client", "update", "billing", "--access-token-lifetime", "1h", "--scopes", "orders.read", "--output", "json")
	tr.run(cli.ExitUsage, "", "client", "update", "billing", "--output", "json")
	tr.run(cli.ExitNotFound, "", "client", "get", "billing", "--tenant", "nope")

	created := tr.run(cli.ExitOK, "", "secret", "create", "--client", "billing", "--description", "first", "--output", "json")
	var sec struct{ SecretID, Value, ValueDisplay string }
	if err := json.Unmarshal([]byte(created.stdout), &sec); err != nil || len(sec.Value) < 43 {
		t.Fatalf("secret create: %v %q", err, created.stdout)
	}
	tr.mask(sec.SecretID, "<SECRET_ID_1>")
	tr.mask(sec.Value, "<SECRET_VALUE_1>")
	if sec.ValueDisplay != sec.Value[:3] {
		t.Errorf("valueDisplay %q is not the value's first 3 characters", sec.ValueDisplay)
	}
	second := tr.run(cli.ExitOK, "", "secret", "create", "--client", "billing", "--description", "second", "--expiration", "720h")
	id2, value2 := field(second.stdout, "secretId"), field(second.stdout, "value")
	tr.mask(id2, "<SECRET_ID_2>")
	tr.mask(value2, "<SECRET_VALUE_2>")
	tr.maskDisplay(sec.ValueDisplay)
	tr.maskDisplay(value2[:3])
	listed := tr.run(cli.ExitOK, "", "secret", "list", "--client", "billing")
	listedJSON := tr.run(cli.ExitOK, "", "secret", "list", "--client", "billing", "--output", "json")
	for _, out := range []string{listed.stdout, listedJSON.stdout} {
		if strings.Contains(out, sec.Value) || strings.Contains(out, value2) {
			t.Errorf("secret list shows a secret value:\n%s", out)
		}
	}
	tr.run(cli.ExitUsage, "", "secret", "list")
	tr.run(cli.ExitUsage, "", "secret", "create", "--client", "billing", "--expiration", "1h")
	// The secret authenticates billing, which may not use the admin API.
	s.waitForSecret(t, "billing", sec.Value, "orders.read")
	tr.run(cli.ExitAuth, "", "tenant", "list", "--client-id", "billing", "--client-secret", sec.Value)
	tr.run(cli.ExitOK, "", "secret", "delete", sec.SecretID, "--client", "billing")
	tr.run(cli.ExitNotFound, "", "secret", "delete", sec.SecretID, "--client", "billing")

	tr.run(cli.ExitOK, "", "client", "delete", "web")
	tr.run(cli.ExitNotFound, "", "client", "get", "web")
	tr.check("clients")
}

func TestUsers(t *testing.T) {
	s := startSuite(t)
	tr := newTranscript(t, s)
	const pw = "correct-horse-battery-staple"
	r := tr.run(cli.ExitOK, pw+"\n", "user", "create", "--id", "alice", "--login-name", "alice", "--email", "alice@example.com",
		"--roles", "tenant_admin", "--password-stdin", "--output", "json")
	tr.run(cli.ExitConflict, pw+"\n", "user", "create", "--login-name", "alice", "--password-stdin")
	tr.run(cli.ExitUsage, "", "user", "create", "--login-name", "bob", "--password-stdin")
	tr.env = s.env("AUTHSUITE_USER_PASSWORD=" + pw)
	r2 := tr.run(cli.ExitOK, "", "user", "create", "--id", "bob", "--login-name", "bob", "--display-name", "Bob")
	tr.env = s.env()
	tr.run(cli.ExitUsage, "", "user", "create", "--id", "carol", "--login-name", "carol", "--email", "not-an-email")
	tr.run(cli.ExitOK, "", "user", "get", "alice")
	tr.run(cli.ExitOK, "", "user", "update", "alice", "--email-verified", "--output", "json")
	tr.run(cli.ExitOK, "", "user", "update", "alice", "--email", "alice@new.example", "--output", "json") // resets emailVerified
	tr.run(cli.ExitUsage, "", "user", "update", "alice", "--phone-verified")                              // no mobile
	tr.run(cli.ExitOK, "", "user", "list")
	tr.run(cli.ExitOK, "", "user", "update", "bob", "--display-name", "Bob B", "--disabled", "--output", "json")
	r3 := tr.run(cli.ExitOK, "another-password-1\n", "user", "update", "bob", "--password-stdin")
	tr.run(cli.ExitUsage, "", "user", "update", "bob")
	tr.run(cli.ExitOK, "", "user", "delete", "bob")
	tr.run(cli.ExitNotFound, "", "user", "get", "bob")
	for _, out := range []string{r.stdout, r2.stdout, r3.stdout, tr.b.String()} {
		if strings.Contains(out, pw) || strings.Contains(out, "another-password-1") {
			t.Errorf("a password was printed:\n%s", out)
		}
	}
	tr.check("users")
}

func TestProviders(t *testing.T) {
	s := startSuite(t)
	tr := newTranscript(t, s)
	tr.run(cli.ExitOK, "", "provider", "load", "testdata/providers.json")
	tr.run(cli.ExitUsage, "", "provider", "load", "testdata/providers_bad.json")
	tr.run(cli.ExitUsage, "", "provider", "load", "testdata/client.json")
	tr.run(cli.ExitUsage, "", "provider", "load", "testdata/providers_syntax.json")             // names line 5, column 7
	tr.run(cli.ExitOK, "", "provider", "load", "../../docs/examples/oauth-configurations.json") // the bare shape
	tr.run(cli.ExitUsage, "", "provider", "load")
	tr.run(cli.ExitOK, "", "provider", "list")
	tr.run(cli.ExitOK, "", "provider", "list", "--output", "json")
	tr.run(cli.ExitUsage, "", "provider", "delete", "--connector-type", "google_gmail")
	tr.run(cli.ExitOK, "", "provider", "delete", "--connector-type", "google_gmail", "--provider", "Gmail")
	tr.run(cli.ExitNotFound, "", "provider", "delete", "--connector-type", "google_gmail", "--provider", "Gmail")
	if strings.Contains(tr.b.String(), "gmail-client-secret-value") {
		t.Error("a provider secret was printed")
	}
	tr.check("providers")
}

func TestUsageAndConnectionErrors(t *testing.T) {
	s := startSuite(t)
	tr := newTranscript(t, s)
	tr.run(cli.ExitUsage, "", "tenant")
	tr.run(cli.ExitUsage, "", "tenant", "frobnicate")
	tr.run(cli.ExitUsage, "", "tenant", "list", "--no-such-flag")
	tr.run(cli.ExitUsage, "", "tenant", "list", "--output", "yaml")
	tr.run(cli.ExitUsage, "", "tenant", "get")
	tr.run(cli.ExitUsage, "", "tenant", "get", "a", "b")
	tr.run(cli.ExitOK, "", "secret", "-h")
	tr.run(cli.ExitUsage, "", "tenant", "list", "--grpc-addr", "no-port")
	tr.env = s.env("AUTHSUITE_OUTPUT=xml")
	tr.run(cli.ExitUsage, "", "tenant", "list")

	// Authentication and permission: exit 3.
	tr.env = s.env("AUTHSUITE_CLIENT_SECRET=wrong-secret")
	tr.run(cli.ExitAuth, "", "tenant", "list")
	tr.env = []string{"AUTHSUITE_GRPC_ADDR=" + s.running.GRPCAddr.String()}
	tr.run(cli.ExitAuth, "", "tenant", "list")
	tr.run(cli.ExitAuth, "", "tenant", "list", "--token", "not-a-token")
	tr.env = s.env()
	tr.run(cli.ExitOK, "", "tenant", "create", "--id", "acme", "--code", "acme")
	tr.run(cli.ExitOK, "", "client", "create", "--tenant", "acme", "--id", "acme-admin", "--grant-types", "client_credentials", "--scopes", "adminapi")
	sec := tr.run(cli.ExitOK, "", "secret", "create", "--tenant", "acme", "--client", "acme-admin")
	value := field(sec.stdout, "value")
	tr.mask(value, "<SECRET_VALUE>")
	tr.mask(field(sec.stdout, "secretId"), "<SECRET_ID>")
	tr.maskDisplay(value[:3])
	s.waitForSecret(t, "acme-admin", value, "adminapi")
	tr.env = s.env("AUTHSUITE_CLIENT_ID=acme-admin", "AUTHSUITE_CLIENT_SECRET="+value)
	tr.run(cli.ExitOK, "", "client", "list", "--tenant", "acme")
	tr.run(cli.ExitAuth, "", "client", "list", "--tenant", "default")
	tr.run(cli.ExitAuth, "", "tenant", "list")
	tr.run(cli.ExitAuth, "", "provider", "load", "testdata/providers.json")
	tmp := t.TempDir()
	tr.maskPath(tmp, "<TMP>")
	tr.run(cli.ExitAuth, "", "backup", "--out", filepath.Join(tmp, "b"))

	// Nothing listening: exit 5.
	tr.env = s.env("AUTHSUITE_GRPC_ADDR=127.0.0.1:1")
	tr.run(cli.ExitUnavailable, "", "tenant", "list")
	tr.check("errors")
}

// field returns the value of a FIELD VALUE table line.
func field(table, name string) string {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}
