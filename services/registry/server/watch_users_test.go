package server_test

import (
	"testing"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// TestWatchUsers: the change feed lists every user account in its snapshot (synced then says users_synced)
// and reports creation, disabling (with a disable time that later updates keep), deletion and tenant
// deletion; a user created again with the same id has another incarnation. No record carries a password
// hash (what else it carries, see TestWatchCarriesNewFields).
func TestWatchUsers(t *testing.T) {
	e := newEnv(t)
	first := e.createUser(t, "acme", &registryv1.User{LoginName: "alice", Password: new("alice-password-1")})
	next := watch(t, e)
	snap := next().GetUserUpsert()
	if snap.GetUserId() != first.GetUserId() || snap.GetTenantId() != "acme" || snap.GetIncarnation() == "" || snap.GetDisabled() {
		t.Fatalf("snapshot user record: %v", snap)
	}
	if ev := next(); !ev.GetSynced() || !ev.GetUsersSynced() {
		t.Fatalf("after the snapshot: %v; want synced with users_synced", ev)
	}

	created := e.createUser(t, "acme", &registryv1.User{UserId: "u2", LoginName: "bob", Disabled: true})
	rec := next().GetUserUpsert()
	if rec.GetUserId() != created.GetUserId() || !rec.GetDisabled() || rec.GetDisableTime() == nil || rec.GetIncarnation() == "" {
		t.Fatalf("created disabled user: %v", rec)
	}
	inc := rec.GetIncarnation()

	if _, err := e.users.UpdateUser(as(tokSystem), &registryv1.UpdateUserRequest{TenantId: "acme", UserId: "u2", User: &registryv1.User{LoginName: "bob", DisplayName: "Bob"}}); err != nil {
		t.Fatal(err)
	}
	enabled := next().GetUserUpsert()
	if enabled.GetDisabled() || enabled.GetIncarnation() != inc || !enabled.GetDisableTime().AsTime().Equal(rec.GetDisableTime().AsTime()) {
		t.Fatalf("enabled user: %v; want the same incarnation and the last disable time kept", enabled)
	}

	if _, err := e.users.DeleteUser(as(tokSystem), &registryv1.DeleteUserRequest{TenantId: "acme", UserId: "u2"}); err != nil {
		t.Fatal(err)
	}
	del := next().GetDeletedUser()
	if del.GetTenantId() != "acme" || del.GetUserId() != "u2" || del.GetIncarnation() != inc {
		t.Fatalf("deleted user event: %v", del)
	}
	e.createUser(t, "acme", &registryv1.User{UserId: "u2", LoginName: "bob"})
	if again := next().GetUserUpsert(); again.GetUserId() != "u2" || again.GetIncarnation() == "" || again.GetIncarnation() == inc {
		t.Fatalf("re-created user: %v; want a new incarnation (old %q)", again, inc)
	}

	if _, err := e.tenants.DeleteTenant(as(tokSystem), &registryv1.DeleteTenantRequest{TenantId: "acme"}); err != nil {
		t.Fatal(err)
	}
	for {
		ev := next()
		if ev.GetDeletedClientId() != "" {
			continue
		}
		if ev.GetDeletedTenantId() != "acme" {
			t.Fatalf("tenant deletion: %v", ev)
		}
		break
	}
}
