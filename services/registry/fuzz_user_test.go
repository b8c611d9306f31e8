package registry

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
)

var (
	refUserID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	refMobile = regexp.MustCompile(`^\+?[0-9]{3,20}$`)
	refRole   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
)

// plainText is the reference for a free-text field: valid UTF-8, no control character, at most max bytes.
func plainText(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// refUserField is an independent reading of ValidateUser's documentation: it returns the REST field of the
// first problem of u, in the documented order, or "" when u is valid.
func refUserField(u User) string {
	switch {
	case !refUserID.MatchString(u.ID):
		return "userId"
	case u.LoginName == "" || !plainText(u.LoginName, 200) || strings.Contains(u.LoginName, ":") || strings.TrimSpace(u.LoginName) != u.LoginName:
		return "loginName"
	}
	if u.Email != "" {
		local, domain, ok := strings.Cut(u.Email, "@")
		if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(u.Email) > 254 || !plainText(u.Email, 254) ||
			strings.ContainsAny(u.Email, " <>()[],;\"\\") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
			return "email"
		}
	}
	switch {
	case u.Mobile != "" && !refMobile.MatchString(u.Mobile):
		return "mobile"
	case !plainText(u.DisplayName, 200):
		return "displayName"
	case len(u.Roles) > maxListLen:
		return "roles"
	}
	seen := map[string]bool{}
	for i, r := range u.Roles {
		if !refRole.MatchString(r) || seen[r] {
			return fmt.Sprintf("roles[%d]", i)
		}
		seen[r] = true
	}
	return ""
}

func show(u User) string {
	return fmt.Sprintf("id=%q login=%q email=%q mobile=%q display=%q roles=%q", u.ID, u.LoginName, u.Email, u.Mobile, u.DisplayName, u.Roles)
}

// FuzzValidateUser checks ValidateUser against refUserField on arbitrary profiles: it accepts exactly the
// valid ones, and a refusal is an *apierror.FieldError naming the field of the first problem (so the REST
// answer points at the right field). Login name, e-mail and display name of an accepted user therefore never
// carry control characters (they reach logs, ID tokens and userinfo), and a login name never holds ':' (the
// sudo selector separator).
func FuzzValidateUser(f *testing.F) {
	for _, s := range []struct{ id, login, email, mobile, display, roles string }{
		{"alice", "alice", "alice@acme.test", "+15550001", "Alice A.", "tenant_admin"},
		{"0f3a", "张三", "zhang@例子.测试", "13800000000", "张三", ""},
		{"u", "bob", "", "", "", "a,b,a"},
		{"u", " bob", "", "", "", ""},
		{"u", "a:b", "", "", "", ""},
		{"u", "bob", "bob@x\x01y", "", "", ""},
		{"u", "bob", "a@b@c", "++1", "", ""},
		{"u/x", "bob", "", "", "", ""},
		{"u", "bob\u0085", "", "", "", ""},
		{"u", "bob", ".@.", "", "x\x7f", ""},
		{"u", "bob", "a@b.", "123456789012345678901", "", "r:1,r-2,r.3"},
		{"", "", "", "", "", ""},
	} {
		f.Add(s.id, s.login, s.email, s.mobile, s.display, s.roles)
	}
	f.Fuzz(func(t *testing.T, id, login, email, mobile, display, roles string) {
		u := User{ID: id, LoginName: login, Email: email, Mobile: mobile, DisplayName: display}
		if roles != "" {
			u.Roles = strings.Split(roles, ",")
		}
		want := refUserField(u)
		err := ValidateUser(u)
		if err == nil {
			if want != "" {
				t.Fatalf("ValidateUser accepted %s; %s is invalid", show(u), want)
			}
			return
		}
		var fe *apierror.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("ValidateUser(%s): error %v is not a FieldError", show(u), err)
		}
		if fe.Field != want {
			t.Fatalf("ValidateUser(%s) names %q (%v), want %q", show(u), fe.Field, err, want)
		}
	})
}

// FuzzValidatePassword: exactly 8 to 1024 bytes of UTF-8 are accepted, and the error names "password" and
// is the same for every refused password (so it never quotes one).
func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"correct horse battery", "short", "", strings.Repeat("p", 1025), "pass\xffword", "密码密码密码密码"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		err := ValidatePassword(pw)
		ok := len(pw) >= MinPasswordLen && len(pw) <= MaxPasswordLen && utf8.ValidString(pw)
		if (err == nil) != ok {
			t.Fatalf("ValidatePassword(%q) = %v, want ok=%v", pw, err, ok)
		}
		if err == nil {
			return
		}
		var fe *apierror.FieldError
		if !errors.As(err, &fe) || fe.Field != "password" {
			t.Fatalf("error %v does not name password", err)
		}
		// The refusal never depends on the password's content, so it cannot quote it.
		if ref := ValidatePassword("short"); ref == nil || err.Error() != ref.Error() {
			t.Fatalf("error %q differs from the refusal of another password (%v)", err, ref)
		}
	})
}
