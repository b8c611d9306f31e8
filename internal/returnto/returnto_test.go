package returnto

import (
	"net/url"
	"strings"
	"testing"
)

const public = "https://flow.example.com"

func policy(t testing.TB) *Policy {
	t.Helper()
	p, err := New(public, "http://app.example:8080")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	p := policy(t)
	tests := []struct {
		in string
		ok bool
	}{
		{"/flows/done", true},
		{"/flows/done?x=1&y=%41#frag", true},
		{"/", true},
		{"/a?next=//not-a-path", true},
		{"https://flow.example.com", true},
		{"https://flow.example.com/x?y=z", true},
		{"HTTPS://FLOW.example.COM/x", true},
		{"https://flow.example.com:443/x", true},
		{"http://app.example:8080/cb", true},
		{"/caf%C3%A9", true},
		{"/café", true},

		// The report: browsers strip the TAB and read "//evil.example".
		{"/\t/evil.example", false},
		{"/\n/evil.example", false},
		{"/\r/evil.example", false},
		{"/ /evil.example", false},
		{" /x", false},
		{"/x ", false},
		{"//evil.example", false},
		{"//evil.example/", false},
		{"///evil.example", false},
		{"/\\evil.example", false},
		{"\\/evil.example", false},
		{"/x\\y", false},
		{"/%2F/evil.example", false},
		{"/%2f/evil.example", false},
		{"/%5C/evil.example", false},
		{"/%09/evil.example", false},
		{"/%0a", false},
		{"/%00", false},
		{"/%252F/evil.example", false},
		{"/%2e%2e/admin", false},
		{"/%", false},
		{"/%zz", false},
		{"/%C2%85", false},  // NEL, decoded
		{"/\u0085x", false}, // NEL
		{"/\u200bx", false}, // zero-width space (format character)
		{"/\u2028x", false}, // line separator
		{"/x\x00", false},
		{"/x\x7f", false},
		{"/a//b", false},
		{"https://evil.example/", false},
		{"https://evil.example", false},
		{"http://flow.example.com/x", false}, // other scheme: other origin
		{"https://flow.example.com:8443/x", false},
		{"https://flow.example.com@evil.example/", false},
		{"https://user@flow.example.com/", false},
		{"https://user:pw@flow.example.com/", false},
		{"https://flow.example.com.evil.example/", false},
		{"https://flow.example.com//evil.example", false},
		{"https:flow.example.com/x", false},
		{"https:/flow.example.com/x", false},
		{"https:\\\\evil.example", false},
		{"javascript:alert(1)", false},
		{"data:text/html,x", false},
		{"ftp://flow.example.com/", false},
		{"flows/done", false},
		{"?x=1", false},
		{"#x", false},
		{"", false},
		{"/" + strings.Repeat("a", MaxLen), false},
		{"/\xff", false},
	}
	for _, tt := range tests {
		got, err := p.Check(tt.in)
		if ok := err == nil; ok != tt.ok {
			t.Errorf("Check(%q) = %q, %v; want ok=%v", tt.in, got, err, tt.ok)
		}
		if err == nil && got != tt.in {
			t.Errorf("Check(%q) changed it to %q", tt.in, got)
		}
	}
}

func TestNewRefusesNonOrigins(t *testing.T) {
	for _, o := range []string{"flow.example.com", "https://flow.example.com/path", "ftp://x", "https://u@x", "https://x?y", ""} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%q) accepted", o)
		}
	}
	p, err := New(public + "/")
	if err != nil || !p.Allows("https://FLOW.example.com:443") || p.Allows("https://evil.example") {
		t.Fatalf("New with a trailing slash: %v", err)
	}
}

// FuzzCheck: whatever Check accepts, a browser resolving it against the redirecting page (on the public
// origin) lands on an allowed origin; it holds no character a browser would drop or rewrite, and decoding
// its escapes reveals none either.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/flows/done", "/\t/evil.example", "//evil", "/%2F/x", "https://flow.example.com/x",
		"https://flow.example.com@evil.example", "http://app.example:8080/", "/%C2%85", "/a?b=c#d", "https:/x"} {
		f.Add(s)
	}
	p := policy(f)
	base, _ := url.Parse(public + "/Thingworx/Oauths/oauth/return?state=x")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := p.Check(s)
		if err != nil {
			if got != "" {
				t.Fatalf("Check(%q) refused but answered %q", s, got)
			}
			return
		}
		if got != s {
			t.Fatalf("Check(%q) = %q", s, got)
		}
		for _, r := range s {
			if r < 0x21 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\\' {
				t.Fatalf("Check accepted %q with %U", s, r)
			}
		}
		dec, err := url.PathUnescape(s)
		if err != nil || strings.ContainsAny(dec, "\\\t\r\n\x00") || strings.HasPrefix(dec, "//") {
			t.Fatalf("Check accepted %q, which decodes to %q", s, dec)
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("Check accepted unparsable %q: %v", s, err)
		}
		to := base.ResolveReference(u)
		if to.User != nil || !p.Allows(to.Scheme+"://"+to.Host) {
			t.Fatalf("Check accepted %q, which leads to %s", s, to)
		}
	})
}
