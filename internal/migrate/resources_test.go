package migrate

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
	regbolt "github.com/authsuite/authsuite/services/registry/bboltstore"
	regetcd "github.com/authsuite/authsuite/services/registry/etcdstore"
)

// TestMigrateApiResources: API resources of a bbolt install reach etcd as they were, in their tenants, every
// field kept, and are counted; a resource of a deleted tenant does not come back.
func TestMigrateApiResources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg, err := regbolt.Open(filepath.Join(dir, "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	want := []registry.ApiResource{
		{ID: "https://orders.internal", TenantID: "a", DisplayName: "Orders", Scopes: []string{"orders.read", "orders.write"},
			AccessTokenLifetime: 5 * time.Minute, CreateTime: t0, UpdateTime: t0.Add(time.Hour)},
		{ID: "urn:authsuite:billing", TenantID: "a", Scopes: []string{"billing"}, CreateTime: t0, UpdateTime: t0},
		{ID: "https://orders.internal", TenantID: "b", Scopes: []string{"orders.read"}, CreateTime: t0, UpdateTime: t0},
	}
	for _, tn := range []string{"a", "b", "gone"} {
		if _, err := reg.CreateTenant(ctx, registry.Tenant{ID: tn, Code: tn, CreateTime: t0}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range append(slices.Clone(want), registry.ApiResource{ID: "https://gone.internal", TenantID: "gone", Scopes: []string{"x"}}) {
		if _, err := reg.CreateApiResource(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.DeleteTenant(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	reg.Close()

	kr, _ := suitekey.Parse(suitekey.Generate())
	snaps, rec, err := ReadDir(ctx, dir, kr)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(snaps.Counts(), Count{"api_resources", len(want)}) {
		t.Fatalf("counts %v, want %d api_resources", snaps.Counts(), len(want))
	}
	cli := etcdtest.Start(t, 1).Client(t)
	if err := Import(ctx, cli, "/resources/", "test", snaps, rec); err != nil {
		t.Fatal(err)
	}
	st, err := regetcd.Open(ctx, cli, "/resources/")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []registry.ApiResource
	for _, tn := range []string{"a", "b", "gone"} {
		items, _, err := st.ListApiResources(ctx, tn, registry.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, items...)
	}
	same(t, "API resources", got, want)
	if r, err := st.GetApiResource(ctx, "a", "https://orders.internal"); err != nil || r.AccessTokenLifetime != 5*time.Minute {
		t.Fatalf("GetApiResource on etcd: %+v, %v", r, err)
	}
}
