// Package redirecturi matches redirect URIs of authorization and logout requests against a client's
// registered ones (RFC 9700 §4.1.3, RFC 6749 §3.1.2.3). It is pure and shared by the registry (which
// validates registrations) and the token service (which checks requests).
package redirecturi

import (
	"net/url"
	"strings"
)

// maxURILen bounds the candidates considered for prefix matching.
const maxURILen = 2000

// Match reports whether candidate (a redirect_uri from an authorization or logout request) is allowed for a
// client registering the URIs registered, with prefix matching enabled or not.
//
// A candidate equal, character for character, to a registered URI always matches: RFC 9700 §4.1.3 requires
// exact string matching. Only when prefixMatching is set (seed 001's prefix registrations) may a candidate
// match a registered URI as a string prefix, and then only if the candidate
//   - parses as an absolute URI with a host, without userinfo, fragment, whitespace, control characters or
//     backslashes;
//   - has no dot-segments ("." or "..", RFC 3986 §3.3) in its path, not even percent-encoded, and no
//     percent-encoded slash or backslash there (which some servers decode into segments);
//   - has the same scheme, host and port (default ports made explicit) as the registered prefix.
//
// It never panics, whatever the input.
func Match(registered []string, prefixMatching bool, candidate string) bool {
	for _, r := range registered {
		if candidate == r {
			return true
		}
	}
	if !prefixMatching || candidate == "" {
		return false
	}
	cu, ok := safeCandidate(candidate)
	if !ok {
		return false
	}
	for _, r := range registered {
		if r == "" || !strings.HasPrefix(candidate, r) {
			continue
		}
		ru, err := url.Parse(r)
		if err != nil || ru.Host == "" || ru.User != nil {
			continue
		}
		if sameOrigin(cu, ru) {
			return true
		}
	}
	return false
}

// safeCandidate parses a candidate for prefix matching and rejects what could escape the prefix.
func safeCandidate(candidate string) (*url.URL, bool) {
	if len(candidate) > maxURILen || strings.ContainsAny(candidate, "#\\") {
		return nil, false
	}
	for i := 0; i < len(candidate); i++ {
		if c := candidate[i]; c <= 0x20 || c == 0x7f {
			return nil, false
		}
	}
	u, err := url.Parse(candidate)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
		return nil, false
	}
	// The raw path: after "scheme://authority", up to the query.
	_, rest, ok := strings.Cut(candidate, "://")
	if !ok {
		return nil, false
	}
	path := ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		path = rest[i:]
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	lower := strings.ToLower(path)
	if strings.Contains(lower, "%2e") || strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return nil, false
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return nil, false
		}
	}
	return u, true
}

// sameOrigin compares scheme, host and port (RFC 6454 §5), filling in default ports.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}
