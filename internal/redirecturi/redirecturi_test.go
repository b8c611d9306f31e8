package redirecturi

import (
	"net/url"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	type client struct {
		uris   []string
		prefix bool
	}
	exact := client{uris: []string{"https://app.example/cb", "https://myDomain."}}
	prefix := client{uris: []string{"https://app.example/cb", "https://app.example:8443/oauth/", "http://localhost"}, prefix: true}
	tests := []struct {
		client    client
		candidate string
		want      bool
	}{
		{exact, "https://app.example/cb", true},
		{exact, "https://app.example/cb/x", false},
		{exact, "https://app.example/CB", false},
		{exact, "https://myDomain.", true},
		{exact, "https://myDomain.evil.example/", false},
		{exact, "", false},
		{prefix, "https://app.example/cb", true},
		{prefix, "https://app.example/cb/next?x=1", true},
		{prefix, "https://app.example/cb?state=%2F..%2F", true}, // query is not the path
		{prefix, "https://app.example:8443/oauth/done", true},
		{prefix, "https://app.example:84430/oauth/done", false},
		{prefix, "https://app.example/cb/../admin", false},
		{prefix, "https://app.example/cb/./x", false},
		{prefix, "https://app.example/cb/..", false},
		{prefix, "https://app.example/cb/%2e%2e/admin", false},
		{prefix, "https://app.example/cb/%2E%2e/admin", false},
		{prefix, "https://app.example/cb/.%2e/admin", false},
		{prefix, "https://app.example/cb%2f..%2fadmin", false},
		{prefix, "https://app.example/cb\\..\\admin", false},
		{prefix, "https://app.example/cb#frag", false},
		{prefix, "https://app.example/cb/x#", false},
		{prefix, "https://app.example.evil.example/cb", false},
		{prefix, "http://localhost.evil.example/", false},
		{prefix, "http://localhost@evil.example/", false},
		{prefix, "http://localhost:80@evil.example/", false},
		{prefix, "http://localhost:8080/cb", false}, // other port than the prefix's (default 80)
		{prefix, "http://localhost/cb", true},
		{prefix, "https://app.example/cb x", false},
		{prefix, "https://app.example/cb\n", false},
		{prefix, "https://app.example/cbextra", true}, // a plain string prefix on the same origin
		// Encoded and matrix-parameter dot-segments.
		{prefix, "https://app.example/cb/..;/admin", false},
		{prefix, "https://app.example/cb/..;jsessionid=x/admin", false},
		{prefix, "https://app.example/cb/.;x/admin", false},
		{prefix, "https://app.example/cb/%252e%252e/admin", false},
		{prefix, "https://app.example/cb/%25252e%25252e/admin", false},
		{prefix, "https://app.example/cb/%252E./admin", false},
		{prefix, "https://app.example/cb/.%00./admin", false},
		{prefix, "https://app.example/cb/x%00", false},
		{prefix, "https://app.example/cb/x%0d%0a", false},
		{prefix, "https://app.example/cb/%7f", false},
		{prefix, "https://app.example/cb/%5c..%5cadmin", false},
		{prefix, "https://app.example/cb/%255c..", false},
		{prefix, "https://app.example/cb%252f..%252fadmin", false},
		{prefix, "https://app.example/cb/.../admin", false},
		{prefix, "https://app.example/cb/..%20/admin", false},
		{prefix, "https://app.example/cb/%ef%bc%8e%ef%bc%8e/admin", false},
		{prefix, "https://app.example/cb/%zz", false},
		{prefix, "https://app.example/cb/100%25", false}, // a bare "%" after decoding: lenient decoders guess
		{prefix, "https://app.example/cb/%41%42", true},  // plain encoded letters
		{prefix, "https://app.example/cb/a.b/c;v=1", true},
		{prefix, "https://app.example/cb/x?next=..;/..%252e", true}, // query is not the path
	}
	for _, tc := range tests {
		if got := Match(tc.client.uris, tc.client.prefix, tc.candidate); got != tc.want {
			t.Errorf("Match(prefix=%v, %q) = %v, want %v", tc.client.prefix, tc.candidate, got, tc.want)
		}
	}
}

// FuzzMatch checks the matcher's guarantees: it never panics; without prefix matching only exact
// registrations match; with it, any non-exact match is a safe URI on the registered prefix's origin.
func FuzzMatch(f *testing.F) {
	f.Add("https://app.example/cb", "https://app.example/cb/x", true)
	f.Add("https://app.example/cb", "https://app.example/cb/../x", true)
	f.Add("http://localhost", "http://localhost@evil/", true)
	f.Add("https://a.example:8", "https://a.example:8080/", true)
	f.Add("https://a.example/", "https://a.example/%2e%2e/", false)
	f.Add("https://a.example/cb", "https://a.example/cb/..;/x", true)
	f.Add("https://a.example/cb", "https://a.example/cb/%252e%252e/x", true)
	f.Add("https://a.example/cb", "https://a.example/cb/.%00./x", true)
	f.Add("https://a.example/c%41", "https://a.example/c%41/%2541", true)
	f.Fuzz(func(t *testing.T, registered, candidate string, prefixMatching bool) {
		if !Match([]string{registered}, prefixMatching, candidate) || candidate == registered {
			return
		}
		if !prefixMatching {
			t.Fatalf("non-exact match %q for %q without prefix matching", candidate, registered)
		}
		if !strings.HasPrefix(candidate, registered) {
			t.Fatalf("%q matched %q without being a prefix", candidate, registered)
		}
		u, err := url.Parse(candidate)
		if err != nil || u.User != nil || u.Fragment != "" || strings.Contains(candidate, "#") || u.Host == "" {
			t.Fatalf("unsafe candidate %q matched", candidate)
		}
		r, err := url.Parse(registered)
		if err != nil || !strings.EqualFold(r.Hostname(), u.Hostname()) || !strings.EqualFold(r.Scheme, u.Scheme) {
			t.Fatalf("candidate %q left the origin of %q", candidate, registered)
		}
		// Item 21's oracle: after peeling every layer of percent-encoding, no layer has a dot-segment (also
		// with matrix parameters cut off), a NUL or control character, or a backslash, and the fully decoded
		// path still starts with the registered prefix's.
		layers, ok := decodeLayers(u.EscapedPath())
		if !ok {
			t.Fatalf("candidate %q matched with a path that does not decode", candidate)
		}
		for _, l := range layers {
			if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
				t.Fatalf("candidate %q matched with a control character or backslash in %q", candidate, l)
			}
			for _, seg := range strings.Split(l, "/") {
				seg, _, _ = strings.Cut(seg, ";")
				if seg == "." || seg == ".." {
					t.Fatalf("candidate %q matched with dot-segment in %q", candidate, l)
				}
			}
		}
		if rl, ok := decodeLayers(r.EscapedPath()); ok {
			if want, got := rl[len(rl)-1], layers[len(layers)-1]; !strings.HasPrefix(got, want) {
				t.Fatalf("candidate %q decodes to path %q, outside the prefix's %q", candidate, got, want)
			}
		}
	})
}

// decodeLayers percent-decodes p until it stops changing (at most 16 times) and returns every layer, p first.
func decodeLayers(p string) ([]string, bool) {
	layers := []string{p}
	for range 16 {
		d, err := url.PathUnescape(p)
		if err != nil {
			return layers, false
		}
		if d == p {
			return layers, true
		}
		layers, p = append(layers, d), d
	}
	return layers, false
}
