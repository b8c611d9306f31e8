package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// LargeTenantClients is how many clients the large-tenant tests put in one tenant: more than a replicated
// backend can write or delete in one bounded transaction, so that atomicity has to be designed, not assumed.
const LargeTenantClients = 5000

// largeSeed returns a registry of two tenants: "big" with LargeTenantClients clients and 50 users, and
// "other" with two clients and a user whose ids and login also occur in "big".
func largeSeed() ([]registry.Tenant, []registry.Client, []registry.User) {
	tenants := []registry.Tenant{{ID: "big", Code: "big", CreateTime: t0}, {ID: "other", Code: "other", CreateTime: t0}}
	var clients []registry.Client
	for i := range LargeTenantClients {
		clients = append(clients, newClient("big", fmt.Sprintf("big-%05d", i)))
	}
	clients = append(clients, newClient("other", "o1"), newClient("other", "o2"))
	var users []registry.User
	for i := range 50 {
		u := newUser("big", fmt.Sprintf("u%02d", i))
		u.Email = fmt.Sprintf("u%02d@big.example", i)
		users = append(users, u)
	}
	users = append(users, newUser("other", "u00"))
	return tenants, clients, users
}

func listAll[T any](t *testing.T, list func(registry.ListOptions) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	after := ""
	for {
		items, next, err := list(registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		after = next
	}
}

func clientIDs(t *testing.T, s registry.Store, tenant string) []string {
	t.Helper()
	return ids(listAll(t, func(o registry.ListOptions) ([]registry.Client, string, error) {
		return s.ListClients(context.Background(), tenant, o)
	}), func(c registry.Client) string { return c.ID })
}

// testLargeSeedAndTenantDelete: seeding thousands of records is one atomic step (a concurrent reader never
// sees the tenant without its last client nor a client without its tenant), and deleting the tenant removes
// every client and user of it at once, reports exactly its clients, leaves the other tenant alone, and a new
// tenant with the same id starts empty, its old client ids free again.
func testLargeSeedAndTenantDelete(t *testing.T, s registry.Store) {
	ctx := context.Background()
	tenants, clients, users := largeSeed()
	last := clients[LargeTenantClients-1].ID

	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		violation atomic.Value
	)
	wg.Go(func() {
		for !stop.Load() {
			_, tErr := s.GetTenant(ctx, "big")
			_, cErr := s.GetClient(ctx, last)
			_, t2Err := s.GetTenant(ctx, "big")
			switch {
			case tErr == nil && cErr != nil:
				violation.Store(fmt.Sprintf("tenant visible before its last client: %v", cErr))
			case cErr == nil && t2Err != nil:
				violation.Store(fmt.Sprintf("client visible, then no tenant: %v", t2Err))
			}
			if tErr == nil && cErr == nil {
				return
			}
		}
	})
	start := time.Now()
	done, err := s.Seed(ctx, tenants, clients, users)
	t.Logf("Seed of %d clients and %d users: %v", len(clients), len(users), time.Since(start))
	stop.Store(true)
	wg.Wait()
	if err != nil || !done {
		t.Fatalf("Seed of %d records = %v, %v", len(clients)+len(users), done, err)
	}
	if v := violation.Load(); v != nil {
		t.Fatalf("Seed was not atomic: %s", v)
	}
	big := clientIDs(t, s, "big")
	if len(big) != LargeTenantClients || big[0] != "big-00000" || big[len(big)-1] != last {
		t.Fatalf("seeded tenant lists %d clients", len(big))
	}
	if n := len(clientIDs(t, s, "")); n != LargeTenantClients+2 {
		t.Fatalf("all clients after seed: %d", n)
	}

	start = time.Now()
	deleted, err := s.DeleteTenant(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DeleteTenant of %d clients and 50 users: %v", len(deleted), time.Since(start))
	slices.Sort(deleted)
	if !slices.Equal(deleted, big) {
		t.Fatalf("DeleteTenant reported %d clients, want exactly the %d of the tenant", len(deleted), len(big))
	}
	if got := clientIDs(t, s, ""); !slices.Equal(got, []string{"o1", "o2"}) {
		t.Fatalf("clients after deleting the big tenant: %d (first %q)", len(got), got[:min(3, len(got))])
	}
	if got := clientIDs(t, s, "big"); len(got) != 0 {
		t.Fatalf("deleted tenant lists %d clients", len(got))
	}
	for i := 0; i < LargeTenantClients; i += 499 {
		_, err := s.GetClient(ctx, fmt.Sprintf("big-%05d", i))
		wantErr(t, err, apierror.ErrNotFound, "client of the deleted tenant")
	}
	_, err = s.GetClient(ctx, last)
	wantErr(t, err, apierror.ErrNotFound, "last client of the deleted tenant")
	for _, id := range []string{"u00", "u49"} {
		_, err = s.GetUser(ctx, "big", id)
		wantErr(t, err, apierror.ErrNotFound, "user of the deleted tenant")
	}
	_, err = s.FindUser(ctx, "big", access.Selector{Kind: access.ByEmail, Value: "u07@big.example"})
	wantErr(t, err, apierror.ErrNotFound, "user of the deleted tenant by email")
	if u, err := s.GetUser(ctx, "other", "u00"); err != nil || u.TenantID != "other" {
		t.Fatalf("other tenant's user: %+v, %v", u, err)
	}
	if _, err := s.GetClient(ctx, "o2"); err != nil {
		t.Fatalf("other tenant's client: %v", err)
	}

	mustTenant(t, s, "big")
	if got := clientIDs(t, s, "big"); len(got) != 0 {
		t.Fatalf("re-created tenant lists %d clients", len(got))
	}
	if items, _, err := s.ListUsers(ctx, "big", registry.ListOptions{}); err != nil || len(items) != 0 {
		t.Fatalf("re-created tenant lists users %d, %v", len(items), err)
	}
	if _, err := s.FindUser(ctx, "big", access.Selector{Kind: access.ByLoginName, Value: "login-u03"}); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("re-created tenant finds an old user: %v", err)
	}
	mustClient(t, s, "big", "big-00001")
	mustClient(t, s, "other", "big-00002")
	mustUser(t, s, newUser("big", "u03"))
	if got := clientIDs(t, s, "big"); !slices.Equal(got, []string{"big-00001"}) {
		t.Fatalf("re-created tenant lists %q", got)
	}
}

// testLargeSeedFailure: a seed of thousands of records with one bad record at the end stores nothing, and a
// correct seed afterwards succeeds.
func testLargeSeedFailure(t *testing.T, s registry.Store) {
	ctx := context.Background()
	tenants, clients, users := largeSeed()
	bad := append(slices.Clone(clients), newClient("missing", "orphan"))
	if done, err := s.Seed(ctx, tenants, bad, users); err == nil || done {
		t.Fatalf("Seed with a client of an unknown tenant = %v, %v", done, err)
	}
	dup := append(slices.Clone(users), newUser("big", "u00"))
	if done, err := s.Seed(ctx, tenants, clients, dup); !errors.Is(err, apierror.ErrAlreadyExists) || done {
		t.Fatalf("Seed with a duplicate user = %v, %v", done, err)
	}
	if items, _, _ := s.ListTenants(ctx, registry.ListOptions{}); len(items) != 0 {
		t.Fatalf("failed seeds left tenants %v", items)
	}
	if _, err := s.GetClient(ctx, "big-00000"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("failed seeds left a client: %v", err)
	}
	if n := len(clientIDs(t, s, "")); n != 0 {
		t.Fatalf("failed seeds left %d clients", n)
	}
	if done, err := s.Seed(ctx, tenants[1:], clients[LargeTenantClients:], users[50:]); err != nil || !done {
		t.Fatalf("Seed after failed seeds = %v, %v", done, err)
	}
	if got := clientIDs(t, s, ""); !slices.Equal(got, []string{"o1", "o2"}) {
		t.Fatalf("clients after the good seed: %q", got)
	}
}

// testSeedConcurrent: of several callers seeding an empty registry at once, exactly one seeds, and the
// registry holds exactly its records.
func testSeedConcurrent(t *testing.T, s registry.Store) {
	ctx := context.Background()
	const n = 4
	results := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("t%d", i)
			results[i], errs[i] = s.Seed(ctx, []registry.Tenant{{ID: id, Code: id, CreateTime: t0}},
				[]registry.Client{newClient(id, "admin")}, []registry.User{newUser(id, "root")})
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Seed %d: %v", i, errs[i])
		}
		if results[i] {
			if winner >= 0 {
				t.Fatalf("Seeds %d and %d both seeded", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no Seed seeded")
	}
	tenants, _, _ := s.ListTenants(ctx, registry.ListOptions{})
	if len(tenants) != 1 || tenants[0].ID != fmt.Sprintf("t%d", winner) {
		t.Fatalf("tenants after concurrent seeds: %+v (winner %d)", tenants, winner)
	}
	if c, err := s.GetClient(ctx, "admin"); err != nil || c.TenantID != tenants[0].ID {
		t.Fatalf("seeded client: %+v, %v", c, err)
	}
}
