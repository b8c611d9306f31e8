package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/memstore"
	"github.com/authsuite/authsuite/services/registry/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store { return memstore.New() })
}

// TestInputsAreCopied: the store keeps no memory of a value handed to it, neither a created value nor an
// update callback's result, so a caller changing its slices afterwards changes nothing stored.
func TestInputsAreCopied(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	c := registry.DefaultClient()
	c.ID, c.TenantID = "c1", "a"
	c.AllowedGrantTypes, c.AllowedScopes, c.RedirectURIs = []string{registry.GrantClientCredentials}, []string{"api"}, []string{"https://app.example/cb"}
	c.AllowedCORSOrigins, c.PostLogoutRedirectURIs = []string{"https://app.example"}, []string{"https://app.example/bye"}
	c.Secrets = []registry.Secret{{ID: "s1", Digest: []byte{1, 2, 3}}}
	created, err := s.CreateClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []registry.Client{c, created} {
		v.AllowedGrantTypes[0], v.AllowedScopes[0], v.RedirectURIs[0] = "x", "x", "x"
		v.AllowedCORSOrigins[0], v.PostLogoutRedirectURIs[0] = "x", "x"
		v.Secrets[0].Digest[0], v.Secrets[0].ID = 99, "x"
	}
	var kept registry.Client
	updated, err := s.UpdateClient(ctx, "c1", func(c registry.Client) (registry.Client, error) {
		kept = c
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	kept.RedirectURIs[0], kept.Secrets[0].Digest[1] = "y", 99
	updated.RedirectURIs[0], updated.Secrets[0].Digest[2] = "z", 99
	got, _ := s.GetClient(ctx, "c1")
	if got.AllowedGrantTypes[0] != registry.GrantClientCredentials || got.AllowedScopes[0] != "api" ||
		got.RedirectURIs[0] != "https://app.example/cb" || got.AllowedCORSOrigins[0] != "https://app.example" ||
		got.PostLogoutRedirectURIs[0] != "https://app.example/bye" || got.Secrets[0].ID != "s1" ||
		!slices.Equal(got.Secrets[0].Digest, []byte{1, 2, 3}) {
		t.Fatalf("stored client changed through a caller's slices: %+v", got)
	}

	u := registry.User{ID: "u1", TenantID: "a", LoginName: "alice", Roles: []string{"r"}}
	cu, err := s.CreateUser(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	u.Roles[0], cu.Roles[0] = "x", "x"
	uu, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) { return u, nil })
	if err != nil {
		t.Fatal(err)
	}
	uu.Roles[0] = "y"
	if got, _ := s.GetUser(ctx, "a", "u1"); !slices.Equal(got.Roles, []string{"r"}) {
		t.Fatalf("stored roles changed through a caller's slice: %v", got.Roles)
	}
}

// TestUpdateRunsOnce: this backend calls an update callback exactly once per call.
func TestUpdateRunsOnce(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := s.UpdateTenant(ctx, "a", func(tn registry.Tenant) (registry.Tenant, error) { n++; return tn, nil }); err != nil || n != 1 {
		t.Fatalf("update ran %d times, err %v", n, err)
	}
}

// TestSeedFailureChangesNothing: a seed that fails half-way (a client of an unknown tenant) leaves the
// store empty, so a corrected seed still goes in.
func TestSeedFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	c := registry.DefaultClient()
	c.ID, c.TenantID = "c1", "ghost"
	_, err := s.Seed(ctx, []registry.Tenant{{ID: "a", Code: "a"}}, []registry.Client{c}, nil)
	if !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("Seed(client of unknown tenant) = %v, want ErrNotFound", err)
	}
	if items, _, err := s.ListTenants(ctx, registry.ListOptions{}); err != nil || len(items) != 0 {
		t.Fatalf("failed seed left tenants %v, %v", items, err)
	}
	c.TenantID = "a"
	if done, err := s.Seed(ctx, []registry.Tenant{{ID: "a", Code: "a"}}, []registry.Client{c}, nil); err != nil || !done {
		t.Fatalf("Seed after a failed one = %v, %v", done, err)
	}
}

func TestEndedContextAndClose(t *testing.T) {
	s := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateTenant(canceled) = %v", err)
	}
	if _, err := s.GetTenant(context.Background(), "a"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("a canceled create stored the tenant: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTenant(context.Background(), "a"); !errors.Is(err, memstore.ErrClosed) {
		t.Fatalf("GetTenant after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, memstore.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

// TestConcurrentReadersAndWriters exercises the lock under -race: readers listing and finding while writers
// create, update and delete users of the same tenant.
func TestConcurrentReadersAndWriters(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				id := fmt.Sprintf("u%d-%d", w, i)
				if _, err := s.CreateUser(ctx, registry.User{ID: id, TenantID: "a", LoginName: id, Roles: []string{"r"}}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.UpdateUser(ctx, "a", id, func(u registry.User) (registry.User, error) {
					u.Roles = append(u.Roles, "s")
					return u, nil
				}); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					if err := s.DeleteUser(ctx, "a", id); err != nil {
						t.Error(err)
					}
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				items, _, err := s.ListUsers(ctx, "a", registry.ListOptions{})
				if err != nil {
					t.Error(err)
				}
				for _, u := range items {
					u.Roles[0] = "mutated"
				}
				_, _ = s.FindUser(ctx, "a", access.Selector{Kind: access.ByLoginName, Value: "u0-1"})
			}
		})
	}
	wg.Wait()
	items, _, err := s.ListUsers(ctx, "a", registry.ListOptions{Limit: registry.MaxPageSize})
	if err != nil || len(items) != 100 {
		t.Fatalf("%d users left, %v; want 100", len(items), err)
	}
	for _, u := range items {
		if !slices.Equal(u.Roles, []string{"r", "s"}) {
			t.Fatalf("user %s roles %v", u.ID, u.Roles)
		}
	}
}
