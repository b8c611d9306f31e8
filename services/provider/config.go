package provider

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
)

// Limits of a configuration file.
const (
	MaxEntries     = 1000
	MaxNameLen     = 128
	MaxValueLen    = 4096
	MaxListEntries = 64
)

// Parsed is one valid entry of a configuration file: the provider (without SealedSecret and UpdateTime)
// and its secret in clear, to be sealed by the caller.
type Parsed struct {
	Provider Provider
	Secret   string
}

// placeholder matches the template values of ThingWorx Flow's example file ("<client id here>", "<base url here>"). Such values
// load — that example file loads exactly as written — but the provider is not connectable until replaced.
var placeholder = regexp.MustCompile(`^<[^<>]*>$`)

// ParseConfig validates a decoded configuration ({<connector type>: {<provider name>: {<key>: <value>}}},
// with JSON values as encoding/json or structpb decode them) against the catalog. It returns the valid
// entries sorted by type and name and every problem found; when there is any problem, none of the entries
// may be stored (a load is all or nothing) — they are returned so callers can report further problems
// (such as providers in use) in the same answer. It never panics.
func ParseConfig(c Catalog, doc any) ([]Parsed, []Problem) {
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, []Problem{{Reason: fmt.Sprintf("must be an object {<connector type>: {<provider name>: {...}}}, not %s", jsonType(doc))}}
	}
	var out []Parsed
	var problems []Problem
	n := 0
	listed, unknown := false, 0
	for _, typ := range sortedKeys(top) {
		e, known := c[typ]
		if !known {
			reason := "is not a known connector type"
			unknown++
			near := ""
			if unknown <= 10 { // suggestions for the first few only: each costs edit distances
				near = nearest(typ, append(c.Types(), WrapperKey))
			}
			if near != "" {
				reason += fmt.Sprintf(" (did you mean %q?)", near)
			} else if !listed { // the list once per answer, not once per unknown key
				reason += " (want one of " + strings.Join(c.Types(), ", ") + ")"
				listed = true
			}
			problems = append(problems, Problem{Entry: ProviderKey{Type: apierror.Clip(typ, 64)}, Reason: reason})
			continue
		}
		providers, ok := top[typ].(map[string]any)
		if !ok {
			problems = append(problems, Problem{Entry: ProviderKey{Type: typ}, Reason: fmt.Sprintf("must be an object of providers by name, not %s", jsonType(top[typ]))})
			continue
		}
		for _, name := range sortedKeys(providers) {
			n++
			k := ProviderKey{Type: typ, Name: name}
			if reason := checkName(name); reason != "" {
				problems = append(problems, Problem{Entry: ProviderKey{Type: typ, Name: apierror.Clip(name, 64)}, Reason: reason})
				continue
			}
			p, ps := parseEntry(e, k, providers[name])
			if len(ps) > 0 {
				problems = append(problems, ps...)
				continue
			}
			out = append(out, p)
		}
	}
	if n > MaxEntries {
		problems = append(problems, Problem{Reason: fmt.Sprintf("has %d providers; at most %d per load", n, MaxEntries)})
	}
	if len(problems) > 0 {
		SortProblems(problems)
		return out, problems
	}
	if n == 0 {
		return nil, []Problem{{Reason: "names no provider"}}
	}
	return out, nil
}

func checkName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "provider name must not be empty"
	case len(name) > MaxNameLen:
		return fmt.Sprintf("provider name is longer than %d bytes", MaxNameLen)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		return "provider name must be printable UTF-8"
	case strings.TrimSpace(name) != name:
		return "provider name must not start or end with spaces"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func parseEntry(e Entry, k ProviderKey, v any) (Parsed, []Problem) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Parsed{}, []Problem{{Entry: k, Reason: fmt.Sprintf("must be an object of settings, not %s", jsonType(v))}}
	}
	var problems []Problem
	bad := func(key, format string, args ...any) {
		problems = append(problems, Problem{Entry: k, Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	allowed := map[string]bool{}
	for _, key := range append(append([]string(nil), e.Required...), e.Optional...) {
		allowed[key] = true
	}
	// ThingWorx Flow's documentation spells the PingFederate key BASE_URL in its table and base_url in its JSON: accept both.
	vals := map[string]any{}
	for _, key := range sortedKeys(obj) {
		canon := key
		if key == "BASE_URL" && allowed[keyBaseURL] {
			canon = keyBaseURL
		}
		if !allowed[canon] {
			bad(apierror.Clip(key, 64), "is not a setting of %s (want %s)", e.Type, strings.Join(append(append([]string(nil), e.Required...), e.Optional...), ", "))
			continue
		}
		if _, dup := vals[canon]; dup {
			bad(canon, "is given twice (as base_url and BASE_URL)")
			continue
		}
		vals[canon] = obj[key]
	}
	for _, key := range e.Required {
		if _, ok := vals[key]; !ok {
			bad(key, "is required")
		}
	}
	var s Settings
	s.Raw = map[string]any{}
	var secret string
	for _, key := range sortedKeys(vals) {
		v := vals[key]
		switch key {
		case keyValidateHdrs:
			hs, reason := parseHeaders(v)
			if reason != "" {
				bad(key, "%s", reason)
				continue
			}
			s.ValidateHeaders = hs
			continue
		case keyParamsScope:
			so, reason := parseScopes(v)
			if reason != "" {
				bad(key, "%s", reason)
				continue
			}
			s.Scopes = so
			s.Raw[key] = v
			continue
		}
		str, ok := v.(string)
		if !ok {
			bad(key, "must be a string, not %s", jsonType(v))
			continue
		}
		if reason := checkValue(str); reason != "" {
			bad(key, "%s", reason)
			continue
		}
		if placeholder.MatchString(str) {
			s.Placeholders = append(s.Placeholders, key)
		} else if isURLKey(key) {
			if reason := checkURL(str); reason != "" {
				bad(key, "%s", reason)
				continue
			}
			if key == keyLoginURL || key == keyResourceURL && e.ResourceScope {
				if reason := checkBaseURL(str); reason != "" {
					bad(key, "%s", reason)
					continue
				}
			}
		} else if key == keyTenantID {
			if reason := checkTenantID(str); reason != "" {
				bad(key, "%s", reason)
				continue
			}
		}
		if key == e.SecretKey {
			secret = str
			continue
		}
		s.Raw[key] = str
		switch key {
		case e.Required[0]:
			s.ClientID = str
		case keyBaseURL:
			s.BaseURL = str
		case keyPFAdapter:
			s.PFIdPAdapterID = str
		case keyResourceURL:
			s.ResourceURL = str
		case keyAuthURL:
			s.AuthURL = str
		case keyTokenURL:
			s.TokenURL = str
		case keyRefreshURL:
			s.RefreshURL = str
		case keyValidateURL:
			s.ValidateURL = str
		case keyTenantID:
			s.TenantID = str
		case keyLoginURL:
			s.LoginURL = str
		}
	}
	if len(problems) > 0 {
		return Parsed{}, problems
	}
	sort.Strings(s.Placeholders)
	return Parsed{Provider: Provider{ProviderKey: k, Settings: s}, Secret: secret}, nil
}

func isURLKey(key string) bool {
	switch key {
	case keyBaseURL, keyResourceURL, keyAuthURL, keyTokenURL, keyRefreshURL, keyValidateURL, keyLoginURL:
		return true
	}
	return false
}

func checkValue(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "must not be empty"
	case len(s) > MaxValueLen:
		return fmt.Sprintf("is longer than %d bytes", MaxValueLen)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, isControl):
		return "must be printable UTF-8 without control characters"
	}
	return ""
}

// checkURL accepts absolute http(s) URLs with a host and no userinfo or fragment (RFC 6749 §3.1, §3.2).
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http or https URL"
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "must be an absolute http or https URL"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return "must not contain a fragment (RFC 6749 §3.1)"
	}
	return ""
}

// checkBaseURL accepts the origin of an https server ("https://host[:port]", a trailing "/" allowed),
// such as a Salesforce login host or a Dynamics 365 organization: no path, query or fragment, since
// endpoint paths and the scope are appended to it. Plain http is accepted for loopback hosts only (local
// development and tests).
func checkBaseURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "must be an https URL"
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return "must be an https URL (http only for a loopback host)"
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery {
		return "must be the server's base URL, like https://example.my.salesforce.com, without a path or query"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// tenantGUID is a directory (tenant) id: a GUID in its 8-4-4-4-12 hexadecimal form.
var tenantGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkTenantID accepts what the Microsoft identity platform takes as the tenant of its endpoints: a
// directory GUID, a verified domain name of the directory (contoso.onmicrosoft.com, contoso.com), or one
// of "organizations", "consumers" and "common".
func checkTenantID(s string) string {
	switch {
	case s == "organizations" || s == "consumers" || s == "common" || tenantGUID.MatchString(s):
		return ""
	case isDomainName(s):
		return ""
	}
	return `must be the directory (tenant) id, a GUID, a verified domain name of the directory, or "organizations", "consumers" or "common"`
}

// isDomainName: at least two dot-separated LDH labels (RFC 1035 §2.3.1) of 1-63 characters, at most 253
// characters, the last label not all digits.
func isDomainName(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

// parseHeaders reads oauth2_validate_headers: an array whose elements are JSON objects of header name to
// value encoded as strings, as ThingWorx Flow's documentation writes them ("{\"Authorization\":\"Bearer {access_token}\"}"), or
// the objects themselves.
func parseHeaders(v any) ([]Header, string) {
	objs, reason := parseObjectList(v)
	if reason != "" {
		return nil, reason
	}
	var hs []Header
	for i, o := range objs {
		for _, name := range sortedKeys(o) {
			val, ok := o[name].(string)
			if !ok {
				return nil, fmt.Sprintf("[%d]: header %q must have a string value", i, apierror.Clip(name, 64))
			}
			if !validToken(name) {
				return nil, fmt.Sprintf("[%d]: %q is not a valid header name", i, apierror.Clip(name, 64))
			}
			if strings.ContainsAny(val, "\r\n\x00") || len(val) > MaxValueLen {
				return nil, fmt.Sprintf("[%d]: header %s has an invalid value", i, name)
			}
			hs = append(hs, Header{Name: name, Value: val})
		}
	}
	return hs, ""
}

// parseScopes reads oauth2_params_scope: like oauth2_validate_headers, objects of label to scope value
// ("{\"READ\":\"READ_PRIVILEGES\"}"); each scope must be a scope-token (RFC 6749 §3.3).
func parseScopes(v any) ([]ScopeOption, string) {
	objs, reason := parseObjectList(v)
	if reason != "" {
		return nil, reason
	}
	var so []ScopeOption
	for i, o := range objs {
		for _, label := range sortedKeys(o) {
			val, ok := o[label].(string)
			if !ok {
				return nil, fmt.Sprintf("[%d]: scope %q must have a string value", i, apierror.Clip(label, 64))
			}
			if !validScope(val) {
				return nil, fmt.Sprintf("[%d]: %q is not a valid scope (RFC 6749 §3.3)", i, apierror.Clip(val, 64))
			}
			so = append(so, ScopeOption{Label: label, Scope: val})
		}
	}
	return so, ""
}

func parseObjectList(v any) ([]map[string]any, string) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Sprintf("must be an array of JSON objects encoded as strings, not %s", jsonType(v))
	}
	if len(list) > MaxListEntries {
		return nil, fmt.Sprintf("has more than %d elements", MaxListEntries)
	}
	out := make([]map[string]any, 0, len(list))
	for i, el := range list {
		switch el := el.(type) {
		case map[string]any:
			out = append(out, el)
		case string:
			var m map[string]any
			if err := json.Unmarshal([]byte(el), &m); err != nil || m == nil {
				return nil, fmt.Sprintf("[%d] must be a JSON object encoded as a string, like \"{\\\"Name\\\":\\\"value\\\"}\"", i)
			}
			out = append(out, m)
		default:
			return nil, fmt.Sprintf("[%d] must be a JSON object encoded as a string, not %s", i, jsonType(el))
		}
	}
	return out, ""
}

// validToken: an HTTP field name (RFC 9110 §5.1).
func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validScope: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
func validScope(s string) bool {
	if s == "" || len(s) > 512 {
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

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// nearest is the candidate within edit distance 2 of s (ignoring case), or "".
func nearest(s string, candidates []string) string {
	if len(s) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
