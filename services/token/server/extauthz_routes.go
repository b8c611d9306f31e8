package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Bounds of an authorizer route file (ParseAuthzRoutes). A file beyond them is refused, never trimmed.
const (
	MaxAuthzRoutesBytes = 1 << 20 // the whole file
	MaxAuthzRoutes      = 1024    // routes in it
	maxRoutePrefix      = 1024    // bytes of one prefix
	maxRouteAudience    = 2048    // bytes of one audience
	maxRouteScopes      = 64      // scopes of one route
	maxRouteScope       = 256     // bytes of one scope
	maxRouteMethods     = 16      // methods of one route
	maxRouteMethod      = 32      // bytes of one method
)

// AuthzRoutes is a validated, immutable route table of the Envoy authorizer (extauthz.go): which audience
// and scopes a request's access token must have, chosen by the request's path and method. Safe for
// concurrent use.
type AuthzRoutes struct {
	// routes are ordered as match tries them: longer prefixes first, and at equal prefixes a route that
	// names methods before one that does not.
	routes []authzRoute
}

// authzRoute is one validated route.
type authzRoute struct {
	prefix   string
	audience string
	scopes   []string
	methods  []string // nil: every method
	// challengeScope is scopes joined by spaces, for WWW-Authenticate's scope attribute (RFC 6750 §3).
	challengeScope string
}

// ParseAuthzRoutes reads and validates an authorizer route file:
//
//	{"routes": [{"prefix": "/orders/", "audience": "https://orders.internal",
//	             "scopes": ["orders.read"], "methods": ["GET", "HEAD"]}]}
//
// Decoding is strict: member names are matched exactly (case included), an unknown or repeated member, a
// null, a value of the wrong type or anything after the document is an error. Every route needs a prefix
// (a path in normal form starting with "/", see authzNormalPath), an audience (an absolute URI without a
// fragment, RFC 8707 §2: an API resource id), and may name scopes (RFC 6749 §3.3 scope-tokens, all
// required) and methods (RFC 9110 §9.1 tokens, matched case-sensitively; none: every method). Two routes
// with the same prefix may coexist only when both name methods and share none. The error names the route
// (its index and prefix) and the field. At least one route is required. It never panics.
func ParseAuthzRoutes(data []byte) (*AuthzRoutes, error) {
	if len(data) > MaxAuthzRoutesBytes {
		return nil, fmt.Errorf("the route file has %d bytes; at most %d", len(data), MaxAuthzRoutesBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var routes []authzRoute
	err := routeObject(dec, "", func(name string) error {
		if name != "routes" {
			return fmt.Errorf("unknown member %q (want routes)", name)
		}
		return routeArray(dec, "routes", func(i int) error {
			if i >= MaxAuthzRoutes {
				return fmt.Errorf("routes: more than %d routes", MaxAuthzRoutes)
			}
			r, err := decodeRoute(dec, i)
			if err != nil {
				return err
			}
			routes = append(routes, r)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the route document")
	}
	if len(routes) == 0 {
		return nil, errors.New("routes: at least one route is required (without routes every request would be denied)")
	}
	if err := checkRouteOverlaps(routes); err != nil {
		return nil, err
	}
	slices.SortStableFunc(routes, func(a, b authzRoute) int {
		if d := len(b.prefix) - len(a.prefix); d != 0 {
			return d
		}
		return len(b.methods) - len(a.methods)
	})
	return &AuthzRoutes{routes: routes}, nil
}

// Len is the number of routes.
func (t *AuthzRoutes) Len() int { return len(t.routes) }

// match returns the route for a request: among the routes whose prefix the path starts with (a plain
// string prefix, like Envoy's route prefix match) and which allow the method, the one with the longest
// prefix, a route naming methods winning over one that does not at equal prefixes. The path must already be
// in normal form without query (authzNormalPath).
func (t *AuthzRoutes) match(method, path string) (*authzRoute, bool) {
	for i := range t.routes {
		r := &t.routes[i]
		if strings.HasPrefix(path, r.prefix) && (r.methods == nil || slices.Contains(r.methods, method)) {
			return r, true
		}
	}
	return nil, false
}

// checkRouteOverlaps refuses two routes with the same prefix unless both name methods and share none: which of
// them applies would otherwise depend on the file's order.
func checkRouteOverlaps(routes []authzRoute) error {
	first := map[string][]int{} // prefix → indexes of the routes with it
	for i, r := range routes {
		for _, j := range first[r.prefix] {
			o := routes[j]
			if r.methods == nil || o.methods == nil {
				if r.methods == nil && o.methods == nil {
					return fmt.Errorf("routes[%d] (%q): prefix: repeats routes[%d]'s prefix; give one of them methods", i, r.prefix, j)
				}
				continue // the route naming methods is the more specific one
			}
			for _, m := range r.methods {
				if slices.Contains(o.methods, m) {
					return fmt.Errorf("routes[%d] (%q): methods: %s is also in routes[%d] with the same prefix", i, r.prefix, m, j)
				}
			}
		}
		first[r.prefix] = append(first[r.prefix], i)
	}
	return nil
}

// decodeRoute reads routes[i], one route object, and validates it.
func decodeRoute(dec *json.Decoder, i int) (authzRoute, error) {
	var r authzRoute
	var prefixSet, audienceSet bool
	field := func(name string) string { return fmt.Sprintf("routes[%d].%s", i, name) }
	err := routeObject(dec, fmt.Sprintf("routes[%d]", i), func(name string) error {
		switch name {
		case "prefix":
			prefixSet = true
			return routeString(dec, field(name), maxRoutePrefix, &r.prefix)
		case "audience":
			audienceSet = true
			return routeString(dec, field(name), maxRouteAudience, &r.audience)
		case "scopes":
			return routeStrings(dec, field(name), maxRouteScopes, maxRouteScope, &r.scopes)
		case "methods":
			if err := routeStrings(dec, field(name), maxRouteMethods, maxRouteMethod, &r.methods); err != nil {
				return err
			}
			if r.methods == nil {
				r.methods = []string{} // present: validated as a list that must not be empty
			}
			return nil
		}
		return fmt.Errorf("routes[%d]: unknown member %q (want prefix, audience, scopes, methods)", i, name)
	})
	if err != nil {
		return authzRoute{}, err
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("routes[%d] (%q): %s: %s", i, r.prefix, name, fmt.Sprintf(format, args...))
	}
	switch {
	case !prefixSet:
		return authzRoute{}, bad("prefix", "is required")
	case !strings.HasPrefix(r.prefix, "/") || strings.ContainsAny(r.prefix, "?#"):
		return authzRoute{}, bad("prefix", "want a path starting with / without query or fragment")
	case !authzNormalPath(r.prefix):
		return authzRoute{}, bad("prefix", "is not in normal form (no dot or empty segments, no percent-encoded unreserved characters, slashes or backslashes, no control characters)")
	case !audienceSet:
		return authzRoute{}, bad("audience", "is required: the API resource id the token's aud must contain")
	case !authzAudienceURI(r.audience):
		return authzRoute{}, bad("audience", "want an absolute URI without a fragment (RFC 8707 §2), got %q", clip(r.audience))
	}
	for j, sc := range r.scopes {
		if !authzScopeToken(sc) {
			return authzRoute{}, bad(fmt.Sprintf("scopes[%d]", j), "%q is not a scope token (RFC 6749 §3.3)", clip(sc))
		}
		if slices.Contains(r.scopes[:j], sc) {
			return authzRoute{}, bad(fmt.Sprintf("scopes[%d]", j), "%q is listed twice", clip(sc))
		}
	}
	if r.methods != nil && len(r.methods) == 0 {
		return authzRoute{}, bad("methods", "is empty; leave it out to match every method")
	}
	for j, m := range r.methods {
		if !authzMethodToken(m) {
			return authzRoute{}, bad(fmt.Sprintf("methods[%d]", j), "%q is not an HTTP method token (RFC 9110 §9.1)", clip(m))
		}
		if slices.Contains(r.methods[:j], m) {
			return authzRoute{}, bad(fmt.Sprintf("methods[%d]", j), "%s is listed twice", m)
		}
	}
	r.challengeScope = strings.Join(r.scopes, " ")
	return r, nil
}

// routeObject reads a JSON object, calling member for each member name with the decoder positioned at its
// value; member must consume the value. A repeated member is an error.
func routeObject(dec *json.Decoder, path string, member func(name string) error) error {
	if err := routeDelim(dec, path, '{', "an object"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return routeSyntaxError(path, err)
		}
		name, _ := t.(string)
		if seen[name] {
			return fmt.Errorf("%s: member %q is repeated", routePath(path), name)
		}
		seen[name] = true
		if err := member(name); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return routeSyntaxError(path, err)
}

// routeArray reads a JSON array, calling elem for each element with the decoder positioned at it; elem
// must consume it.
func routeArray(dec *json.Decoder, path string, elem func(i int) error) error {
	if err := routeDelim(dec, path, '[', "an array"); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		if err := elem(i); err != nil {
			return err
		}
	}
	_, err := dec.Token() // ']'
	return routeSyntaxError(path, err)
}

// routeString reads a JSON string of at most limit bytes into dst.
func routeString(dec *json.Decoder, path string, limit int, dst *string) error {
	t, err := dec.Token()
	if err != nil {
		return routeSyntaxError(path, err)
	}
	s, ok := t.(string)
	if !ok {
		return fmt.Errorf("%s: want a string", path)
	}
	if len(s) > limit {
		return fmt.Errorf("%s: longer than %d bytes", path, limit)
	}
	*dst = s
	return nil
}

// routeStrings reads a JSON array of at most n strings of at most limit bytes each into dst.
func routeStrings(dec *json.Decoder, path string, n, limit int, dst *[]string) error {
	return routeArray(dec, path, func(i int) error {
		if i >= n {
			return fmt.Errorf("%s: more than %d entries", path, n)
		}
		var s string
		if err := routeString(dec, fmt.Sprintf("%s[%d]", path, i), limit, &s); err != nil {
			return err
		}
		*dst = append(*dst, s)
		return nil
	})
}

func routeDelim(dec *json.Decoder, path string, d json.Delim, what string) error {
	t, err := dec.Token()
	if err != nil {
		return routeSyntaxError(path, err)
	}
	if t != d {
		return fmt.Errorf("%s: want %s", routePath(path), what)
	}
	return nil
}

func routeSyntaxError(path string, err error) error {
	if err == nil {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s: not valid JSON: %v", routePath(path), err)
}

func routePath(path string) string {
	if path == "" {
		return "the route document"
	}
	return path
}

// authzNormalPath reports whether p is a request path in normal form (RFC 3986 §6.2.2), the only form the
// authorizer matches, so that a path that an upstream would resolve to another route cannot match a laxer
// one: it starts with "/", has no empty segment ("//"), no dot segment ("/./", "/../", or at the end), no
// backslash, no control character or space, and no percent-encoding of an unreserved character, "/" or "\"
// (whose normal form is the character itself, or which an upstream may decode into a separator); a "%" must
// start a valid escape.
func authzNormalPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c <= ' ' || c == 0x7f || c == '\\':
			return false
		case c == '%':
			if i+2 >= len(p) || !authzIsHex(p[i+1]) || !authzIsHex(p[i+2]) {
				return false
			}
			v := authzUnhex(p[i+1])<<4 | authzUnhex(p[i+2])
			if v == '/' || v == '\\' || v == '-' || v == '.' || v == '_' || v == '~' ||
				('0' <= v && v <= '9') || ('a' <= v && v <= 'z') || ('A' <= v && v <= 'Z') {
				return false
			}
			i += 2
		}
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(p, "//")
}

func authzIsHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func authzUnhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// authzAudienceURI reports whether s is an absolute URI (RFC 3986 §4.3) without a fragment, as RFC 8707 §2 asks
// of a resource indicator, with a host when it is http(s).
func authzAudienceURI(s string) bool {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Fragment != "" || strings.Contains(s, "#") {
		return false
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return false
	}
	return true
}

// authzScopeToken reports whether s is an RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
func authzScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// authzMethodToken reports whether s is an RFC 9110 §5.6.2 token (a method name, §9.1).
func authzMethodToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
