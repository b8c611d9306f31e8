package console

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// usersWorld is a fake UserService with one stored user; it records the UpdateUser requests.
type usersWorld struct {
	stored  *registryv1.User
	updates []*registryv1.UpdateUserRequest
	refuse  error
}

func (w *usersWorld) conn() fakeConn {
	return fakeConn{handle: func(_ context.Context, method string, req any) (proto.Message, error) {
		switch method {
		case "/authsuite.registry.v1.UserService/GetUser":
			return &registryv1.GetUserResponse{User: proto.Clone(w.stored).(*registryv1.User)}, nil
		case "/authsuite.registry.v1.UserService/UpdateUser":
			r := req.(*registryv1.UpdateUserRequest)
			w.updates = append(w.updates, r)
			if w.refuse != nil {
				return nil, w.refuse
			}
			return &registryv1.UpdateUserResponse{User: r.GetUser()}, nil
		}
		return nil, status.Error(codes.Unimplemented, method)
	}}
}

func postForm(t *testing.T, w *usersWorld, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	c, ck := signedInConsole(t, w.conn(), w.conn(), nil)
	form.Set("csrf", "csrf")
	r := httptest.NewRequest("POST", testIssuer+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(ck)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, r)
	return rec
}

func storedCarol() *registryv1.User {
	return &registryv1.User{UserId: "u1", LoginName: "carol", Email: "carol@acme.example", Mobile: "+4912345", Disabled: true,
		EmailVerified: proto.Bool(true), PhoneVerified: proto.Bool(true), Roles: []string{"tenant_admin"}, Groups: []string{"ops"},
		Attributes: map[string]string{"department": "R&D"}}
}

// TestUserEditKeepsWhatTheFormDoesNotShow: UpdateUser replaces the profile, so the edit form's save sends
// back the disabled state and phone verification as stored, never a password; email verification follows
// the box while the address stays, and is sent for a new address only when ticked now.
func TestUserEditKeepsWhatTheFormDoesNotShow(t *testing.T) {
	form := url.Values{"loginName": {"carol"}, "email": {"Carol@ACME.example"}, "mobile": {"+4912345"}, "roles": {"tenant_admin, auditor"},
		"groups": {"ops\nbilling"}, "attributes": {"department=R&D\nfloor = 3\n"}, "emailVerifiedWas": {"on"}}
	w := &usersWorld{stored: storedCarol()}
	if rec := postForm(t, w, "/console/users/u1?tenant=t-acme", form); rec.Code != 303 {
		t.Fatalf("save: %d %s", rec.Code, rec.Body)
	}
	u := w.updates[0].GetUser()
	if w.updates[0].GetTenantId() != "t-acme" || !u.GetDisabled() || !u.GetPhoneVerified() || u.Password != nil ||
		strings.Join(u.GetRoles(), " ") != "tenant_admin auditor" || strings.Join(u.GetGroups(), " ") != "ops billing" ||
		u.GetAttributes()["floor"] != "3" || u.EmailVerified == nil || u.GetEmailVerified() {
		t.Fatalf("update %v", w.updates[0])
	}

	// A new address with the box still ticked from before: verification is left to the API (reset).
	form.Set("email", "carol@globex.example")
	form.Set("emailVerified", "on")
	w = &usersWorld{stored: storedCarol()}
	postForm(t, w, "/console/users/u1?tenant=t-acme", form)
	if w.updates[0].GetUser().EmailVerified != nil {
		t.Fatalf("a new address kept the old verification: %v", w.updates[0].GetUser())
	}
	// Ticked now, for the new address: sent.
	form.Del("emailVerifiedWas")
	w = &usersWorld{stored: storedCarol()}
	w.stored.EmailVerified = proto.Bool(false)
	postForm(t, w, "/console/users/u1?tenant=t-acme", form)
	if !w.updates[0].GetUser().GetEmailVerified() {
		t.Fatalf("a ticked box was not sent: %v", w.updates[0].GetUser())
	}
}

// TestUserPasswordResetAndDisable: the password form sends the stored profile with the new password only;
// a refusal shows the API's message next to the field and never the password; disable sends the stored
// profile disabled.
func TestUserPasswordResetAndDisable(t *testing.T) {
	w := &usersWorld{stored: storedCarol()}
	if rec := postForm(t, w, "/console/users/u1/password?tenant=t-acme", url.Values{"password": {"new-password-123"}}); rec.Code != 303 {
		t.Fatalf("reset: %d", rec.Code)
	}
	u := w.updates[0].GetUser()
	want := storedCarol()
	want.Password = proto.String("new-password-123")
	if !proto.Equal(u, want) {
		t.Fatalf("reset sent %v, want %v", u, want)
	}

	w = &usersWorld{stored: storedCarol(), refuse: status.Error(codes.InvalidArgument, "password: at least 8 characters")}
	rec := postForm(t, w, "/console/users/u1/password?tenant=t-acme", url.Values{"password": {"short-pw"}})
	if rec.Code != 400 || strings.Contains(rec.Body.String(), "short-pw") {
		t.Fatalf("refused reset: %d %s", rec.Code, rec.Body)
	}

	w = &usersWorld{stored: storedCarol()}
	w.stored.Disabled = false
	postForm(t, w, "/console/users/u1/disable?tenant=t-acme", url.Values{})
	want = storedCarol()
	if !proto.Equal(w.updates[0].GetUser(), want) {
		t.Fatalf("disable sent %v", w.updates[0].GetUser())
	}
}
