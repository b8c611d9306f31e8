package resourceuri

import (
	"net/url"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Orders.Internal:443/V1": "https://orders.internal/V1",
		"http://ORDERS:80":               "http://orders",
		"https://orders:":                "https://orders",
		"https://orders:8443":            "https://orders:8443",
		"http://orders:443":              "http://orders:443",
		"URN:Authsuite:Orders":           "urn:Authsuite:Orders",
		"https://orders#frag":            "https://orders#frag",
		"relative/path":                  "relative/path",
		"https://orders.internal":        "https://orders.internal",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzResourceID holds the resource indicator rules: normalizing is idempotent and a changed result is
// valid; a valid indicator is its own normal form, an absolute URI without fragment, query or userinfo of at
// most MaxLen bytes, and Go's URL parser reads it back to the same string.
func FuzzResourceID(f *testing.F) {
	for _, s := range []string{"https://orders.internal", "HTTPS://Orders:443/x", "urn:a:b", "https://x#y",
		"http://[::1]:80/", "https:foo", "a:", "https://h:443:443", "https://%41", "http://[v1.x]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		norm := Normalize(raw)
		if again := Normalize(norm); again != norm {
			t.Fatalf("not idempotent: %q → %q → %q", raw, norm, again)
		}
		if norm != raw {
			if err := Validate(norm); err != nil {
				t.Fatalf("Normalize(%q) = %q, which is invalid: %v", raw, norm, err)
			}
		}
		if err := Validate(raw); err != nil {
			return
		}
		if norm != raw {
			t.Fatalf("valid %q normalizes to %q", raw, norm)
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.Scheme == "" || u.Fragment != "" || u.RawQuery != "" || u.ForceQuery || u.User != nil || len(raw) > MaxLen {
			t.Fatalf("valid %q is not an absolute URI without fragment, query and userinfo (%v)", raw, perr)
		}
		if u.String() != raw {
			t.Fatalf("valid %q reads back as %q", raw, u.String())
		}
	})
}
