package bboltstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/authsuite/authsuite/services/registry"
)

// seedClients stores n clients in tenant "a" in one Seed transaction: every 100th is named "Billing <i>",
// the rest "Service <i>", with IDs c00000… in order.
func seedClients(b *testing.B, n int) registry.Store {
	s := openB(b)
	clients := make([]registry.Client, n)
	for i := range clients {
		c := registry.DefaultClient()
		c.ID, c.TenantID, c.Name = fmt.Sprintf("c%05d", i), "a", fmt.Sprintf("Service %d", i)
		if i%100 == 0 {
			c.Name = fmt.Sprintf("Billing %d", i)
		}
		c.AllowedGrantTypes = []string{registry.GrantClientCredentials}
		c.AllowedScopes = []string{"api", "read", "write"}
		c.RedirectURIs = []string{"https://app.example/cb"}
		clients[i] = c
	}
	if _, err := s.Seed(context.Background(), []registry.Tenant{{ID: "a", Code: "a", Name: "A"}}, clients, nil); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkListClientsFiltered measures the console's client search over 10,000 clients of one tenant: the
// first filtered page (100 matches of "billing" spread through the table, so the page walks all of it), a
// deep page (the last 100 clients, after c09899, unfiltered and filtered by a substring of the ID), and a
// filter that matches nothing (a full walk that the raw prefilter answers without decoding).
func BenchmarkListClientsFiltered(b *testing.B) {
	s := seedClients(b, 10000)
	ctx := context.Background()
	cases := []struct {
		name string
		opts registry.ListOptions
		want int
	}{
		{"first-page/billing", registry.ListOptions{Limit: 100, Filter: "billing"}, 100},
		{"first-page/unfiltered", registry.ListOptions{Limit: 100}, 100},
		{"deep-page/unfiltered", registry.ListOptions{Limit: 100, After: "c09899"}, 100},
		{"deep-page/c09", registry.ListOptions{Limit: 100, After: "c09899", Filter: "C09"}, 100},
		{"no-match", registry.ListOptions{Limit: 100, Filter: "no such client"}, 0},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				items, _, err := s.ListClients(ctx, "a", tc.opts)
				if err != nil {
					b.Fatal(err)
				}
				if len(items) != tc.want {
					b.Fatalf("%d items, want %d", len(items), tc.want)
				}
			}
		})
	}
}
