package etcdstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry"
)

// TestResourceIDsThatCannotBeKeysAreRefused: a resource ID or tenant that is not valid UTF-8 or holds a NUL
// byte would be stored at a key its record does not name; the store refuses it and writes nothing.
func TestResourceIDsThatCannotBeKeysAreRefused(t *testing.T) {
	s := open(t, etcdtest.Start(t, 1))
	ctx := context.Background()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "acme", Code: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []registry.ApiResource{
		{ID: "https://x\xff", TenantID: "acme", Scopes: []string{"a"}},
		{ID: "https://x\x00y", TenantID: "acme", Scopes: []string{"a"}},
		{ID: "", TenantID: "acme", Scopes: []string{"a"}},
		{ID: "https://x", TenantID: "acme\x00", Scopes: []string{"a"}},
	} {
		if _, err := s.CreateApiResource(ctx, r); err == nil {
			t.Errorf("CreateApiResource(%q, %q) accepted", r.TenantID, r.ID)
		}
	}
	if items, _, err := s.ListApiResources(ctx, "acme", registry.ListOptions{}); err != nil || len(items) != 0 {
		t.Fatalf("after refused writes: %v, %v", items, err)
	}
	if _, err := s.GetApiResource(ctx, "acme\x00", "https://x"); err == nil {
		t.Fatal("a tenant ID with NUL named something")
	}
}

// TestImportedResourcesAreWatched: an import makes its tenants visible last, with their records already
// written; a watch from before the import reports the API resources with their tenant, as it does clients and
// users.
func TestImportedResourcesAreWatched(t *testing.T) {
	s := open(t, etcdtest.Start(t, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	from := s.Revision()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	snap := registry.Snapshot{Tenants: []registry.Tenant{{ID: "a", Code: "a", CreateTime: t0}}}
	var want []string
	for i := range 3 {
		id := fmt.Sprintf("https://r%d.internal", i)
		snap.Resources = append(snap.Resources, registry.ApiResource{ID: id, TenantID: "a", Scopes: []string{"s"}, CreateTime: t0, UpdateTime: t0})
		want = append(want, id)
	}
	if err := s.Import(ctx, snap); err != nil {
		t.Fatal(err)
	}
	var got []string
	errDone := fmt.Errorf("done")
	err := s.Watch(ctx, from, func(b changelog.Batch[registry.Change]) error {
		for _, ch := range b.Changes {
			if ch.Resource != nil {
				got = append(got, ch.Resource.ID)
			}
		}
		if len(got) >= len(want) {
			return errDone
		}
		return nil
	})
	if err != errDone {
		t.Fatalf("watch: %v (resources %v)", err, got)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("watched resources %v, want %v", got, want)
	}
	// An import refuses a resource of a tenant it does not hold, and writes nothing.
	bad := registry.Snapshot{Tenants: []registry.Tenant{{ID: "b", Code: "b"}}, Resources: []registry.ApiResource{{ID: "https://x", TenantID: "c", Scopes: []string{"s"}}}}
	if err := open(t, etcdtest.Start(t, 1)).Import(ctx, bad); err == nil {
		t.Fatal("an import with a resource of a missing tenant was accepted")
	}
}
