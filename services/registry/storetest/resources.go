package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// runResources runs the API resource conformance tests.
func runResources(t *testing.T, open func(t *testing.T) registry.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s registry.Store)
	}{
		{"ResourceCRUD", testResourceCRUD},
		{"ResourcePaging", testResourcePaging},
		{"ResourceTenantCascade", testResourceTenantCascade},
		{"ResourceUpdateMayRunAgain", testResourceUpdateMayRunAgain},
		{"WatchResources", testWatchResources},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func newResource(tenant, id string) registry.ApiResource {
	return registry.ApiResource{
		ID: id, TenantID: tenant, DisplayName: "Resource " + id, Scopes: []string{"read", "write"},
		AccessTokenLifetime: 5 * time.Minute, CreateTime: t0, UpdateTime: t0,
	}
}

func mustResource(t *testing.T, s registry.Store, r registry.ApiResource) registry.ApiResource {
	t.Helper()
	out, err := s.CreateApiResource(context.Background(), r)
	if err != nil {
		t.Fatalf("CreateApiResource(%s/%s): %v", r.TenantID, r.ID, err)
	}
	return out
}

func equalResource(a, b registry.ApiResource) bool {
	return a.ID == b.ID && a.TenantID == b.TenantID && a.DisplayName == b.DisplayName && slices.Equal(a.Scopes, b.Scopes) &&
		a.AccessTokenLifetime == b.AccessTokenLifetime && a.CreateTime.Equal(b.CreateTime) && a.UpdateTime.Equal(b.UpdateTime)
}

func testResourceCRUD(t *testing.T, s registry.Store) {
	ctx := context.Background()
	const id = "https://orders.internal"
	_, err := s.CreateApiResource(ctx, newResource("a", id))
	wantErr(t, err, apierror.ErrNotFound, "resource of a missing tenant")
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	want := newResource("a", id)
	if got := mustResource(t, s, want); !equalResource(got, want) {
		t.Fatalf("created %+v, want %+v", got, want)
	}
	_, err = s.CreateApiResource(ctx, newResource("a", id))
	wantErr(t, err, apierror.ErrAlreadyExists, "duplicate resource")
	// IDs are unique per tenant only.
	mustResource(t, s, newResource("b", id))
	got, err := s.GetApiResource(ctx, "a", id)
	if err != nil || !equalResource(got, want) {
		t.Fatalf("GetApiResource = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range [][2]string{{"a", id + "/"}, {"c", id}, {"a", "https://ORDERS.internal"}, {"a\x00x", id}, {"a", ""}} {
		_, err := s.GetApiResource(ctx, bad[0], bad[1])
		wantErr(t, err, apierror.ErrNotFound, fmt.Sprintf("GetApiResource(%q, %q)", bad[0], bad[1]))
	}

	// The ID and tenant cannot change; the update's result is what is stored.
	got, err = s.UpdateApiResource(ctx, "a", id, func(r registry.ApiResource) (registry.ApiResource, error) {
		r.ID, r.TenantID, r.DisplayName, r.Scopes, r.AccessTokenLifetime = "https://other", "b", "Orders", []string{"orders.read"}, 0
		r.UpdateTime = t0.Add(time.Hour)
		return r, nil
	})
	want = registry.ApiResource{ID: id, TenantID: "a", DisplayName: "Orders", Scopes: []string{"orders.read"}, CreateTime: t0, UpdateTime: t0.Add(time.Hour)}
	if err != nil || !equalResource(got, want) {
		t.Fatalf("UpdateApiResource = %+v, %v; want %+v", got, err, want)
	}
	if got, _ := s.GetApiResource(ctx, "a", id); !equalResource(got, want) {
		t.Fatalf("after update %+v, want %+v", got, want)
	}
	if got, _ := s.GetApiResource(ctx, "b", id); got.DisplayName != "Resource "+id {
		t.Fatalf("the other tenant's resource changed: %+v", got)
	}
	// An aborted update changes nothing.
	_, err = s.UpdateApiResource(ctx, "a", id, func(r registry.ApiResource) (registry.ApiResource, error) {
		r.DisplayName = "aborted"
		return r, errAbort
	})
	wantErr(t, err, errAbort, "aborted update")
	if got, _ := s.GetApiResource(ctx, "a", id); !equalResource(got, want) {
		t.Fatalf("after an aborted update %+v", got)
	}
	_, err = s.UpdateApiResource(ctx, "a", "https://none", func(r registry.ApiResource) (registry.ApiResource, error) { return r, nil })
	wantErr(t, err, apierror.ErrNotFound, "update of a missing resource")

	// Returned values are copies.
	got.Scopes[0] = "changed"
	if again, _ := s.GetApiResource(ctx, "a", id); again.Scopes[0] != "orders.read" {
		t.Fatalf("a caller's change reached the store: %v", again.Scopes)
	}

	if err := s.DeleteApiResource(ctx, "a", id); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetApiResource(ctx, "a", id)
	wantErr(t, err, apierror.ErrNotFound, "deleted resource")
	wantErr(t, s.DeleteApiResource(ctx, "a", id), apierror.ErrNotFound, "second delete")
	wantErr(t, s.DeleteApiResource(ctx, "c", id), apierror.ErrNotFound, "delete in a missing tenant")
	if _, err := s.GetApiResource(ctx, "b", id); err != nil {
		t.Fatalf("the other tenant's resource is gone: %v", err)
	}
	// The ID is free again.
	mustResource(t, s, newResource("a", id))
}

func testResourcePaging(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("https://r%d.example", i)
		mustResource(t, s, newResource("a", id))
		want = append(want, id)
	}
	mustResource(t, s, newResource("b", "https://r-b.example"))
	for _, size := range []int{1, 2, 3, 7, 100} {
		got := collect(t, func(o registry.ListOptions) ([]string, string, error) {
			items, next, err := s.ListApiResources(ctx, "a", o)
			return ids(items, func(r registry.ApiResource) string { return r.ID }), next, err
		}, size)
		if !slices.Equal(got, want) {
			t.Fatalf("page size %d: %v, want %v", size, got, want)
		}
	}
	items, next, err := s.ListApiResources(ctx, "missing", registry.ListOptions{})
	if err != nil || len(items) != 0 || next != "" {
		t.Fatalf("resources of a missing tenant: %v, %q, %v", items, next, err)
	}
}

func testResourceTenantCascade(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	mustResource(t, s, newResource("a", "https://one"))
	mustResource(t, s, newResource("a", "https://two"))
	mustResource(t, s, newResource("b", "https://one"))
	if _, err := s.DeleteTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetApiResource(ctx, "a", "https://one")
	wantErr(t, err, apierror.ErrNotFound, "resource of a deleted tenant")
	_, err = s.UpdateApiResource(ctx, "a", "https://one", func(r registry.ApiResource) (registry.ApiResource, error) { return r, nil })
	wantErr(t, err, apierror.ErrNotFound, "update of a deleted tenant's resource")
	wantErr(t, s.DeleteApiResource(ctx, "a", "https://two"), apierror.ErrNotFound, "delete of a deleted tenant's resource")
	if _, err := s.GetApiResource(ctx, "b", "https://one"); err != nil {
		t.Fatalf("the other tenant's resource is gone: %v", err)
	}
	// A tenant created again with the same ID starts without resources, and may take the IDs again.
	mustTenant(t, s, "a")
	if items, _, err := s.ListApiResources(ctx, "a", registry.ListOptions{}); err != nil || len(items) != 0 {
		t.Fatalf("recreated tenant has resources %v, %v", items, err)
	}
	_, err = s.GetApiResource(ctx, "a", "https://two")
	wantErr(t, err, apierror.ErrNotFound, "resource of the tenant's earlier life")
	mustResource(t, s, newResource("a", "https://one"))
	if items, _, _ := s.ListApiResources(ctx, "a", registry.ListOptions{}); len(items) != 1 {
		t.Fatalf("recreated tenant lists %v", items)
	}
}

// testResourceUpdateMayRunAgain: a concurrent writer does not lose either update (a compare-and-swap store
// runs the function again on the newer value).
func testResourceUpdateMayRunAgain(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	r := newResource("a", "https://counter")
	r.Scopes = nil
	mustResource(t, s, r)
	const writers, each = 4, 5
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				_, err := s.UpdateApiResource(ctx, "a", "https://counter", func(r registry.ApiResource) (registry.ApiResource, error) {
					r.Scopes = append(slices.Clone(r.Scopes), fmt.Sprintf("w%d.%d", w, i))
					return r, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetApiResource(ctx, "a", "https://counter")
	if err != nil || len(got.Scopes) != writers*each {
		t.Fatalf("after concurrent updates %d scopes (%v), want %d", len(got.Scopes), err, writers*each)
	}
}

// testWatchResources: resource writes arrive as Resource / DeletedResource changes with the values as
// stored; a tenant delete reports the tenant's deletion (its resources go with it).
func testWatchResources(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	start := s.Revision()
	w := startWatch(t, s, start)
	last := start
	next := func(what string) registry.Change {
		t.Helper()
		b := w.next(t, last)
		last = b.Revision
		if len(b.Changes) != 1 {
			t.Fatalf("%s: %d changes %q, want one", what, len(b.Changes), describe(b))
		}
		return b.Changes[0]
	}
	r := mustResource(t, s, newResource("a", "https://orders"))
	if ch := next("create"); ch.Resource == nil || !equalResource(*ch.Resource, r) {
		t.Fatalf("create reported as %+v", ch)
	}
	r, err := s.UpdateApiResource(ctx, "a", "https://orders", func(r registry.ApiResource) (registry.ApiResource, error) {
		r.DisplayName = "renamed"
		return r, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ch := next("update"); ch.Resource == nil || !equalResource(*ch.Resource, r) {
		t.Fatalf("update reported as %+v", ch)
	}
	if err := s.DeleteApiResource(ctx, "a", "https://orders"); err != nil {
		t.Fatal(err)
	}
	if ch := next("delete"); ch.DeletedResource == nil || *ch.DeletedResource != (registry.ApiResourceRef{TenantID: "a", ID: "https://orders"}) {
		t.Fatalf("delete reported as %+v", ch)
	}
	mustResource(t, s, newResource("a", "https://orders"))
	next("create again")
	if _, err := s.DeleteTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	b := w.next(t, last)
	if !slices.Contains(describe(b), "-tenant a") {
		t.Fatalf("tenant delete reported as %q", describe(b))
	}
	for _, ch := range b.Changes {
		if ch.DeletedResource != nil && *ch.DeletedResource != (registry.ApiResourceRef{TenantID: "a", ID: "https://orders"}) {
			t.Fatalf("tenant delete reports %+v", *ch.DeletedResource)
		}
	}
}

// resourceOp decodes one API resource operation of a Differential program.
func resourceOp(r *reader) (string, func(registry.Store) (any, error)) {
	ctx := context.Background()
	tid, id := tenantID(r), pick(r, "https://r1", "https://r2", "urn:r3")
	switch r.next(5) {
	case 0:
		res := registry.ApiResource{ID: id, TenantID: tid, DisplayName: pick(r, "", "R"), Scopes: [][]string{nil, {"s1"}, {"s1", "s2"}}[r.next(3)],
			AccessTokenLifetime: time.Duration(r.next(3)) * time.Minute, CreateTime: tDiff, UpdateTime: tDiff}
		return fmt.Sprintf("CreateApiResource(%+v)", res), func(s registry.Store) (any, error) { return s.CreateApiResource(ctx, res) }
	case 1:
		how := r.next(3)
		return fmt.Sprintf("UpdateApiResource(%s/%s, %d)", tid, id, how), func(s registry.Store) (any, error) {
			return s.UpdateApiResource(ctx, tid, id, func(res registry.ApiResource) (registry.ApiResource, error) {
				res.ID, res.TenantID, res.DisplayName = "ignored", "elsewhere", res.DisplayName+"!"
				switch how {
				case 0:
					return res, errAbort
				case 1:
					res.Scopes = append(slices.Clone(res.Scopes), "x")
				case 2:
					res.Scopes, res.AccessTokenLifetime = nil, 0
				}
				return res, nil
			})
		}
	case 2:
		return "DeleteApiResource(" + tid + "/" + id + ")", func(s registry.Store) (any, error) { return nil, s.DeleteApiResource(ctx, tid, id) }
	case 3:
		o := registry.ListOptions{Limit: r.next(3), After: pick(r, "", "https://r1", "https://r2")}
		return fmt.Sprintf("ListApiResources(%s, %+v)", tid, o), func(s registry.Store) (any, error) {
			items, next, err := s.ListApiResources(ctx, tid, o)
			return []any{items, next}, err
		}
	}
	return "GetApiResource(" + tid + "/" + id + ")", func(s registry.Store) (any, error) { return s.GetApiResource(ctx, tid, id) }
}
