package registry_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

func TestValidateOriginAndScope(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://app.example":       true,
		"http://localhost:3000":     true,
		"https://app.example/":      false,
		"https://app.example/x":     false,
		"https://app.example:99999": false,
		"https://App.example":       false,
		"https://u@app.example":     false,
		"app.example":               false,
		"":                          false,
	} {
		if err := registry.ValidateOrigin("o", raw); (err == nil) != ok {
			t.Errorf("ValidateOrigin(%q) = %v", raw, err)
		}
	}
	for s, ok := range map[string]bool{"openid": true, "publicapi.all": true, "a:b/c": true, "a b": false, `a"`: false, `a\`: false, "é": false, "": false} {
		if err := registry.ValidateScopeToken("s", s); (err == nil) != ok {
			t.Errorf("ValidateScopeToken(%q) = %v", s, err)
		}
	}
}

func TestSecretWindow(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	start, exp, err := registry.SecretWindow(now, time.Time{}, time.Time{})
	if err != nil || !start.Equal(now) || !exp.Equal(now.AddDate(0, 6, 0)) {
		t.Fatalf("defaults = %v %v %v", start, exp, err)
	}
	for _, tc := range []struct {
		exp   time.Time
		field string
	}{
		{now.Add(24 * time.Hour), ""},
		{now.AddDate(3, 0, 0), ""},
		{now.Add(23 * time.Hour), "expiration"},
		{now.AddDate(3, 0, 1), "expiration"},
	} {
		_, _, err := registry.SecretWindow(now, time.Time{}, tc.exp)
		var fe *apierror.FieldError
		if tc.field == "" && err != nil || tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
			t.Errorf("SecretWindow(exp %v) = %v", tc.exp, err)
		}
	}
}

func TestNewSecretValue(t *testing.T) {
	v, d := registry.NewSecretValue()
	if len(v) != 43 || d != v[:3] || strings.ContainsAny(v, "+/=") {
		t.Fatalf("value %q display %q", v, d)
	}
	if w, _ := registry.NewSecretValue(); w == v {
		t.Fatal("repeated value")
	}
}

func TestPageTokens(t *testing.T) {
	if after, err := registry.DecodePageToken(registry.EncodePageToken("abc\x00def")); err != nil || after != "abc\x00def" {
		t.Fatalf("round trip = %q, %v", after, err)
	}
	if _, err := registry.DecodePageToken("abc"); err == nil {
		t.Fatal("garbage token accepted")
	}
	if o, err := registry.PageOptions(5000, ""); err != nil || o.EffectiveLimit() != 1000 {
		t.Fatalf("limit = %v, %v", o.EffectiveLimit(), err)
	}
	if o, _ := registry.PageOptions(0, ""); o.EffectiveLimit() != 100 {
		t.Fatalf("default limit = %d", o.EffectiveLimit())
	}
}

func TestPassword(t *testing.T) {
	h := registry.HashPassword("hunter2hunter2")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if h == registry.HashPassword("hunter2hunter2") {
		t.Fatal("no salt")
	}
	u := registry.User{PasswordHash: h}
	if !u.VerifyPassword("hunter2hunter2") || u.VerifyPassword("hunter2hunter3") || u.VerifyPassword("") {
		t.Fatal("VerifyPassword wrong")
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2id$v=19$m=99999999,t=2,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if registry.VerifyPassword(bad, "x") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
	if err := registry.ValidatePassword("short"); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("ValidatePassword(short) = %v", err)
	}
}

// FuzzValidateClient builds clients from arbitrary strings and checks that validation never panics and that
// whatever it accepts keeps the documented invariants.
func FuzzValidateClient(f *testing.F) {
	f.Add("app", "client_credentials", "https://app.example/cb", "https://app.example", "openid", int64(86400), int64(2592000), true, false, false, false)
	f.Add("spa", "authorization_code\nrefresh_token", "https://spa.example/cb#x", "https://spa.example/", "a b", int64(0), int64(-1), false, true, true, true)
	f.Add("", "password", "", "", "", int64(1), int64(94608001), true, false, true, false)
	f.Fuzz(func(t *testing.T, id, grants, redirects, origins, scopes string, atl, rtl int64, secret, offline, ropc, noPKCE bool) {
		c := registry.DefaultClient()
		c.ID = id
		c.AllowedGrantTypes = split(grants)
		c.RedirectURIs = split(redirects)
		c.PostLogoutRedirectURIs = split(redirects)
		c.AllowedCORSOrigins = split(origins)
		c.AllowedScopes = split(scopes)
		c.AccessTokenLifetime, c.RefreshTokenLifetime = time.Duration(atl)*time.Second, time.Duration(rtl)*time.Second
		c.RequireClientSecret, c.AllowOfflineAccess, c.AllowROPC, c.AllowNoPKCE = secret, offline, ropc, noPKCE
		err := registry.ValidateClient(c)
		if err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("not a field error: %v", err)
			}
			return
		}
		if len(c.AllowedGrantTypes) == 0 || atl < 1 || atl > 31536000 || rtl < 1 || rtl > 94608000 {
			t.Fatalf("accepted %+v", c)
		}
		for _, g := range c.AllowedGrantTypes {
			switch {
			case g == "password" && !ropc, g == "refresh_token" && !offline, g == "client_credentials" && !secret:
				t.Fatalf("accepted grant %q in %+v", g, c)
			}
		}
		for _, r := range c.RedirectURIs {
			if registry.ValidateRedirectURI("r", r) != nil {
				t.Fatalf("accepted redirect URI %q", r)
			}
		}
		for _, s := range c.AllowedScopes {
			if s == "" || strings.ContainsAny(s, " \"\\") {
				t.Fatalf("accepted scope %q", s)
			}
		}
		if !secret && noPKCE {
			t.Fatal("accepted a public client without PKCE")
		}
	})
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestValidateClientEveryGrant: a confidential client may hold every known grant type once; a seventh entry
// (necessarily a repeat or an unknown one) is refused naming allowedGrantTypes.
func TestValidateClientEveryGrant(t *testing.T) {
	all := []string{registry.GrantClientCredentials, registry.GrantAuthorizationCode, registry.GrantRefreshToken,
		registry.GrantPassword, registry.GrantTokenExchange, registry.GrantDeviceCode}
	c := registry.DefaultClient()
	c.ID, c.RequireClientSecret, c.AllowOfflineAccess, c.AllowROPC = "all", true, true, true
	c.RedirectURIs, c.AllowedGrantTypes = []string{"https://app.example/cb"}, all
	if err := registry.ValidateClient(c); err != nil {
		t.Fatalf("every grant once: %v", err)
	}
	c.AllowedGrantTypes = append(all, registry.GrantPassword)
	var fe *apierror.FieldError
	if err := registry.ValidateClient(c); !errors.As(err, &fe) || fe.Field != "allowedGrantTypes" {
		t.Fatalf("seven grant types: %v", err)
	}
}
