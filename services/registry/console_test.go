package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/memstore"
)

func TestConsoleClientValid(t *testing.T) {
	now := time.Now().UTC()
	for _, tn := range []registry.Tenant{{ID: access.SystemTenant, Code: "default"}, {ID: "t-1", Code: "acme"}} {
		c := registry.ConsoleClient(tn, "https://id.example/", now)
		if err := registry.ValidateClient(c); err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if c.RequireClientSecret || c.AllowNoPKCE || c.RequireConsent || c.RedirectURIs[0] != "https://id.example/console/callback" {
			t.Fatalf("%+v", c)
		}
	}
	if registry.ConsoleClientID(access.SystemTenant) != "console" || registry.ConsoleClientID("t-1") != "console.t-1" {
		t.Fatal("ids")
	}
}

func TestEnsureConsoleClients(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	now := time.Now().UTC()
	for _, tn := range []registry.Tenant{{ID: access.SystemTenant, Code: "default"}, {ID: "t-1", Code: "acme"}} {
		if _, err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := registry.EnsureConsoleClients(ctx, st, "http://127.0.0.1:1", now); err != nil || n != 2 {
		t.Fatalf("first run: %d, %v", n, err)
	}
	if n, err := registry.EnsureConsoleClients(ctx, st, "http://127.0.0.1:1", now); err != nil || n != 0 {
		t.Fatalf("second run: %d, %v", n, err)
	}
	if n, err := registry.EnsureConsoleClients(ctx, st, "https://id.example", now); err != nil || n != 2 {
		t.Fatalf("new public URL: %d, %v", n, err)
	}
	c, err := st.GetClient(ctx, "console.t-1")
	if err != nil || c.RedirectURIs[0] != "https://id.example/console/callback" || c.TenantID != "t-1" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestBootstrapCreatesTheSystemConsoleClient(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	if err := registry.Bootstrap(ctx, st, keyring(t), registry.BootstrapOptions{Secret: "a bootstrap secret", PublicURL: "https://id.example"}); err != nil {
		t.Fatal(err)
	}
	c, err := st.GetClient(ctx, registry.SystemConsoleClientID)
	if err != nil || c.TenantID != access.SystemTenant || c.RedirectURIs[0] != "https://id.example/console/callback" || c.RequireClientSecret {
		t.Fatalf("console client %+v, %v", c, err)
	}
	// Nothing left to backfill.
	if n, err := registry.EnsureConsoleClients(ctx, st, "https://id.example", time.Now()); err != nil || n != 0 {
		t.Fatalf("backfill after bootstrap: %d, %v", n, err)
	}
}
