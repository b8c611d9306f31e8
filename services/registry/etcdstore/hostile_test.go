package etcdstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry"
)

// errSeenEnd ends a watch once it delivered the marker tenant.
var errSeenEnd = errors.New("marker seen")

// TestValuesThatCannotBeKeysAreRefused: an ID, tenant code, login name, email or mobile number that is not
// valid UTF-8 (or holds a NUL byte) would be stored at a key its JSON record no longer names (JSON keeps
// U+FFFD in place of the bad bytes). The store refuses each one and changes nothing, so every replica's watch
// goes on past the refused write and no index entry is left that a later delete cannot find.
func TestValuesThatCannotBeKeysAreRefused(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s := open(t, c)
	ctx := context.Background()
	from := s.Revision()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "acme", Code: "acme"}); err != nil {
		t.Fatal(err)
	}
	user := func(mod func(*registry.User)) registry.User {
		u := registry.User{ID: "u1", TenantID: "acme", LoginName: "alice"}
		mod(&u)
		return u
	}
	client := func(id string) registry.Client {
		cl := registry.DefaultClient()
		cl.ID, cl.TenantID = id, "acme"
		return cl
	}
	cases := []struct {
		name  string
		write func() error
	}{
		{"tenant id", func() error { _, err := s.CreateTenant(ctx, registry.Tenant{ID: "t\xff", Code: "t1"}); return err }},
		{"tenant code", func() error { _, err := s.CreateTenant(ctx, registry.Tenant{ID: "t2", Code: "c\xfe"}); return err }},
		{"tenant code update", func() error {
			_, err := s.UpdateTenant(ctx, "acme", func(t registry.Tenant) (registry.Tenant, error) { t.Code = "c\xfd"; return t, nil })
			return err
		}},
		{"client id", func() error { _, err := s.CreateClient(ctx, client("app\xff")); return err }},
		{"client id with NUL", func() error { _, err := s.CreateClient(ctx, client("app\x00x")); return err }},
		{"user id", func() error { _, err := s.CreateUser(ctx, user(func(u *registry.User) { u.ID = "u\xff" })); return err }},
		{"login name", func() error {
			_, err := s.CreateUser(ctx, user(func(u *registry.User) { u.ID, u.LoginName = "u2", "bob\xff" }))
			return err
		}},
		{"email", func() error {
			_, err := s.CreateUser(ctx, user(func(u *registry.User) { u.ID, u.LoginName, u.Email = "u3", "carol", "c\xff@example.com" }))
			return err
		}},
		{"mobile", func() error {
			_, err := s.CreateUser(ctx, user(func(u *registry.User) { u.ID, u.LoginName, u.Mobile = "u4", "dave", "+1\xff" }))
			return err
		}},
	}
	for _, tc := range cases {
		if err := tc.write(); err == nil {
			t.Errorf("%s: a value that is not valid UTF-8 (or holds NUL) was stored", tc.name)
		}
	}
	if ts, _, err := s.ListTenants(ctx, registry.ListOptions{}); err != nil || len(ts) != 1 || ts[0].Code != "acme" {
		t.Errorf("tenants after the refused writes = %+v, %v; want acme alone, unchanged", ts, err)
	}
	if cs, _, err := s.ListClients(ctx, "", registry.ListOptions{}); err != nil || len(cs) != 0 {
		t.Errorf("clients after the refused writes = %+v, %v; want none", cs, err)
	}
	if us, _, err := s.ListUsers(ctx, "acme", registry.ListOptions{}); err != nil || len(us) != 0 {
		t.Errorf("users after the refused writes = %+v, %v; want none", us, err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "zz-end", Code: "zz-end"}); err != nil {
		t.Fatal(err)
	}
	// A replica following the registry reads every commit, the refused ones' neighbours included, up to the
	// marker.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := s.Watch(wctx, from, func(b changelog.Batch[registry.Change]) error {
		for _, ch := range b.Changes {
			if ch.Tenant != nil && ch.Tenant.ID == "zz-end" {
				return errSeenEnd
			}
		}
		return nil
	})
	if !errors.Is(err, errSeenEnd) {
		t.Fatalf("watch over the refused writes: %v; want it to reach the marker tenant", err)
	}
}
