package access

import (
	"context"
	"errors"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
)

// fakeDir is a Directory over two tenants; calls counts the lookups.
type fakeDir struct {
	tenants []Tenant
	users   []User
	calls   int
}

func (d *fakeDir) Tenant(_ context.Context, ref TenantRef) (Tenant, error) {
	d.calls++
	for _, t := range d.tenants {
		if (ref.ID != "" && t.ID == ref.ID) || (ref.ID == "" && t.Code == ref.Code) {
			return t, nil
		}
	}
	return Tenant{}, apierror.NotFound("tenant")
}

func (d *fakeDir) User(_ context.Context, tenantID string, sel Selector) (User, error) {
	d.calls++
	for _, u := range d.users {
		if u.TenantID == tenantID && ((sel.Kind == ByUID && u.ID == sel.Value) || (sel.Kind == ByLoginName && u.LoginName == sel.Value)) {
			return u, nil
		}
	}
	return User{}, apierror.NotFound("user")
}

func newFakeDir() *fakeDir {
	return &fakeDir{
		tenants: []Tenant{{ID: SystemTenant, Code: "sys"}, {ID: "acme", Code: "acme-code"}, {ID: "other", Code: "other-code"}},
		users: []User{
			{ID: "root", TenantID: SystemTenant, LoginName: "root", Roles: []string{RoleTenantAdmin}},
			{ID: "worker", TenantID: SystemTenant, LoginName: "worker"},
			{ID: "boss", TenantID: "acme", LoginName: "boss", Roles: []string{RoleTenantAdmin}},
			{ID: "clerk", TenantID: "acme", LoginName: "clerk"},
			{ID: "gone", TenantID: "acme", LoginName: "gone", Roles: []string{RoleTenantAdmin}, Disabled: true},
		},
	}
}

func TestResolve(t *testing.T) {
	admin := []string{ScopeAdminAPI}
	adminSudo := []string{ScopeAdminAPI, ScopeSudo}
	sysClient := Token{ClientID: "admin", TenantID: SystemTenant, Scopes: adminSudo}
	acmeClient := Token{ClientID: "app", TenantID: "acme", Scopes: adminSudo}
	type want struct {
		err       error  // errors.Is target; nil for success
		oauth     string // OAuth error code, when the error is one
		field     string // the field an *apierror.FieldError names
		as        string // impersonated user id
		admin     bool
		system    bool
		dirCalls  int
		checkDirs bool
	}
	tests := []struct {
		name string
		tok  Token
		sudo SudoRequest
		want want
	}{
		{"client admin, no directory call", Token{ClientID: "c", TenantID: "acme", Scopes: admin}, SudoRequest{}, want{admin: true, checkDirs: true}},
		{"system client", sysClient, SudoRequest{}, want{admin: true, system: true, checkDirs: true}},
		{"client without adminapi", Token{ClientID: "c", TenantID: "acme"}, SudoRequest{}, want{checkDirs: true}},
		{"user without adminapi, no directory call", Token{ClientID: "c", TenantID: "acme", UserID: "clerk"}, SudoRequest{}, want{checkDirs: true}},
		{"tenant_admin user", Token{TenantID: "acme", UserID: "boss", Scopes: admin}, SudoRequest{}, want{admin: true, dirCalls: 1, checkDirs: true}},
		{"user without role", Token{TenantID: "acme", UserID: "clerk", Scopes: admin}, SudoRequest{}, want{}},
		{"disabled admin", Token{TenantID: "acme", UserID: "gone", Scopes: admin}, SudoRequest{}, want{}},
		{"deleted user", Token{TenantID: "acme", UserID: "ghost", Scopes: admin}, SudoRequest{}, want{err: apierror.ErrUnauthenticated}},
		{"system tenant_admin user", Token{TenantID: SystemTenant, UserID: "root", Scopes: admin}, SudoRequest{}, want{admin: true, system: true}},

		{"sudo without scope", Token{ClientID: "c", TenantID: SystemTenant, Scopes: admin}, SudoRequest{Selector: "loginName:boss", TenantID: "acme"}, want{oauth: apierror.InsufficientScope}},
		{"sudo bad selector", sysClient, SudoRequest{Selector: "nick:boss", TenantID: "acme"}, want{field: "sudo"}},
		{"system client sudo into tenant admin", sysClient, SudoRequest{Selector: "loginName:boss", TenantID: "acme"}, want{as: "boss", admin: true}},
		{"system client sudo by code", sysClient, SudoRequest{Selector: "loginName:boss", TenantCode: "acme-code"}, want{as: "boss", admin: true}},
		{"system client sudo into non-admin", sysClient, SudoRequest{Selector: "loginName:clerk", TenantID: "acme"}, want{as: "clerk"}},
		{"system client sudo unknown tenant", sysClient, SudoRequest{Selector: "loginName:boss", TenantCode: "nope"}, want{err: apierror.ErrNotFound}},
		{"sudo unknown user", sysClient, SudoRequest{Selector: "loginName:nobody", TenantID: "acme"}, want{err: apierror.ErrNotFound}},
		{"sudo disabled user", sysClient, SudoRequest{Selector: "loginName:gone", TenantID: "acme"}, want{err: apierror.ErrPermissionDenied}},
		{"tenant client sudo in own tenant", acmeClient, SudoRequest{Selector: "loginName:boss"}, want{as: "boss", admin: true}},
		{"tenant client sudo own code", acmeClient, SudoRequest{Selector: "loginName:boss", TenantCode: "acme-code"}, want{as: "boss", admin: true}},
		{"tenant client sudo foreign id, no lookup", acmeClient, SudoRequest{Selector: "loginName:x", TenantID: "other"}, want{err: apierror.ErrPermissionDenied, checkDirs: true}},
		{"tenant client sudo foreign code", acmeClient, SudoRequest{Selector: "loginName:x", TenantCode: "other-code"}, want{err: apierror.ErrPermissionDenied}},
		{"tenant client sudo unknown code", acmeClient, SudoRequest{Selector: "loginName:x", TenantCode: "nope"}, want{err: apierror.ErrPermissionDenied}},
		{"system admin user sudo", Token{TenantID: SystemTenant, UserID: "root", Scopes: adminSudo}, SudoRequest{Selector: "loginName:boss", TenantID: "acme"}, want{as: "boss", admin: true}},
		{"no-role user sudo", Token{TenantID: SystemTenant, UserID: "worker", Scopes: adminSudo}, SudoRequest{Selector: "loginName:root"}, want{err: apierror.ErrPermissionDenied}},
		{"tenant admin user sudo", Token{TenantID: "acme", UserID: "boss", Scopes: adminSudo}, SudoRequest{Selector: "loginName:boss"}, want{err: apierror.ErrPermissionDenied, checkDirs: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newFakeDir()
			p, err := Resolve(context.Background(), dir, tc.tok, tc.sudo)
			if p.Caller.ClientID != tc.tok.ClientID || p.Caller.UserID != tc.tok.UserID || p.Caller.TenantID != tc.tok.TenantID {
				t.Errorf("Caller = %+v, want the token's identity %+v", p.Caller, tc.tok)
			}
			switch {
			case tc.want.field != "":
				var fe *apierror.FieldError
				if !errors.As(err, &fe) || fe.Field != tc.want.field {
					t.Fatalf("err = %v, want a field error naming %s", err, tc.want.field)
				}
				return
			case tc.want.oauth != "":
				var oe *apierror.OAuthError
				if !errors.As(err, &oe) || oe.Code != tc.want.oauth || oe.HTTPStatus() != 403 {
					t.Fatalf("err = %v, want OAuth %s (403)", err, tc.want.oauth)
				}
				return
			case tc.want.err != nil:
				if !errors.Is(err, tc.want.err) {
					t.Fatalf("err = %v, want %v", err, tc.want.err)
				}
				if tc.want.checkDirs && dir.calls != tc.want.dirCalls {
					t.Errorf("%d directory calls, want %d", dir.calls, tc.want.dirCalls)
				}
				return
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if got := p.UserID(); tc.want.as != "" && (got != tc.want.as || !p.Sudo()) {
				t.Errorf("acts as %q (sudo %v), want %q", got, p.Sudo(), tc.want.as)
			}
			if tc.want.as == "" && p.Sudo() {
				t.Errorf("unexpected sudo as %+v", p.As)
			}
			if p.Admin() != tc.want.admin || p.SystemAdmin() != tc.want.system {
				t.Errorf("Admin %v SystemAdmin %v, want %v %v", p.Admin(), p.SystemAdmin(), tc.want.admin, tc.want.system)
			}
			if (p.RequireAdmin() == nil) != tc.want.admin || (p.RequireSystemAdmin("test") == nil) != tc.want.system {
				t.Errorf("Require* disagree with Admin/SystemAdmin")
			}
			if tc.want.checkDirs && dir.calls != tc.want.dirCalls {
				t.Errorf("%d directory calls, want %d", dir.calls, tc.want.dirCalls)
			}
		})
	}
}

func TestRequireAdminOf(t *testing.T) {
	dir := newFakeDir()
	ctx := context.Background()
	acme, _ := Resolve(ctx, dir, Token{ClientID: "c", TenantID: "acme", Scopes: []string{ScopeAdminAPI}}, SudoRequest{})
	sys, _ := Resolve(ctx, dir, Token{ClientID: "c", TenantID: SystemTenant, Scopes: []string{ScopeAdminAPI}}, SudoRequest{})
	none, _ := Resolve(ctx, dir, Token{ClientID: "c", TenantID: "acme"}, SudoRequest{})
	if acme.RequireAdminOf("acme") != nil || sys.RequireAdminOf("acme") != nil || sys.RequireAdminOf("ghost") != nil {
		t.Error("an admin of the tenant or of the system tenant must be allowed")
	}
	for _, err := range []error{acme.RequireAdminOf("other"), acme.RequireSystemAdmin("test"), none.RequireAdminOf("acme")} {
		if !errors.Is(err, apierror.ErrPermissionDenied) {
			t.Errorf("err = %v, want PermissionDenied", err)
		}
	}
}

// FuzzSudoTenant checks the tenant rule of sudo for a client of a non-system tenant, whatever the request:
// it never acts outside its own tenant, and an unknown tenant answers exactly what a foreign one does (issue
// 8 item 19).
func FuzzSudoTenant(f *testing.F) {
	f.Add("loginName:boss", "", "acme-code")
	f.Add("loginName:boss", "other", "")
	f.Add("uid:boss", "", "nope")
	f.Add("loginName:boss", "acme", "other-code")
	f.Add("email:x", "", "")
	f.Fuzz(func(t *testing.T, sel, tenantID, tenantCode string) {
		dir := newFakeDir()
		tok := Token{ClientID: "app", TenantID: "acme", Scopes: []string{ScopeAdminAPI, ScopeSudo}}
		p, err := Resolve(context.Background(), dir, tok, SudoRequest{Selector: sel, TenantID: tenantID, TenantCode: tenantCode})
		if err == nil && p.Sudo() && p.TenantID() != "acme" {
			t.Fatalf("a client of acme acts in %q", p.TenantID())
		}
		if err == nil && !p.Sudo() && sel != "" {
			t.Fatalf("sudo %q silently ignored", sel)
		}
		if errors.Is(err, apierror.ErrPermissionDenied) && p.Sudo() {
			t.Fatal("a refused sudo still impersonates")
		}
		// The same request with the tenant code replaced by an unknown one, and by a foreign one, must answer
		// alike whenever the code names a tenant other than acme.
		if tenantID == "" && tenantCode != "" && tenantCode != "acme-code" && sel != "" {
			if _, perr := ParseSelector(sel); perr != nil {
				return
			}
			_, foreign := Resolve(context.Background(), dir, tok, SudoRequest{Selector: sel, TenantCode: "other-code"})
			if err == nil || foreign == nil || err.Error() != foreign.Error() {
				t.Fatalf("tenant code %q answers %v; a foreign code answers %v", tenantCode, err, foreign)
			}
		}
	})
}

// BenchmarkResolveClient is the hot path: a plain client token, no sudo, no directory call.
func BenchmarkResolveClient(b *testing.B) {
	dir := newFakeDir()
	tok := Token{ClientID: "app", TenantID: "acme", Scopes: []string{"read", ScopeAdminAPI}}
	ctx := context.Background()
	for b.Loop() {
		p, err := Resolve(ctx, dir, tok, SudoRequest{})
		if err != nil || p.RequireAdminOf("acme") != nil {
			b.Fatal(err)
		}
	}
	if dir.calls != 0 {
		b.Fatalf("%d directory calls", dir.calls)
	}
}
