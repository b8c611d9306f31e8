package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
)

// runTenantWithClients holds every backend to CreateTenantWithClients' contract: a tenant and its clients
// are stored together or not at all.
func runTenantWithClients(t *testing.T, open func(t *testing.T) registry.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s registry.Store)
	}{
		{"TenantWithClients", testTenantWithClients},
		{"TenantWithClientsAllOrNothing", testTenantWithClientsAllOrNothing},
		{"TenantWithClientsAfterDelete", testTenantWithClientsAfterDelete},
		{"TenantWithClientsWatched", testTenantWithClientsWatched},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testTenantWithClients(t *testing.T, s registry.Store) {
	ctx := context.Background()
	tn := registry.Tenant{ID: "t1", Code: "one", Name: "One", CreateTime: t0}
	c1, c2 := newClient("t1", "console.t1"), newClient("t1", "other")
	got, err := s.CreateTenantWithClients(ctx, tn, []registry.Client{c1, c2})
	if err != nil || got.ID != "t1" || got.Code != "one" {
		t.Fatalf("CreateTenantWithClients: %+v, %v", got, err)
	}
	if g, err := s.GetTenantByCode(ctx, "one"); err != nil || g.ID != "t1" || !g.CreateTime.Equal(t0) {
		t.Fatalf("GetTenantByCode: %+v, %v", g, err)
	}
	items, _, err := s.ListClients(ctx, "t1", registry.ListOptions{})
	if err != nil || len(items) != 2 || items[0].ID != "console.t1" || items[1].ID != "other" || items[0].TenantID != "t1" {
		t.Fatalf("ListClients: %+v, %v", items, err)
	}
	if c, err := s.GetClient(ctx, "console.t1"); err != nil || c.Name != c1.Name || len(c.Secrets) != 1 {
		t.Fatalf("GetClient: %+v, %v", c, err)
	}
	// No clients: a plain tenant.
	if _, err := s.CreateTenantWithClients(ctx, registry.Tenant{ID: "t2", Code: "two", CreateTime: t0}, nil); err != nil {
		t.Fatal(err)
	}
	// Deleting the tenant deletes the clients created with it.
	if deleted, err := s.DeleteTenant(ctx, "t1"); err != nil || len(deleted) != 2 {
		t.Fatalf("DeleteTenant: %v, %v", deleted, err)
	}
	if _, err := s.GetClient(ctx, "console.t1"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("client after its tenant: %v", err)
	}
}

func testTenantWithClientsAllOrNothing(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustClient(t, s, "a", "taken")
	nothing := func(what string, id, code string) {
		t.Helper()
		if _, err := s.GetTenant(ctx, id); !errors.Is(err, apierror.ErrNotFound) {
			t.Fatalf("%s: the tenant was stored: %v", what, err)
		}
		if _, err := s.GetTenantByCode(ctx, code); !errors.Is(err, apierror.ErrNotFound) && code != "code-a" {
			t.Fatalf("%s: the code was stored: %v", what, err)
		}
		if _, err := s.GetClient(ctx, "fresh"); !errors.Is(err, apierror.ErrNotFound) {
			t.Fatalf("%s: a client was stored: %v", what, err)
		}
	}
	// A client id another tenant holds.
	_, err := s.CreateTenantWithClients(ctx, registry.Tenant{ID: "b", Code: "bee", CreateTime: t0},
		[]registry.Client{newClient("b", "fresh"), newClient("b", "taken")})
	if !errors.Is(err, apierror.ErrAlreadyExists) {
		t.Fatalf("taken client id: %v", err)
	}
	nothing("taken client id", "b", "bee")
	if c, err := s.GetClient(ctx, "taken"); err != nil || c.TenantID != "a" {
		t.Fatalf("the taken client changed: %+v, %v", c, err)
	}
	// The same id twice.
	_, err = s.CreateTenantWithClients(ctx, registry.Tenant{ID: "b", Code: "bee", CreateTime: t0},
		[]registry.Client{newClient("b", "fresh"), newClient("b", "fresh")})
	if !errors.Is(err, apierror.ErrAlreadyExists) {
		t.Fatalf("repeated client id: %v", err)
	}
	nothing("repeated client id", "b", "bee")
	// A taken tenant code or id.
	if _, err := s.CreateTenantWithClients(ctx, registry.Tenant{ID: "b", Code: "code-a", CreateTime: t0}, []registry.Client{newClient("b", "fresh")}); !errors.Is(err, apierror.ErrAlreadyExists) {
		t.Fatalf("taken code: %v", err)
	}
	nothing("taken code", "b", "code-a")
	if _, err := s.CreateTenantWithClients(ctx, registry.Tenant{ID: "a", Code: "new-code", CreateTime: t0}, []registry.Client{newClient("a", "fresh")}); !errors.Is(err, apierror.ErrAlreadyExists) {
		t.Fatalf("taken id: %v", err)
	}
	if _, err := s.GetTenantByCode(ctx, "new-code"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("taken id: the code was stored: %v", err)
	}
	// A client of another tenant is refused.
	if _, err := s.CreateTenantWithClients(ctx, registry.Tenant{ID: "b", Code: "bee", CreateTime: t0}, []registry.Client{newClient("a", "fresh")}); err == nil {
		t.Fatal("a client of another tenant was accepted")
	}
	nothing("client of another tenant", "b", "bee")
}

func testTenantWithClientsAfterDelete(t *testing.T, s registry.Store) {
	ctx := context.Background()
	for round := range 3 {
		if _, err := s.CreateTenantWithClients(ctx, registry.Tenant{ID: "t", Code: "tee", CreateTime: t0}, []registry.Client{newClient("t", "console.t")}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if _, err := s.DeleteTenant(ctx, "t"); err != nil {
			t.Fatalf("round %d: delete: %v", round, err)
		}
	}
}

func testTenantWithClientsWatched(t *testing.T, s registry.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	from := s.Revision()
	if _, err := s.CreateTenantWithClients(ctx, registry.Tenant{ID: "w", Code: "double-u", CreateTime: t0}, []registry.Client{newClient("w", "console.w")}); err != nil {
		t.Fatal(err)
	}
	var tenant, client bool
	errDone := errors.New("done")
	err := s.Watch(ctx, from, func(b changelog.Batch[registry.Change]) error {
		for _, ch := range b.Changes {
			tenant = tenant || (ch.Tenant != nil && ch.Tenant.ID == "w")
			client = client || (ch.Client != nil && ch.Client.ID == "console.w")
		}
		if tenant && client {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("watch: tenant %v, client %v: %v", tenant, client, err)
	}
}
