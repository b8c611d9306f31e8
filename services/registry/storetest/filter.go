package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/authsuite/authsuite/services/registry"
)

// runFilter runs the filtered-listing cases: ListOptions.Filter keeps exactly what registry.ClientMatches and
// registry.UserMatches accept, in key order, paged by kept items, and a next key is answered only when a
// kept item follows.
func runFilter(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("ClientFilter", func(t *testing.T) { testClientFilter(t, open(t)) })
	t.Run("UserFilter", func(t *testing.T) { testUserFilter(t, open(t)) })
}

// collectFiltered pages through a filtered listing, checking that no page but the first is empty.
func collectFiltered(t *testing.T, filter string, size int, list func(registry.ListOptions) ([]string, string, error)) []string {
	t.Helper()
	var all []string
	after := ""
	for range 1000 {
		items, next, err := list(registry.ListOptions{Limit: size, After: after, Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		if after != "" && len(items) == 0 {
			t.Fatalf("filter %q size %d: an empty page after %q", filter, size, after)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		after = next
	}
	t.Fatal("paging did not end")
	return nil
}

func testClientFilter(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	names := map[string]string{
		"a00": "Billing Service", "a01": "Ünïcode Café", "a02": "mobile app", "a03": "BILLING batch",
		"a04": "reports", "a05": "Tom & Jerry <3>", "a06": "x", "b00": "billing elsewhere",
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for k := range names {
			if !yield(k) {
				return
			}
		}
	}) {
		c := newClient(id[:1], id)
		c.Name = names[id]
		if _, err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%s): %v", id, err)
		}
	}
	cases := []struct {
		tenant, filter string
		want           []string
	}{
		{"a", "billing", []string{"a00", "a03"}},
		{"", "billing", []string{"a00", "a03", "b00"}},
		{"a", "CAFÉ", []string{"a01"}},
		{"a", "ünï", []string{"a01"}},
		{"a", "a0", []string{"a00", "a01", "a02", "a03", "a04", "a05", "a06"}}, // by client ID
		{"a", "& jerry <", []string{"a05"}},
		{"a", "nothing like it", nil},
		{"a", `"`, nil},
		{"b", "batch", nil},
	}
	for _, tc := range cases {
		for _, size := range []int{1, 2, 100} {
			got := collectFiltered(t, tc.filter, size, func(o registry.ListOptions) ([]string, string, error) {
				items, next, err := s.ListClients(ctx, tc.tenant, o)
				return ids(items, func(c registry.Client) string { return c.ID }), next, err
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListClients(%q, filter %q, size %d) = %v, want %v", tc.tenant, tc.filter, size, got, tc.want)
			}
		}
	}
}

func testUserFilter(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	for i := range 12 {
		u := newUser("a", fmt.Sprintf("u%02d", i))
		switch i % 3 {
		case 0:
			u.Email = fmt.Sprintf("Person%d@Example.COM", i)
		case 1:
			u.DisplayName = fmt.Sprintf("Ada Lovelace %d", i)
		}
		mustUser(t, s, u)
	}
	other := newUser("b", "u99")
	other.Email = "ada@example.com"
	mustUser(t, s, other)
	cases := []struct {
		filter string
		want   []string
	}{
		{"example.com", []string{"u00", "u03", "u06", "u09"}},
		{"LOVELACE", []string{"u01", "u04", "u07", "u10"}},
		{"login-u1", []string{"u10", "u11"}}, // login names
		{"u05", []string{"u05"}},             // user ID (and login name)
		{"nobody", nil},
	}
	for _, tc := range cases {
		for _, size := range []int{1, 3, 100} {
			got := collectFiltered(t, tc.filter, size, func(o registry.ListOptions) ([]string, string, error) {
				items, next, err := s.ListUsers(ctx, "a", o)
				return ids(items, func(u registry.User) string { return u.ID }), next, err
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListUsers(filter %q, size %d) = %v, want %v", tc.filter, size, got, tc.want)
			}
		}
	}
}
