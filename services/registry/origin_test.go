package registry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/registry"
)

// TestNormalizeOrigin: the adminapi2 documentation's own client body sends "https://myApp.myDomain.com"; scheme and host are
// case-insensitive (RFC 3986 §6.2.2.1) and browsers send them lowercase without the default port (RFC 6454
// §6.2), so those spellings are stored in that form. Everything that is no origin stays refused.
func TestNormalizeOrigin(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		valid     bool // whether want is a valid origin
	}{
		{"https://myApp.myDomain.com", "https://myapp.mydomain.com", true},
		{"HTTPS://MYAPP.MYDOMAIN.COM:443", "https://myapp.mydomain.com", true},
		{"http://Localhost:80", "http://localhost", true},
		{"http://localhost:3000", "http://localhost:3000", true},
		{"Http://LOCALHOST:03000", "http://localhost:3000", true},
		{"https://app.example:", "https://app.example", true},
		{"https://[::1]:443", "https://[::1]", true},
		{"https://[::1]", "https://[::1]", true},
		{"https://app.example:8443", "https://app.example:8443", true},
		// Not origins whatever the case: unchanged, and refused as before.
		{"https://App.example/", "https://App.example/", false},
		{"https://App.example/Callback", "https://App.example/Callback", false},
		{"https://u@App.example", "https://u@App.example", false},
		{"https://*.Example.com", "https://*.Example.com", false},
		{"ftp://App.example", "ftp://App.example", false},
		{"https://App.example?q", "https://App.example?q", false},
		{"App.example", "App.example", false},
	} {
		got := registry.NormalizeOrigin(tc.raw)
		if got != tc.want {
			t.Errorf("NormalizeOrigin(%q) = %q, want %q", tc.raw, got, tc.want)
		}
		if err := registry.ValidateOrigin("o", got); (err == nil) != tc.valid {
			t.Errorf("ValidateOrigin(%q) = %v, want valid %v", got, err, tc.valid)
		}
	}
	for _, raw := range []string{"https://app.example:443", "http://app.example:80", "https://app.example:", "https://app.example:0443", "https://App.example"} {
		if err := registry.ValidateOrigin("o", raw); err == nil {
			t.Errorf("ValidateOrigin(%q) accepted a spelling browsers never send", raw)
		}
	}
}

// TestNormalizeClientKeepsRedirectURIs: only origins are normalised. Redirect URIs are compared byte for
// byte (RFC 9700 §2.1) and their paths are case-sensitive, so they are stored exactly as sent.
func TestNormalizeClientKeepsRedirectURIs(t *testing.T) {
	c := registry.DefaultClient()
	c.RedirectURIs = []string{"https://App.Example/CallBack", "HTTP://127.0.0.1:8080/Cb"}
	c.PostLogoutRedirectURIs = []string{"https://App.Example/Bye"}
	c.AllowedCORSOrigins = []string{"https://App.Example"}
	in := slices.Clone(c.AllowedCORSOrigins)
	n := registry.NormalizeClient(c)
	if !slices.Equal(n.RedirectURIs, c.RedirectURIs) || !slices.Equal(n.PostLogoutRedirectURIs, c.PostLogoutRedirectURIs) {
		t.Fatalf("redirect URIs changed: %q %q", n.RedirectURIs, n.PostLogoutRedirectURIs)
	}
	if !slices.Equal(n.AllowedCORSOrigins, []string{"https://app.example"}) {
		t.Fatalf("origins = %q", n.AllowedCORSOrigins)
	}
	if !slices.Equal(c.AllowedCORSOrigins, in) {
		t.Fatalf("NormalizeClient modified its argument: %q", c.AllowedCORSOrigins)
	}
}

// FuzzNormalizeOrigin: NormalizeOrigin is idempotent, changes a string only into a valid origin, leaves
// valid origins alone, and is blind to the case of scheme and host: an ASCII spelling and its uppercase
// twin normalise alike whenever either normalises to a valid origin.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://myApp.myDomain.com", "HTTP://A:80", "https://a:0443", "https://[::1]:443", "https://a/", "https://a:", "ftp://a", "https://u@a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n := registry.NormalizeOrigin(raw)
		if nn := registry.NormalizeOrigin(n); nn != n {
			t.Fatalf("not idempotent: %q → %q → %q", raw, n, nn)
		}
		if n != raw {
			if err := registry.ValidateOrigin("o", n); err != nil {
				t.Fatalf("NormalizeOrigin(%q) = %q, which fails validation: %v", raw, n, err)
			}
		}
		if registry.ValidateOrigin("o", raw) == nil && n != raw {
			t.Fatalf("valid origin %q changed to %q", raw, n)
		}
		if isASCII(raw) && !strings.ContainsAny(raw, "/?#@") {
			up := registry.NormalizeOrigin(strings.ToUpper(raw))
			if (registry.ValidateOrigin("o", n) == nil || registry.ValidateOrigin("o", up) == nil) && up != n {
				t.Fatalf("case matters: %q → %q but %q → %q", raw, n, strings.ToUpper(raw), up)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
