package server_test

import (
	"testing"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// TestUserVerification: emailVerified and phoneVerified are set on create and update, kept by an update
// that does not state them while the address stays the same, reset when the address changes (Keycloak
// behaviour), and never true without the address.
func TestUserVerification(t *testing.T) {
	e := newEnv(t)
	ctx := as(tokAcme)
	u := e.createUser(t, "acme", &registryv1.User{
		LoginName: "carol", Email: "carol@acme.example", Mobile: "+4915550", EmailVerified: new(true), PhoneVerified: new(true),
	})
	if !u.GetEmailVerified() || !u.GetPhoneVerified() || u.EmailVerified == nil {
		t.Fatalf("created %v", u)
	}
	update := func(in *registryv1.User) *registryv1.User {
		t.Helper()
		resp, err := e.users.UpdateUser(ctx, &registryv1.UpdateUserRequest{TenantId: "acme", UserId: u.GetUserId(), User: in})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.users.GetUser(ctx, &registryv1.GetUserRequest{TenantId: "acme", UserId: u.GetUserId()})
		if err != nil || got.GetUser().GetEmailVerified() != resp.GetUser().GetEmailVerified() || got.GetUser().GetPhoneVerified() != resp.GetUser().GetPhoneVerified() {
			t.Fatalf("stored %v, answered %v (%v)", got.GetUser(), resp.GetUser(), err)
		}
		return resp.GetUser()
	}
	steps := []struct {
		name                string
		in                  *registryv1.User
		wantEmail, wantPhon bool
	}{
		{"same addresses, flags omitted", &registryv1.User{LoginName: "carol", Email: "carol@acme.example", Mobile: "+4915550", DisplayName: "C"}, true, true},
		{"same e-mail in other case", &registryv1.User{LoginName: "carol", Email: "Carol@ACME.example", Mobile: "+4915550"}, true, true},
		{"new e-mail, flag omitted", &registryv1.User{LoginName: "carol", Email: "carol@new.example", Mobile: "+4915550"}, false, true},
		{"new mobile, flag omitted", &registryv1.User{LoginName: "carol", Email: "carol@new.example", Mobile: "+4915551"}, false, false},
		{"flags stated", &registryv1.User{LoginName: "carol", Email: "carol@new.example", Mobile: "+4915551", EmailVerified: new(true), PhoneVerified: new(true)}, true, true},
		{"new e-mail, stated verified", &registryv1.User{LoginName: "carol", Email: "c@new.example", Mobile: "+4915551", EmailVerified: new(true)}, true, true},
		{"stated false", &registryv1.User{LoginName: "carol", Email: "c@new.example", Mobile: "+4915551", PhoneVerified: new(false)}, true, false},
		{"addresses removed", &registryv1.User{LoginName: "carol"}, false, false},
	}
	for _, st := range steps {
		got := update(st.in)
		if got.GetEmailVerified() != st.wantEmail || got.GetPhoneVerified() != st.wantPhon {
			t.Fatalf("%s: emailVerified %t phoneVerified %t, want %t %t", st.name, got.GetEmailVerified(), got.GetPhoneVerified(), st.wantEmail, st.wantPhon)
		}
	}

	for _, tc := range []struct {
		u     *registryv1.User
		field string
	}{
		{&registryv1.User{LoginName: "x", EmailVerified: new(true)}, "emailVerified"},
		{&registryv1.User{LoginName: "x", PhoneVerified: new(true)}, "phoneVerified"},
	} {
		_, err := e.users.CreateUser(ctx, &registryv1.CreateUserRequest{TenantId: "acme", User: tc.u})
		wantField(t, err, tc.field)
		_, err = e.users.UpdateUser(ctx, &registryv1.UpdateUserRequest{TenantId: "acme", UserId: u.GetUserId(), User: tc.u})
		wantField(t, err, tc.field)
	}
}
