// Package resourceuri holds the rules of resource indicators (RFC 8707 §2) that the registry, which stores
// them, and the token service, which compares a request's resource parameter and a token's audience with
// them, must share: what an indicator may be, and its one normal form, so that two spellings of the same
// URI compare equal byte for byte.
package resourceuri

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// MaxLen bounds a resource indicator: it is the "aud" of every token issued for the resource.
const MaxLen = 512

// Normalize returns the normal form of a resource indicator: the scheme and the host in lowercase (they are
// case-insensitive, RFC 3986 §6.2.2.1) and an http or https URI without an empty or default port (RFC 3986
// §6.2.3), so "HTTPS://Orders.Internal:443/v1" becomes "https://orders.internal/v1". The path, which is
// case-sensitive, is kept as it is, and an empty path stays empty. Anything that would still not be a valid
// resource indicator is returned unchanged for Validate to refuse. It is idempotent, and a changed result
// always passes Validate.
func Normalize(raw string) string {
	norm := normalForm(raw)
	if norm == raw || Validate(norm) != nil {
		return raw
	}
	return norm
}

// normalForm lowercases raw's scheme and, after "//", its authority, and drops an empty or default port of
// http and https; it does not check raw.
func normalForm(raw string) string {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return raw
	}
	scheme = asciiLower(scheme)
	auth, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return scheme + ":" + rest
	}
	host, path := auth, ""
	if i := strings.IndexByte(auth, '/'); i >= 0 {
		host, path = auth[:i], auth[i:]
	}
	host = asciiLower(host)
	if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
		if port := host[i+1:]; port == "" || port == defaultPorts[scheme] {
			host = host[:i]
		}
	}
	return scheme + "://" + host + path
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// Validate checks a resource indicator (RFC 8707 §2): an absolute URI (RFC 3986 §4.3) of at most MaxLen
// bytes, in Normalize's normal form, made only of the characters RFC 3986 §2 allows (percent-encodings well
// formed), without a fragment (RFC 8707 §2: MUST NOT) and without a query (RFC 8707 §2: SHOULD NOT; refused
// so that an audience is never confused with request parameters), without userinfo. An http or https URI
// has a host after "//"; any other scheme (urn:, for instance) has something after its colon. A host is a
// DNS name or IPv4 address of letters, digits, '-', '.', '_' and '~', or a bracketed IPv6 address. The error
// is a sentence for a person, naming the rule.
func Validate(raw string) error {
	if raw == "" {
		return errors.New("is required: an absolute URI such as https://orders.internal (RFC 8707 §2)")
	}
	if len(raw) > MaxLen {
		return fmt.Errorf("must be at most %d bytes", MaxLen)
	}
	if strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment (RFC 8707 §2)")
	}
	if strings.Contains(raw, "?") {
		return errors.New("must not contain a query (RFC 8707 §2)")
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return errors.New("has a malformed percent-encoding (RFC 3986 §2.1)")
			}
		case !isURIChar(c):
			return errors.New("may only contain the characters of a URI (RFC 3986 §2): percent-encode others")
		}
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return errors.New("must be an absolute URI with a scheme, such as https://orders.internal (RFC 8707 §2)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URI")
	}
	if u.User != nil {
		return errors.New("must not contain userinfo")
	}
	web := strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")
	if strings.HasPrefix(rest, "//") {
		if u.Host == "" || u.Hostname() == "" {
			return errors.New("must name a host after //")
		}
		if err := validHost(u.Hostname(), strings.HasPrefix(u.Host, "[")); err != nil {
			return err
		}
		if err := validPort(u.Port()); err != nil {
			return err
		}
	} else if web || rest == "" {
		return errors.New("must be an absolute URI such as https://orders.internal (RFC 8707 §2)")
	}
	if norm := normalForm(raw); norm != raw {
		return fmt.Errorf("must be in normal form %q: scheme and host in lowercase, no empty or default port", clip(norm, 80))
	}
	return nil
}

// validHost checks the host of a resource indicator: a bracketed IP address (RFC 3986 §3.2.2), or a name or
// IPv4 address without percent-encoding, so that the host has one spelling.
func validHost(host string, bracketed bool) error {
	if bracketed {
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return errors.New("not a valid IPv6 address")
		}
		return nil
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '.' && c != '_' && c != '~' {
			return errors.New("the host must be a DNS name or an IP address (an internationalized name in its xn-- form)")
		}
	}
	return nil
}

func validPort(p string) error {
	if len(p) > 5 {
		return errors.New("invalid port")
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if !isDigit(p[i]) {
			return errors.New("invalid port")
		}
		n = n*10 + int(p[i]-'0')
	}
	if n > 65535 {
		return errors.New("invalid port")
	}
	return nil
}

// validScheme checks scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isURIChar reports whether c may appear in a URI as it is: unreserved, gen-delims or sub-delims (RFC 3986
// §2.2, §2.3); '%' is checked apart.
func isURIChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// asciiLower lowercases the ASCII letters of s (a URI's scheme and host are ASCII, RFC 3986 §3.1, §3.2.2).
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
