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
// exact string matching. Only when prefixMatching is set (redirectUriPrefixMatching, docs/reference/admin-api.md#redirect-uri-matching) may a candidate
// match a registered URI as a string prefix, and then only if the candidate
//   - parses as an absolute URI with a host, without userinfo, fragment, whitespace, control characters or
//     backslashes;
//   - has no dot-segments ("." or "..", RFC 3986 §3.3) in its path in any form a server might resolve:
//     percent-encoded once or more ("%2e", "%252e"), with matrix parameters ("..;x"), with NULs or other
//     control characters (".%00."), padded with dots or spaces; no backslash and no percent-encoded slash
//     there (which some servers decode into segments) — see safePath;
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
	return u, safePath(path)
}

// maxDecodeRounds bounds how many layers of percent-encoding safePath peels ("%252e" is two).
const maxDecodeRounds = 4

// safePath reports whether a raw URI path is free of everything a server or proxy behind the prefix might
// turn into a step out of it (RFC 3986 §5.2.4 remove_dot_segments, and what real servers do beyond it).
// The path is percent-decoded repeatedly (RFC 3986 §2.1; double encoding such as "%252e" is decoded by
// some proxy chains) until it no longer changes, and refused when
//   - a layer is not valid percent-encoding, or more than maxDecodeRounds layers are needed;
//   - any layer holds a NUL or other control character, a backslash, or an encoded "/" (a segment
//     boundary the prefix did not show);
//   - any segment of any layer, after cutting off matrix parameters (";…", which Tomcat and Spring strip
//     before resolving "..;"), is made only of dots and spaces ("." and ".." of RFC 3986 §3.3, and
//     "..." / ". ." that Windows servers trim to them), or holds a full-width or one-dot-leader dot.
func safePath(raw string) bool {
	slashes := strings.Count(raw, "/")
	p := raw
	for round := 0; ; round++ {
		if !safeLayer(p) || strings.Count(p, "/") != slashes {
			return false
		}
		if !strings.Contains(p, "%") {
			return true
		}
		if round == maxDecodeRounds {
			return false
		}
		d, err := url.PathUnescape(p)
		if err != nil {
			return false
		}
		p = d
	}
}

// safeLayer checks one decoding layer of a path: no control characters or backslashes, no dot-segment.
func safeLayer(p string) bool {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if seg != "" && strings.Trim(seg, ". ") == "" {
			return false
		}
		if strings.ContainsAny(seg, "\uff0e\u2024\ufe52") {
			return false
		}
	}
	return true
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
