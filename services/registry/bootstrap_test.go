package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
)

func openStore(t *testing.T) *bboltstore.Store {
	t.Helper()
	s, err := bboltstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func keyring(t *testing.T) *suitekey.Keyring {
	raw := make([]byte, 32)
	rand.Read(raw)
	kr, err := suitekey.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestBootstrapGeneratesSecretOnce(t *testing.T) {
	ctx := context.Background()
	s, kr := openStore(t), keyring(t)
	var out bytes.Buffer
	if err := registry.Bootstrap(ctx, s, kr, registry.BootstrapOptions{Out: &out}); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(out.String())
	secret, ok := strings.CutPrefix(line, "bootstrap: admin client secret: ")
	if !ok || len(secret) < 43 {
		t.Fatalf("printed %q", line)
	}
	tn, err := s.GetTenant(ctx, access.SystemTenant)
	if err != nil || tn.Code != "default" || tn.Name != "System" {
		t.Fatalf("tenant = %+v, %v", tn, err)
	}
	c, err := s.GetClient(ctx, "admin")
	if err != nil || c.TenantID != "default" || strings.Join(c.AllowedGrantTypes, " ") != "client_credentials" ||
		strings.Join(c.AllowedScopes, " ") != "adminapi sudo" || len(c.Secrets) != 1 {
		t.Fatalf("client = %+v, %v", c, err)
	}
	sec := c.Secrets[0]
	if !kr.VerifyDigest(registry.SecretDigestPurpose, sec.KeyID, []byte(secret), sec.Digest) || sec.ValueDisplay != secret[:3] {
		t.Fatal("printed secret does not verify")
	}
	if users, _, _ := s.ListUsers(ctx, "default", registry.ListOptions{}); len(users) != 0 {
		t.Fatalf("users without a password: %v", users)
	}

	// Later starts change nothing and print nothing, whatever the options.
	out.Reset()
	for range 2 {
		if err := registry.Bootstrap(ctx, s, kr, registry.BootstrapOptions{Out: &out, Secret: "other-secret", Password: "a long password"}); err != nil {
			t.Fatal(err)
		}
	}
	if out.Len() != 0 {
		t.Fatalf("second start printed %q", out.String())
	}
	again, _ := s.GetClient(ctx, "admin")
	if len(again.Secrets) != 1 || again.Secrets[0].ID != sec.ID {
		t.Fatal("second start changed the admin client")
	}
	if users, _, _ := s.ListUsers(ctx, "default", registry.ListOptions{}); len(users) != 0 {
		t.Fatal("second start created a user")
	}
}

func TestBootstrapWithSecretAndPassword(t *testing.T) {
	ctx := context.Background()
	s, kr := openStore(t), keyring(t)
	var out bytes.Buffer
	err := registry.Bootstrap(ctx, s, kr, registry.BootstrapOptions{Secret: "given-secret", Password: "admin password", Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("given secret printed: %q", out.String())
	}
	c, _ := s.GetClient(ctx, "admin")
	if !kr.VerifyDigest(registry.SecretDigestPurpose, c.Secrets[0].KeyID, []byte("given-secret"), c.Secrets[0].Digest) {
		t.Fatal("given secret not stored")
	}
	u, err := s.FindUser(ctx, "default", access.Selector{Kind: access.ByLoginName, Value: "admin"})
	if err != nil || !u.HasRole(access.RoleTenantAdmin) || !u.VerifyPassword("admin password") {
		t.Fatalf("admin user = %+v, %v", u, err)
	}
}

func TestBootstrapRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s, kr := openStore(t), keyring(t)
	if err := registry.Bootstrap(ctx, s, kr, registry.BootstrapOptions{}); err == nil {
		t.Fatal("generated a secret with nowhere to print it")
	}
	err := registry.Bootstrap(ctx, s, kr, registry.BootstrapOptions{Secret: "s", Password: "short"})
	if err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("short password: %v", err)
	}
	if tenants, _, _ := s.ListTenants(ctx, registry.ListOptions{}); len(tenants) != 0 {
		t.Fatal("failed bootstrap wrote something")
	}
}

// On an already bootstrapped registry a different AUTHSUITE_BOOTSTRAP_SECRET or AUTHSUITE_BOOTSTRAP_PASSWORD
// changes nothing, so each logs exactly one warning saying it is ignored, never its value; the values the
// data holds log nothing.
func TestBootstrapWarnsWhenSettingsAreIgnored(t *testing.T) {
	ctx := context.Background()
	s, kr := openStore(t), keyring(t)
	if err := registry.Bootstrap(ctx, s, kr, registry.BootstrapOptions{Secret: "first-secret", Password: "first password"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, secret, password string
		want                   []string
	}{
		{"same settings", "first-secret", "first password", nil},
		{"none given", "", "", nil},
		{"other secret", "second-secret", "", []string{registry.IgnoredSecretWarning}},
		{"other password", "first-secret", "second password", []string{registry.IgnoredPasswordWarning}},
		{"both other", "second-secret", "second password", []string{registry.IgnoredSecretWarning, registry.IgnoredPasswordWarning}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs, out bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			if err := registry.Bootstrap(ctx, s, kr, registry.BootstrapOptions{Secret: tt.secret, Password: tt.password, Out: &out, Log: log}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if line == "" {
					continue
				}
				var rec struct{ Level, Msg string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level != "WARN" {
					t.Fatalf("log line %q: %v", line, err)
				}
				got = append(got, rec.Msg)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("warnings %q, want %q", got, tt.want)
			}
			for _, secret := range []string{"first-secret", "second-secret", "first password", "second password"} {
				if strings.Contains(logs.String(), secret) || strings.Contains(out.String(), secret) {
					t.Errorf("a bootstrap value was written: logs %q out %q", logs.String(), out.String())
				}
			}
		})
	}
	c, _ := s.GetClient(ctx, "admin")
	if len(c.Secrets) != 1 || !kr.VerifyDigest(registry.SecretDigestPurpose, c.Secrets[0].KeyID, []byte("first-secret"), c.Secrets[0].Digest) {
		t.Fatal("an ignored secret changed the admin client")
	}

	// Under a master key that opens none of the admin client's digests nothing can be told (start-up reports
	// the wrong key on its own): no warning about the secret.
	var logs bytes.Buffer
	if err := registry.Bootstrap(ctx, s, keyring(t), registry.BootstrapOptions{Secret: "first-secret", Log: slog.New(slog.NewJSONHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("a wrong master key made the secret look ignored: %s", logs.String())
	}
}
