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
		p, err := url.PathUnescape(u.EscapedPath())
		if err != nil {
			p = u.Path
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("candidate %q has dot-segments", candidate)
			}
		}
	})
}
