// Package storetest is the conformance suite of registry.Store. Every backend runs it unchanged:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) registry.Store { return openStore(t) })
//	}
//
// open must return a new, empty store for each call; the suite closes nothing (open should register cleanup).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open func(t *testing.T) registry.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s registry.Store)
	}{
		{"TenantCRUD", testTenantCRUD},
		{"TenantUniqueCode", testTenantUniqueCode},
		{"TenantPaging", testTenantPaging},
		{"TenantCascade", testTenantCascade},
		{"ClientCRUD", testClientCRUD},
		{"ClientNeedsTenant", testClientNeedsTenant},
		{"ClientIDGloballyUnique", testClientIDGloballyUnique},
		{"ClientPaging", testClientPaging},
		{"ClientUpdateAbort", testClientUpdateAbort},
		{"ClientUpdateConcurrent", testClientUpdateConcurrent},
		{"RecordSecretUse", testRecordSecretUse},
		{"UserCRUD", testUserCRUD},
		{"UserUniqueIndexes", testUserUniqueIndexes},
		{"UserFind", testUserFind},
		{"UserIndexesFollowUpdates", testUserIndexesFollowUpdates},
		{"UserPaging", testUserPaging},
		{"UserIncarnation", testUserIncarnation},
		{"ClientFieldsRoundTrip", testClientFieldsRoundTrip},
		{"UserFieldsRoundTrip", testUserFieldsRoundTrip},
		{"SignInRoundTrip", testSignInRoundTrip},
		{"FederatedIndex", testFederatedIndex},
		{"Seed", testSeed},
		{"ReturnedValuesAreCopies", testCopies},
		{"WatchReportsWrites", testWatchReportsWrites},
		{"WatchReplay", testWatchReplay},
		{"WatchEnds", testWatchEnds},
		{"WatchChangesAreCopies", testWatchChangesAreCopies},
		{"WatchSeed", testWatchSeed},
		{"UpdateMayRunAgain", testUpdateMayRunAgain},
		{"SeedConcurrent", testSeedConcurrent},
		{"LargeSeedFailure", testLargeSeedFailure},
		{"LargeSeedAndTenantDelete", testLargeSeedAndTenantDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	runResources(t, open)
	runTenantWithClients(t, open)
	runFilter(t, open)
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func mustTenant(t *testing.T, s registry.Store, id string) registry.Tenant {
	t.Helper()
	tn, err := s.CreateTenant(context.Background(), registry.Tenant{ID: id, Code: "code-" + id, Name: "Tenant " + id, CreateTime: t0})
	if err != nil {
		t.Fatalf("CreateTenant(%s): %v", id, err)
	}
	return tn
}

func newClient(tenant, id string) registry.Client {
	c := registry.DefaultClient()
	c.ID, c.TenantID, c.Name = id, tenant, "Client "+id
	c.AllowedGrantTypes = []string{registry.GrantClientCredentials}
	c.AllowedScopes = []string{"api"}
	c.RedirectURIs = []string{"https://app.example/cb"}
	c.CreateTime, c.UpdateTime = t0, t0
	c.Secrets = []registry.Secret{{
		ID: "s1", Description: "first", KeyID: "k1", Digest: []byte{1, 2, 3}, ValueDisplay: "abc",
		StartTime: t0, Expiration: t0.Add(48 * time.Hour),
	}}
	return c
}

func mustClient(t *testing.T, s registry.Store, tenant, id string) registry.Client {
	t.Helper()
	c, err := s.CreateClient(context.Background(), newClient(tenant, id))
	if err != nil {
		t.Fatalf("CreateClient(%s): %v", id, err)
	}
	return c
}

func newUser(tenant, id string) registry.User {
	return registry.User{
		ID: id, TenantID: tenant, LoginName: "login-" + id, DisplayName: "User " + id,
		PasswordHash: "$argon2id$fake", Roles: []string{access.RoleTenantAdmin}, CreateTime: t0, UpdateTime: t0,
	}
}

func mustUser(t *testing.T, s registry.Store, u registry.User) registry.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), u)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", u.ID, err)
	}
	return u
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func testTenantCRUD(t *testing.T, s registry.Store) {
	ctx := context.Background()
	want := mustTenant(t, s, "t1")
	got, err := s.GetTenant(ctx, "t1")
	if err != nil || !equalTenant(got, want) {
		t.Fatalf("GetTenant = %+v, %v; want %+v", got, err, want)
	}
	got, err = s.GetTenantByCode(ctx, "code-t1")
	if err != nil || got.ID != "t1" {
		t.Fatalf("GetTenantByCode = %+v, %v", got, err)
	}
	_, err = s.GetTenant(ctx, "nope")
	wantErr(t, err, apierror.ErrNotFound, "GetTenant(unknown)")
	_, err = s.GetTenantByCode(ctx, "nope")
	wantErr(t, err, apierror.ErrNotFound, "GetTenantByCode(unknown)")
	_, err = s.CreateTenant(ctx, registry.Tenant{ID: "t1", Code: "other"})
	wantErr(t, err, apierror.ErrAlreadyExists, "CreateTenant(duplicate id)")

	up, err := s.UpdateTenant(ctx, "t1", func(tn registry.Tenant) (registry.Tenant, error) {
		tn.Code, tn.Name, tn.ID = "renamed", "Renamed", "ignored"
		return tn, nil
	})
	if err != nil || up.ID != "t1" || up.Code != "renamed" || up.Name != "Renamed" {
		t.Fatalf("UpdateTenant = %+v, %v", up, err)
	}
	if _, err := s.GetTenantByCode(ctx, "code-t1"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("old code still resolves: %v", err)
	}
	if got, err := s.GetTenantByCode(ctx, "renamed"); err != nil || got.ID != "t1" {
		t.Fatalf("new code: %+v, %v", got, err)
	}
	_, err = s.UpdateTenant(ctx, "nope", func(tn registry.Tenant) (registry.Tenant, error) { return tn, nil })
	wantErr(t, err, apierror.ErrNotFound, "UpdateTenant(unknown)")
	_, err = s.DeleteTenant(ctx, "nope")
	wantErr(t, err, apierror.ErrNotFound, "DeleteTenant(unknown)")
	if _, err := s.DeleteTenant(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetTenant(ctx, "t1")
	wantErr(t, err, apierror.ErrNotFound, "GetTenant after delete")
	// The code is free again.
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "t2", Code: "renamed"}); err != nil {
		t.Fatalf("code not released by delete: %v", err)
	}
}

func testTenantUniqueCode(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	_, err := s.CreateTenant(ctx, registry.Tenant{ID: "c", Code: "code-a"})
	wantErr(t, err, apierror.ErrAlreadyExists, "CreateTenant(duplicate code)")
	_, err = s.UpdateTenant(ctx, "b", func(tn registry.Tenant) (registry.Tenant, error) {
		tn.Code = "code-a"
		return tn, nil
	})
	wantErr(t, err, apierror.ErrAlreadyExists, "UpdateTenant(taken code)")
	if got, _ := s.GetTenant(ctx, "b"); got.Code != "code-b" {
		t.Fatalf("failed update changed the tenant: %+v", got)
	}
	// Keeping one's own code is not a conflict.
	if _, err := s.UpdateTenant(ctx, "a", func(tn registry.Tenant) (registry.Tenant, error) { return tn, nil }); err != nil {
		t.Fatal(err)
	}
}

func testTenantPaging(t *testing.T, s registry.Store) {
	ctx := context.Background()
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("t%02d", i)
		mustTenant(t, s, id)
		want = append(want, id)
	}
	got := collect(t, func(o registry.ListOptions) ([]string, string, error) {
		items, next, err := s.ListTenants(ctx, o)
		return ids(items, func(x registry.Tenant) string { return x.ID }), next, err
	}, 3)
	if !slices.Equal(got, want) {
		t.Fatalf("paged tenants = %v, want %v", got, want)
	}
}

// collect pages through a listing with the given page size, checking that only the last page is short.
func collect(t *testing.T, list func(registry.ListOptions) ([]string, string, error), size int) []string {
	t.Helper()
	var all []string
	after := ""
	for range 1000 {
		items, next, err := list(registry.ListOptions{Limit: size, After: after})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		if len(items) != size {
			t.Fatalf("page of %d items before the end (size %d)", len(items), size)
		}
		after = next
	}
	t.Fatal("listing never ends")
	return nil
}

func ids[T any](items []T, id func(T) string) []string {
	out := []string{}
	for _, x := range items {
		out = append(out, id(x))
	}
	return out
}

func testTenantCascade(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	mustClient(t, s, "a", "a1")
	mustClient(t, s, "a", "a2")
	mustClient(t, s, "b", "b1")
	u := newUser("a", "u1")
	u.Email, u.Mobile = "u1@example.com", "+100"
	mustUser(t, s, u)
	mustUser(t, s, newUser("b", "u1"))

	deleted, err := s.DeleteTenant(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"a1", "a2"}) {
		t.Fatalf("deleted clients = %v", deleted)
	}
	for _, id := range []string{"a1", "a2"} {
		_, err := s.GetClient(ctx, id)
		wantErr(t, err, apierror.ErrNotFound, "client of deleted tenant")
	}
	_, err = s.GetUser(ctx, "a", "u1")
	wantErr(t, err, apierror.ErrNotFound, "user of deleted tenant")
	if _, err := s.GetClient(ctx, "b1"); err != nil {
		t.Fatalf("other tenant's client gone: %v", err)
	}
	if _, err := s.GetUser(ctx, "b", "u1"); err != nil {
		t.Fatalf("other tenant's user gone: %v", err)
	}
	all, _, err := s.ListClients(ctx, "", registry.ListOptions{})
	if err != nil || len(all) != 1 {
		t.Fatalf("all clients after cascade = %d, %v", len(all), err)
	}
	// Re-creating the tenant starts empty: no stale index entries.
	mustTenant(t, s, "a")
	if items, _, _ := s.ListClients(ctx, "a", registry.ListOptions{}); len(items) != 0 {
		t.Fatalf("recreated tenant has clients %v", items)
	}
	mustClient(t, s, "a", "a1")
	mustUser(t, s, u)
}

func testClientCRUD(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	want := newClient("a", "c1")
	want.AllowedCORSOrigins = []string{"https://app.example"}
	want.PostLogoutRedirectURIs = []string{"https://app.example/bye"}
	want.BackChannelLogoutURI = "https://app.example/bcl"
	want.AccessTokenLifetime = 3600 * time.Second
	mustClient(t, s, "a", "seed") // another client, so the listing has two
	if _, err := s.CreateClient(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetClient(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !equalClient(got, want) {
		t.Fatalf("GetClient = %+v\nwant %+v", got, want)
	}
	_, err = s.GetClient(ctx, "nope")
	wantErr(t, err, apierror.ErrNotFound, "GetClient(unknown)")

	up, err := s.UpdateClient(ctx, "c1", func(c registry.Client) (registry.Client, error) {
		c.Name = "renamed"
		c.TenantID = "elsewhere" // must be ignored
		c.Secrets = append(c.Secrets, registry.Secret{ID: "s2", KeyID: "k1", Digest: []byte{9}, StartTime: t0, Expiration: t0.Add(time.Hour)})
		return c, nil
	})
	if err != nil || up.Name != "renamed" || up.TenantID != "a" || len(up.Secrets) != 2 {
		t.Fatalf("UpdateClient = %+v, %v", up, err)
	}
	got, _ = s.GetClient(ctx, "c1")
	if !equalClient(got, up) {
		t.Fatalf("stored %+v\nreturned %+v", got, up)
	}
	_, err = s.UpdateClient(ctx, "nope", func(c registry.Client) (registry.Client, error) { return c, nil })
	wantErr(t, err, apierror.ErrNotFound, "UpdateClient(unknown)")

	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetClient(ctx, "c1")
	wantErr(t, err, apierror.ErrNotFound, "GetClient after delete")
	wantErr(t, s.DeleteClient(ctx, "c1"), apierror.ErrNotFound, "DeleteClient twice")
	items, _, err := s.ListClients(ctx, "a", registry.ListOptions{})
	if err != nil || len(items) != 1 || items[0].ID != "seed" {
		t.Fatalf("ListClients after delete = %v, %v", items, err)
	}
	// Re-creating a deleted client works.
	mustClient(t, s, "a", "c1")
}

func testClientNeedsTenant(t *testing.T, s registry.Store) {
	_, err := s.CreateClient(context.Background(), newClient("ghost", "c1"))
	wantErr(t, err, apierror.ErrNotFound, "CreateClient(unknown tenant)")
	items, _, err := s.ListClients(context.Background(), "ghost", registry.ListOptions{})
	if err != nil || len(items) != 0 {
		t.Fatalf("ListClients(unknown tenant) = %v, %v", items, err)
	}
}

func testClientIDGloballyUnique(t *testing.T, s registry.Store) {
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	mustClient(t, s, "a", "c1")
	_, err := s.CreateClient(context.Background(), newClient("b", "c1"))
	wantErr(t, err, apierror.ErrAlreadyExists, "CreateClient(id taken in another tenant)")
	_, err = s.CreateClient(context.Background(), newClient("a", "c1"))
	wantErr(t, err, apierror.ErrAlreadyExists, "CreateClient(duplicate)")
}

func testClientPaging(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	var wantA, wantAll []string
	for i := range 5 {
		a, b := fmt.Sprintf("a%02d", i), fmt.Sprintf("b%02d", i)
		mustClient(t, s, "a", a)
		mustClient(t, s, "b", b)
		wantA = append(wantA, a)
	}
	for i := range 5 {
		wantAll = append(wantAll, fmt.Sprintf("a%02d", i))
	}
	for i := range 5 {
		wantAll = append(wantAll, fmt.Sprintf("b%02d", i))
	}
	for _, size := range []int{1, 2, 5, 100} {
		got := collect(t, func(o registry.ListOptions) ([]string, string, error) {
			items, next, err := s.ListClients(ctx, "a", o)
			return ids(items, func(c registry.Client) string { return c.ID }), next, err
		}, size)
		if !slices.Equal(got, wantA) {
			t.Fatalf("size %d: tenant a clients = %v, want %v", size, got, wantA)
		}
		got = collect(t, func(o registry.ListOptions) ([]string, string, error) {
			items, next, err := s.ListClients(ctx, "", o)
			return ids(items, func(c registry.Client) string { return c.ID }), next, err
		}, size)
		if !slices.Equal(got, wantAll) {
			t.Fatalf("size %d: all clients = %v, want %v", size, got, wantAll)
		}
	}
}

func testClientUpdateAbort(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	before := mustClient(t, s, "a", "c1")
	boom := errors.New("boom")
	_, err := s.UpdateClient(ctx, "c1", func(c registry.Client) (registry.Client, error) {
		c.Name = "changed"
		return c, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error = %v, want the callback's", err)
	}
	after, _ := s.GetClient(ctx, "c1")
	if !equalClient(before, after) {
		t.Fatalf("aborted update changed the client: %+v", after)
	}
}

// testClientUpdateConcurrent checks that updates run inside the transaction: no increment is lost.
func testClientUpdateConcurrent(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustClient(t, s, "a", "c1")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.UpdateClient(ctx, "c1", func(c registry.Client) (registry.Client, error) {
				c.AccessTokenLifetime += time.Second
				return c, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, _ := s.GetClient(ctx, "c1")
	if want := registry.DefaultAccessTokenLifetime + n*time.Second; c.AccessTokenLifetime != want {
		t.Fatalf("lifetime after %d concurrent increments = %v, want %v", n, c.AccessTokenLifetime, want)
	}
}

func testRecordSecretUse(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustClient(t, s, "a", "c1")
	mustClient(t, s, "a", "c2")
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	err := s.RecordSecretUse(ctx, []registry.SecretUse{
		{ClientID: "c1", SecretID: "s1", Time: t2},
		{ClientID: "c1", SecretID: "s1", Time: t1}, // older: ignored
		{ClientID: "c2", SecretID: "s1", Time: t1},
		{ClientID: "c2", SecretID: "unknown", Time: t1},
		{ClientID: "ghost", SecretID: "s1", Time: t1},
	})
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := s.GetClient(ctx, "c1")
	c2, _ := s.GetClient(ctx, "c2")
	if !c1.Secrets[0].LastUsed.Equal(t2) || !c2.Secrets[0].LastUsed.Equal(t1) {
		t.Fatalf("lastUsed = %v, %v; want %v, %v", c1.Secrets[0].LastUsed, c2.Secrets[0].LastUsed, t2, t1)
	}
	// A later batch with an older time does not move lastUsed back.
	if err := s.RecordSecretUse(ctx, []registry.SecretUse{{ClientID: "c1", SecretID: "s1", Time: t0}}); err != nil {
		t.Fatal(err)
	}
	if c1, _ := s.GetClient(ctx, "c1"); !c1.Secrets[0].LastUsed.Equal(t2) {
		t.Fatalf("lastUsed moved back to %v", c1.Secrets[0].LastUsed)
	}
	if err := s.RecordSecretUse(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func testUserCRUD(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	want := newUser("a", "u1")
	want.Email, want.Mobile, want.Disabled = "u1@example.com", "+4912345", true
	want.EmailVerified, want.PhoneVerified = true, true
	mustUser(t, s, want)
	got, err := s.GetUser(ctx, "a", "u1")
	if err != nil || !equalUser(got, want) {
		t.Fatalf("GetUser = %+v, %v\nwant %+v", got, err, want)
	}
	_, err = s.GetUser(ctx, "b", "u1")
	wantErr(t, err, apierror.ErrNotFound, "GetUser(other tenant)")
	_, err = s.CreateUser(ctx, newUser("ghost", "u1"))
	wantErr(t, err, apierror.ErrNotFound, "CreateUser(unknown tenant)")
	dup := newUser("a", "u1")
	dup.LoginName = "someone-else"
	_, err = s.CreateUser(ctx, dup)
	wantErr(t, err, apierror.ErrAlreadyExists, "CreateUser(duplicate id)")

	up, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) {
		u.DisplayName, u.Disabled, u.ID = "New", false, "ignored"
		return u, nil
	})
	if err != nil || up.DisplayName != "New" || up.Disabled || up.ID != "u1" {
		t.Fatalf("UpdateUser = %+v, %v", up, err)
	}
	_, err = s.UpdateUser(ctx, "a", "nope", func(u registry.User) (registry.User, error) { return u, nil })
	wantErr(t, err, apierror.ErrNotFound, "UpdateUser(unknown)")
	if err := s.DeleteUser(ctx, "a", "u1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteUser(ctx, "a", "u1"), apierror.ErrNotFound, "DeleteUser twice")
	_, err = s.FindUser(ctx, "a", access.Selector{Kind: access.ByEmail, Value: "u1@example.com"})
	wantErr(t, err, apierror.ErrNotFound, "FindUser after delete")
	// All unique names are free again.
	mustUser(t, s, want)
}

func testUserUniqueIndexes(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	u := newUser("a", "u1")
	u.Email, u.Mobile = "Alice@Example.com", "+100"
	mustUser(t, s, u)
	for name, mutate := range map[string]func(*registry.User){
		"login":               func(x *registry.User) { x.LoginName = u.LoginName },
		"login, other case":   func(x *registry.User) { x.LoginName = "LOGIN-U1" },
		"email":               func(x *registry.User) { x.Email = "Alice@Example.com" },
		"email, other case":   func(x *registry.User) { x.Email = "alice@example.com" },
		"mobile":              func(x *registry.User) { x.Mobile = "+100" },
		"login with new id 2": func(x *registry.User) { x.ID = "u3"; x.LoginName = u.LoginName },
	} {
		x := newUser("a", "u2")
		mutate(&x)
		_, err := s.CreateUser(ctx, x)
		wantErr(t, err, apierror.ErrAlreadyExists, "CreateUser(duplicate "+name+")")
	}
	// Nothing half-written by the failures: u2 can be created with fresh values.
	mustUser(t, s, newUser("a", "u2"))
	// The same names are fine in another tenant.
	other := u
	other.TenantID = "b"
	mustUser(t, s, other)
	// Empty email and mobile are not unique values.
	mustUser(t, s, newUser("a", "u4"))
}

func testUserFind(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	u := newUser("a", "u1")
	u.LoginName, u.Email, u.Mobile = "Alice", "alice@example.com", "+100"
	mustUser(t, s, u)
	for _, sel := range []access.Selector{
		{Kind: access.ByUID, Value: "u1"},
		{Kind: access.ByLoginName, Value: "Alice"},
		{Kind: access.ByLoginName, Value: "alice"},
		{Kind: access.ByEmail, Value: "ALICE@example.com"},
		{Kind: access.ByMobile, Value: "+100"},
	} {
		got, err := s.FindUser(ctx, "a", sel)
		if err != nil || got.ID != "u1" {
			t.Fatalf("FindUser(%s) = %+v, %v", sel, got, err)
		}
		_, err = s.FindUser(ctx, "b", sel)
		wantErr(t, err, apierror.ErrNotFound, "FindUser in another tenant "+sel.String())
	}
	for _, sel := range []access.Selector{
		{Kind: access.ByUID, Value: "u2"},
		{Kind: access.ByLoginName, Value: "bob"},
		{Kind: access.ByEmail, Value: "bob@example.com"},
		{Kind: access.ByMobile, Value: "+101"},
		{Kind: access.ByLoginName, Value: "Alice\x00x"},
	} {
		_, err := s.FindUser(ctx, "a", sel)
		wantErr(t, err, apierror.ErrNotFound, "FindUser("+sel.String()+")")
	}
}

func testUserIndexesFollowUpdates(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	u := newUser("a", "u1")
	u.Email, u.Mobile = "old@example.com", "+100"
	mustUser(t, s, u)
	other := newUser("a", "u2")
	other.Email = "taken@example.com"
	mustUser(t, s, other)

	_, err := s.UpdateUser(ctx, "a", "u1", func(x registry.User) (registry.User, error) {
		x.Email = "taken@example.com"
		return x, nil
	})
	wantErr(t, err, apierror.ErrAlreadyExists, "UpdateUser(taken email)")
	if got, err := s.FindUser(ctx, "a", access.Selector{Kind: access.ByEmail, Value: "old@example.com"}); err != nil || got.ID != "u1" {
		t.Fatalf("failed update lost the old index: %+v, %v", got, err)
	}

	if _, err := s.UpdateUser(ctx, "a", "u1", func(x registry.User) (registry.User, error) {
		x.LoginName, x.Email, x.Mobile = "renamed", "new@example.com", ""
		return x, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, sel := range []access.Selector{
		{Kind: access.ByLoginName, Value: "login-u1"},
		{Kind: access.ByEmail, Value: "old@example.com"},
		{Kind: access.ByMobile, Value: "+100"},
	} {
		_, err := s.FindUser(ctx, "a", sel)
		wantErr(t, err, apierror.ErrNotFound, "stale index "+sel.String())
	}
	for _, sel := range []access.Selector{
		{Kind: access.ByLoginName, Value: "renamed"},
		{Kind: access.ByEmail, Value: "new@example.com"},
	} {
		if got, err := s.FindUser(ctx, "a", sel); err != nil || got.ID != "u1" {
			t.Fatalf("FindUser(%s) = %+v, %v", sel, got, err)
		}
	}
	// The old values are free for others.
	x := newUser("a", "u3")
	x.LoginName, x.Email, x.Mobile = "login-u1", "old@example.com", "+100"
	mustUser(t, s, x)
}

func testUserPaging(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustTenant(t, s, "b")
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("u%02d", i)
		mustUser(t, s, newUser("a", id))
		mustUser(t, s, newUser("b", id))
		want = append(want, id)
	}
	got := collect(t, func(o registry.ListOptions) ([]string, string, error) {
		items, next, err := s.ListUsers(ctx, "a", o)
		for _, u := range items {
			if u.TenantID != "a" {
				t.Fatalf("listed user of tenant %q", u.TenantID)
			}
		}
		return ids(items, func(u registry.User) string { return u.ID }), next, err
	}, 2)
	if !slices.Equal(got, want) {
		t.Fatalf("users = %v, want %v", got, want)
	}
}

func testSeed(t *testing.T, s registry.Store) {
	ctx := context.Background()
	tn := registry.Tenant{ID: "default", Code: "default", Name: "System", CreateTime: t0}
	done, err := s.Seed(ctx, []registry.Tenant{tn}, []registry.Client{newClient("default", "admin")}, []registry.User{newUser("default", "u1")})
	if err != nil || !done {
		t.Fatalf("Seed(empty) = %v, %v", done, err)
	}
	if _, err := s.GetClient(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if u, err := s.GetUser(ctx, "default", "u1"); err != nil || u.Incarnation == "" {
		t.Fatalf("seeded user: %+v, %v; want it with an incarnation", u, err)
	}
	other := registry.Tenant{ID: "x", Code: "x"}
	done, err = s.Seed(ctx, []registry.Tenant{other}, nil, nil)
	if err != nil || done {
		t.Fatalf("Seed(non-empty) = %v, %v; want false, nil", done, err)
	}
	if _, err := s.GetTenant(ctx, "x"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatal("Seed wrote into a non-empty registry")
	}
}

func testCopies(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustClient(t, s, "a", "c1")
	c, _ := s.GetClient(ctx, "c1")
	c.RedirectURIs[0] = "mutated"
	c.Secrets[0].Digest[0] = 99
	again, _ := s.GetClient(ctx, "c1")
	if again.RedirectURIs[0] == "mutated" || again.Secrets[0].Digest[0] == 99 {
		t.Fatal("GetClient returned memory shared with the store")
	}
}

func equalTenant(a, b registry.Tenant) bool {
	return a.ID == b.ID && a.Code == b.Code && a.Name == b.Name && a.CreateTime.Equal(b.CreateTime) &&
		reflect.DeepEqual(a.SignInSettings, b.SignInSettings)
}

func equalClient(a, b registry.Client) bool {
	if len(a.Secrets) != len(b.Secrets) {
		return false
	}
	for i := range a.Secrets {
		x, y := a.Secrets[i], b.Secrets[i]
		if x.ID != y.ID || x.Description != y.Description || x.KeyID != y.KeyID || !slices.Equal(x.Digest, y.Digest) ||
			x.ValueDisplay != y.ValueDisplay || !x.StartTime.Equal(y.StartTime) || !x.Expiration.Equal(y.Expiration) ||
			!x.LastUsed.Equal(y.LastUsed) {
			return false
		}
	}
	return a.ID == b.ID && a.Name == b.Name && a.TenantID == b.TenantID &&
		a.AllowOfflineAccess == b.AllowOfflineAccess && a.AllowRememberConsent == b.AllowRememberConsent &&
		a.BackChannelLogoutSessionRequired == b.BackChannelLogoutSessionRequired &&
		a.BackChannelLogoutURI == b.BackChannelLogoutURI && a.RequireClientSecret == b.RequireClientSecret &&
		a.RequireConsent == b.RequireConsent && a.AllowNoPKCE == b.AllowNoPKCE && a.AllowROPC == b.AllowROPC &&
		slices.Equal(a.AllowedGrantTypes, b.AllowedGrantTypes) && slices.Equal(a.AllowedCORSOrigins, b.AllowedCORSOrigins) &&
		slices.Equal(a.AllowedScopes, b.AllowedScopes) && slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) && a.RedirectURIPrefixMatching == b.RedirectURIPrefixMatching &&
		a.AccessTokenLifetime == b.AccessTokenLifetime && a.RefreshTokenLifetime == b.RefreshTokenLifetime &&
		a.CreateTime.Equal(b.CreateTime) && a.UpdateTime.Equal(b.UpdateTime) && equalClientFields(a, b)
}

func equalUser(a, b registry.User) bool {
	return a.ID == b.ID && a.TenantID == b.TenantID && a.LoginName == b.LoginName && a.Email == b.Email &&
		a.Mobile == b.Mobile && a.DisplayName == b.DisplayName && a.PasswordHash == b.PasswordHash &&
		slices.Equal(a.Roles, b.Roles) && a.Disabled == b.Disabled && a.CreateTime.Equal(b.CreateTime) &&
		a.UpdateTime.Equal(b.UpdateTime) && a.DisableTime.Equal(b.DisableTime) &&
		a.EmailVerified == b.EmailVerified && a.PhoneVerified == b.PhoneVerified && equalUserFields(a, b) &&
		reflect.DeepEqual(a.Factors, b.Factors)
}

// testUserIncarnation: the store gives every created or seeded account a fresh incarnation (ignoring the
// caller's), keeps it through updates and reopening reads, keeps DisableTime, and gives a user deleted and
// created again with the same id (or in a tenant deleted and created again) a different one.
func testUserIncarnation(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	in := newUser("a", "u1")
	in.Incarnation = "chosen-by-caller"
	created := mustUser(t, s, in)
	if created.Incarnation == "" || created.Incarnation == "chosen-by-caller" {
		t.Fatalf("CreateUser incarnation = %q; want a new random value", created.Incarnation)
	}
	got, err := s.GetUser(ctx, "a", "u1")
	if err != nil || got.Incarnation != created.Incarnation {
		t.Fatalf("GetUser incarnation = %q, %v; want %q", got.Incarnation, err, created.Incarnation)
	}
	disabled := t0.Add(time.Minute)
	up, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) {
		u.Incarnation, u.Disabled, u.DisableTime = "changed", true, disabled
		return u, nil
	})
	if err != nil || up.Incarnation != created.Incarnation || !up.DisableTime.Equal(disabled) {
		t.Fatalf("UpdateUser = %+v, %v; want incarnation %q kept and the disable time stored", up, err, created.Incarnation)
	}
	if got, _ := s.GetUser(ctx, "a", "u1"); got.Incarnation != created.Incarnation || !got.DisableTime.Equal(disabled) {
		t.Fatalf("after update: incarnation %q disable time %v", got.Incarnation, got.DisableTime)
	}
	if err := s.DeleteUser(ctx, "a", "u1"); err != nil {
		t.Fatal(err)
	}
	again := mustUser(t, s, newUser("a", "u1"))
	if again.Incarnation == "" || again.Incarnation == created.Incarnation {
		t.Fatalf("re-created user has incarnation %q; want a new one (old %q)", again.Incarnation, created.Incarnation)
	}
	if _, err := s.DeleteTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustTenant(t, s, "a")
	third := mustUser(t, s, newUser("a", "u1"))
	if third.Incarnation == again.Incarnation || third.Incarnation == created.Incarnation {
		t.Fatalf("user of a re-created tenant reuses incarnation %q", third.Incarnation)
	}
}
