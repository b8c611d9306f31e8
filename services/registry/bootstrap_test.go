package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
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
