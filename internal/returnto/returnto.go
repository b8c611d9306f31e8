// Package returnto validates where a browser may be sent after a flow completes (a connector's returnTo):
// a path on authsuite itself, or an absolute URL of an allowed origin, and nothing a browser could read as
// another origin. It is the one check of such URLs, used when one is stored and again when the browser is
// redirected (RFC 9700 §4.11: open redirectors; RFC 6749 §10.15). It is pure and never panics.
package returnto

import (
	"errors"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen bounds an accepted value.
const MaxLen = 2048

// ErrInvalid is the only error Policy.Check returns.
var ErrInvalid = errors.New("must be a path (\"/…\") or an absolute http(s) URL of an allowed origin, without " +
	"control characters, whitespace, backslashes, userinfo, \"//\" or percent-encoded tricks")

// Policy is the set of origins (scheme://host[:port], lowercase, default port omitted) a returnTo may name.
// A path-only value is resolved by the browser against the page that redirects, which is on one of them.
type Policy struct {
	origins map[string]bool
}

// New returns a policy allowing the given origins ("https://app.example", "http://127.0.0.1:8080"); a value
// that is not an absolute http(s) URL without path, query, userinfo or fragment is an error naming it.
func New(origins ...string) (*Policy, error) {
	p := &Policy{origins: map[string]bool{}}
	for _, o := range origins {
		u, err := url.Parse(strings.TrimRight(o, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return nil, errors.New("returnto: origin " + o + " is not scheme://host[:port]")
		}
		p.origins[origin(u)] = true
	}
	return p, nil
}

// Allows reports whether o (scheme://host[:port]) is one of the policy's origins.
func (p *Policy) Allows(o string) bool {
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && p.origins[origin(u)]
}

// Check returns raw unchanged when it is a safe return URL, or ErrInvalid. Accepted are exactly:
//   - a path: starts with one "/" (never "//"), then path, query and fragment characters;
//   - an absolute URL: scheme http or https, an allowed origin, no userinfo, a path that is empty or starts
//     with "/" and never contains "//".
//
// Whatever the form, raw must be valid UTF-8 of at most MaxLen bytes with no control characters, no
// whitespace (browsers drop tabs and newlines inside URLs, turning "/\t/evil" into "//evil", WHATWG URL
// §4.4) and no backslash (which browsers read as "/" in http(s) URLs); every "%" must start a valid escape,
// and what the escapes decode to must not be a control character, whitespace, "\", "/", "." or "%"
// (encoded separators and dot-segments are read differently by different servers, double encoding twice).
func (p *Policy) Check(raw string) (string, error) {
	if raw == "" || len(raw) > MaxLen || !utf8.ValidString(raw) || !safeChars(raw) {
		return "", ErrInvalid
	}
	if !safeEscapes(raw) {
		return "", ErrInvalid
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || strings.Contains(u.EscapedPath(), "//") {
		return "", ErrInvalid
	}
	if strings.HasPrefix(raw, "/") {
		if strings.HasPrefix(raw, "//") || u.Scheme != "" || u.Host != "" {
			return "", ErrInvalid
		}
		return raw, nil
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(authority(raw), "@") ||
		(u.Path != "" && !strings.HasPrefix(u.Path, "/")) || !p.origins[origin(u)] {
		return "", ErrInvalid
	}
	return raw, nil
}

// safeChars: no control character (C0, DEL, C1), no Unicode whitespace, no backslash.
func safeChars(s string) bool {
	for _, r := range s {
		if r < 0x21 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\\' || unicode.IsSpace(r) ||
			unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// safeEscapes: every "%" is followed by two hex digits, and the decoded byte is printable ASCII other than
// "/", "\", "." and "%", or part of a non-ASCII character.
func safeEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
			return false
		}
		b := unhex(s[i+1])<<4 | unhex(s[i+2])
		if b < 0x21 || b == 0x7f || b == '/' || b == '\\' || b == '.' || b == '%' {
			return false
		}
		i += 2
	}
	// Decoded multi-byte sequences must be valid UTF-8 and pass safeChars too (e.g. %C2%85, NEL).
	dec, err := url.PathUnescape(s)
	return err == nil && utf8.ValidString(dec) && safeChars(dec)
}

// authority is the text between "scheme://" and the next "/", "?" or "#".
func authority(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// origin is scheme://host[:port] in lowercase with the scheme's default port omitted (RFC 6454 §4).
func origin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
