package console

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// clientForm is the client form as the browser sends it: every field of registryv1.Client under its REST
// (JSON) name, lists as one entry per line, claims as name=value lines, claim mappings as
// "attribute=claim [scope]" lines, the JWK Set as JSON. The console only reads the text into the message; the
// API validates it and names the field of any problem.
type clientForm struct {
	ID, Name                 string
	GrantTypes               []string
	AuthMethod               string
	RequireSecret            bool
	AllowOffline             bool
	AllowRemember            bool
	BCLSessionRequired       bool
	RequireConsent           bool
	AllowNoPKCE              bool
	AllowROPC                bool
	PrefixMatching           bool
	BoundTokens              bool
	AlwaysSendClaims         bool
	RedirectURIs             string
	PostLogoutURIs           string
	CORSOrigins              string
	Scopes                   string
	ServesResources          string
	BCLogoutURI              string
	JWKS, JWKSURI, SubjectDN string
	Claims, Mappings         string
	AccessLifetime           string
	RefreshLifetime          string
}

// maxFormLines bounds how many lines one textarea may hold; the API's own limits are far lower.
const maxFormLines = 1000

// clientFormOf reads a posted client form.
func clientFormOf(v url.Values) clientForm {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	on := func(k string) bool { return v.Get(k) != "" }
	f := clientForm{
		ID: get("clientId"), Name: get("clientName"), AuthMethod: get("tokenEndpointAuthMethod"),
		RequireSecret: on("requireClientSecret"), AllowOffline: on("allowOfflineAccess"),
		AllowRemember: on("allowRememberConsent"), BCLSessionRequired: on("backChannelLogoutSessionRequired"),
		RequireConsent: on("requireConsent"), AllowNoPKCE: on("allowNoPkce"), AllowROPC: on("allowRopc"),
		PrefixMatching: on("redirectUriPrefixMatching"), BoundTokens: on("tlsClientCertificateBoundAccessTokens"),
		AlwaysSendClaims: on("alwaysSendClientClaims"),
		RedirectURIs:     v.Get("redirectUris"), PostLogoutURIs: v.Get("postLogoutRedirectUris"),
		CORSOrigins: v.Get("allowedCorsOrigins"), Scopes: v.Get("allowedScopes"), ServesResources: v.Get("servesResources"),
		BCLogoutURI: get("backChannelLogoutUri"), JWKS: v.Get("jwks"), JWKSURI: get("jwksUri"),
		SubjectDN: get("tlsClientAuthSubjectDn"), Claims: v.Get("claims"), Mappings: v.Get("claimMappings"),
		AccessLifetime: get("accessTokenLifetime"), RefreshLifetime: get("refreshTokenLifetime"),
	}
	// In the console's order, so an error naming allowedGrantTypes[i] reads in the order shown.
	for _, g := range grantLabels {
		if slices.Contains(v["allowedGrantTypes"], g.Value) {
			f.GrantTypes = append(f.GrantTypes, g.Value)
		}
	}
	for _, g := range v["allowedGrantTypes"] {
		if !slices.Contains(f.GrantTypes, g) && len(f.GrantTypes) < 10 {
			f.GrantTypes = append(f.GrantTypes, g)
		}
	}
	return f
}

// formOfClient is the form showing c.
func formOfClient(c *registryv1.Client) clientForm {
	f := clientForm{
		ID: c.GetClientId(), Name: c.GetClientName(), GrantTypes: c.GetAllowedGrantTypes(),
		AuthMethod: c.GetTokenEndpointAuthMethod(), RequireSecret: c.GetRequireClientSecret(),
		AllowOffline: c.GetAllowOfflineAccess(), AllowRemember: c.GetAllowRememberConsent(),
		BCLSessionRequired: c.GetBackChannelLogoutSessionRequired(), RequireConsent: c.GetRequireConsent(),
		AllowNoPKCE: c.GetAllowNoPkce(), AllowROPC: c.GetAllowRopc(), PrefixMatching: c.GetRedirectUriPrefixMatching(),
		BoundTokens: c.GetTlsClientCertificateBoundAccessTokens(), AlwaysSendClaims: c.GetAlwaysSendClientClaims(),
		RedirectURIs: joinLines(c.GetRedirectUris()), PostLogoutURIs: joinLines(c.GetPostLogoutRedirectUris()),
		CORSOrigins: joinLines(c.GetAllowedCorsOrigins()), Scopes: joinLines(c.GetAllowedScopes()),
		ServesResources: joinLines(c.GetServesResources()), BCLogoutURI: c.GetBackChannelLogoutUri(),
		JWKSURI: c.GetJwksUri(), SubjectDN: c.GetTlsClientAuthSubjectDn(),
		Claims: formatClaims(c.GetClaims()), Mappings: formatMappings(c.GetClaimMappings()),
	}
	if c.Jwks != nil {
		if b, err := (protojson.MarshalOptions{Indent: "  "}).Marshal(c.GetJwks()); err == nil {
			f.JWKS = string(b)
		}
	}
	if c.AccessTokenLifetime != nil {
		f.AccessLifetime = strconv.Itoa(int(c.GetAccessTokenLifetime()))
	}
	if c.RefreshTokenLifetime != nil {
		f.RefreshLifetime = strconv.Itoa(int(c.GetRefreshTokenLifetime()))
	}
	return f
}

// client is the message the form describes, or the problems of fields the console could not read (field
// → message): a line without "=", JSON that is not an object, a lifetime that is not a number.
func (f clientForm) client() (*registryv1.Client, map[string]string) {
	bad := map[string]string{}
	c := &registryv1.Client{
		ClientId: f.ID, ClientName: f.Name, AllowedGrantTypes: f.GrantTypes, TokenEndpointAuthMethod: f.AuthMethod,
		RequireClientSecret: proto.Bool(f.RequireSecret), AllowOfflineAccess: f.AllowOffline,
		AllowRememberConsent: proto.Bool(f.AllowRemember), BackChannelLogoutSessionRequired: proto.Bool(f.BCLSessionRequired),
		RequireConsent: f.RequireConsent, AllowNoPkce: f.AllowNoPKCE, AllowRopc: f.AllowROPC,
		RedirectUriPrefixMatching: f.PrefixMatching, TlsClientCertificateBoundAccessTokens: f.BoundTokens,
		AlwaysSendClientClaims: f.AlwaysSendClaims, BackChannelLogoutUri: f.BCLogoutURI, JwksUri: f.JWKSURI,
		TlsClientAuthSubjectDn: f.SubjectDN,
	}
	lists := []struct {
		field string
		text  string
		dst   *[]string
	}{
		{"redirectUris", f.RedirectURIs, &c.RedirectUris},
		{"postLogoutRedirectUris", f.PostLogoutURIs, &c.PostLogoutRedirectUris},
		{"allowedCorsOrigins", f.CORSOrigins, &c.AllowedCorsOrigins},
		{"allowedScopes", f.Scopes, &c.AllowedScopes},
		{"servesResources", f.ServesResources, &c.ServesResources},
	}
	for _, l := range lists {
		items, err := parseLines(l.text)
		if err != nil {
			bad[l.field] = err.Error()
		}
		*l.dst = items
	}
	var err error
	if c.Claims, err = parseClaims(f.Claims); err != nil {
		bad["claims"] = err.Error()
	}
	if c.ClaimMappings, err = parseMappings(f.Mappings); err != nil {
		bad["claimMappings"] = err.Error()
	}
	if c.Jwks, err = parseJWKS(f.JWKS); err != nil {
		bad["jwks"] = err.Error()
	}
	if c.AccessTokenLifetime, err = parseSeconds(f.AccessLifetime); err != nil {
		bad["accessTokenLifetime"] = err.Error()
	}
	if c.RefreshTokenLifetime, err = parseSeconds(f.RefreshLifetime); err != nil {
		bad["refreshTokenLifetime"] = err.Error()
	}
	return c, bad
}

func joinLines(items []string) string { return strings.Join(items, "\n") }

// parseLines reads a textarea of one entry per line: entries trimmed, blank lines skipped.
func parseLines(text string) ([]string, error) {
	var out []string
	for i, line := range strings.Split(text, "\n") {
		if i >= maxFormLines {
			return out, fmt.Errorf("at most %d lines", maxFormLines)
		}
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// parseClaims reads name=value lines (the value may contain "=", and is trimmed).
func parseClaims(text string) (map[string]string, error) {
	lines, err := parseLines(text)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(lines))
	for i, l := range lines {
		k, v, ok := strings.Cut(l, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %d: want name=value", i+1)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("entry %d: claim %q is given twice", i+1, k)
		}
		out[k] = v
	}
	return out, nil
}

func formatClaims(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// parseMappings reads "attribute=claim" or "attribute=claim scope" lines.
func parseMappings(text string) ([]*registryv1.ClaimMapping, error) {
	lines, err := parseLines(text)
	if err != nil {
		return nil, err
	}
	var out []*registryv1.ClaimMapping
	for i, l := range lines {
		attr, rest, ok := strings.Cut(l, "=")
		attr = strings.TrimSpace(attr)
		parts := strings.Fields(rest)
		if !ok || attr == "" || len(parts) == 0 || len(parts) > 2 {
			return nil, fmt.Errorf("entry %d: want attribute=claim, or attribute=claim scope", i+1)
		}
		m := &registryv1.ClaimMapping{UserAttribute: attr, Claim: parts[0]}
		if len(parts) == 2 {
			m.Scope = parts[1]
		}
		out = append(out, m)
	}
	return out, nil
}

func formatMappings(ms []*registryv1.ClaimMapping) string {
	lines := make([]string, 0, len(ms))
	for _, m := range ms {
		l := m.GetUserAttribute() + "=" + m.GetClaim()
		if m.GetScope() != "" {
			l += " " + m.GetScope()
		}
		lines = append(lines, l)
	}
	return joinLines(lines)
}

// parseJWKS reads a JWK Set (RFC 7517 §5) as a JSON object; empty text is no set. Its members are for the
// API to check.
func parseJWKS(text string) (*structpb.Struct, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal([]byte(text), s); err != nil {
		return nil, fmt.Errorf("not a JSON object: a JWK Set is {\"keys\": [...]} (RFC 7517 §5)")
	}
	return s, nil
}

// parseSeconds reads a lifetime in whole seconds; empty is unset (the API's default).
func parseSeconds(text string) (*int32, error) {
	if text == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(text, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("must be a whole number of seconds")
	}
	return proto.Int32(int32(n)), nil
}

// groupFieldErrors adds, for each API message about an element of a field ("redirectUris[1]",
// "claims.sub", "claimMappings[0].claim", "jwks.keys[0].kty"), a message under the field's own name, so
// the textarea or checkbox group holding that element shows it: "entry 2: …" for a list element.
func groupFieldErrors(fields map[string]string) map[string]string {
	out := make(map[string]string, len(fields)*2)
	for k, v := range fields {
		out[k] = v
	}
	for k, v := range fields {
		base, rest := splitField(k)
		if rest == "" {
			continue
		}
		if _, ok := out[base]; ok {
			continue
		}
		out[base] = describeElement(base, rest) + v
	}
	return out
}

// splitField splits a REST field path at its first "[" or ".": "redirectUris[1]" → "redirectUris", "[1]".
func splitField(k string) (base, rest string) {
	i := strings.IndexAny(k, "[.")
	if i <= 0 {
		return k, ""
	}
	return k[:i], k[i:]
}

// describeElement names the element rest of field base for a person: "[1]" → "entry 2: ", ".sub" → "sub: ".
// The grant type checkboxes name no entry: the message names the grant type.
func describeElement(base, rest string) string {
	if base == "allowedGrantTypes" {
		return ""
	}
	if strings.HasPrefix(rest, "[") {
		if j := strings.IndexByte(rest, ']'); j > 1 {
			if n, err := strconv.Atoi(rest[1:j]); err == nil && n >= 0 && n < maxFormLines {
				tail := strings.TrimPrefix(rest[j+1:], ".")
				if tail != "" {
					return "entry " + strconv.Itoa(n+1) + ", " + tail + ": "
				}
				return "entry " + strconv.Itoa(n+1) + ": "
			}
		}
		return rest + ": "
	}
	return strings.TrimPrefix(rest, ".") + ": "
}

// preset is a starting point of the new-client form: it fills the form, the user changes what they like.
type preset struct {
	Key, Title, About string
	Form              clientForm
}

var presets = []preset{
	{Key: "m2m", Title: "Machine to machine", About: "A service calling APIs on its own behalf: client credentials with a secret.",
		Form: clientForm{GrantTypes: []string{"client_credentials"}, AuthMethod: "client_secret_basic", RequireSecret: true,
			AllowRemember: true, BCLSessionRequired: true}},
	{Key: "web", Title: "Web app", About: "A server-side application signing users in: authorization code and refresh tokens, with a secret.",
		Form: clientForm{GrantTypes: []string{"authorization_code", "refresh_token"}, AuthMethod: "client_secret_basic",
			RequireSecret: true, AllowOffline: true, AllowRemember: true, BCLSessionRequired: true, Scopes: "openid\nprofile\nemail"}},
	{Key: "spa", Title: "Single-page app", About: "A browser application: authorization code with PKCE, no secret (RFC 9700 §2.1.1), its origin allowed for CORS.",
		Form: clientForm{GrantTypes: []string{"authorization_code"}, AuthMethod: "none", AllowRemember: true,
			BCLSessionRequired: true, Scopes: "openid\nprofile\nemail"}},
	{Key: "native", Title: "Native / CLI", About: "A desktop or command-line application: authorization code with PKCE, no secret, a loopback redirect (RFC 8252 §7.3).",
		Form: clientForm{GrantTypes: []string{"authorization_code"}, AuthMethod: "none", AllowRemember: true,
			BCLSessionRequired: true, RedirectURIs: "http://127.0.0.1/callback", Scopes: "openid\nprofile"}},
	{Key: "private-key-jwt", Title: "Service with private_key_jwt", About: "A service authenticating with a JWT signed by its own key (RFC 7523 §2.2): paste its public JWK Set or give its jwks_uri.",
		Form: clientForm{GrantTypes: []string{"client_credentials"}, AuthMethod: "private_key_jwt", RequireSecret: true,
			AllowRemember: true, BCLSessionRequired: true}},
}

// presetNamed is the preset key, or a blank form with the API's defaults when there is none of that name.
func presetNamed(key string) preset {
	for _, p := range presets {
		if p.Key == key {
			return p
		}
	}
	return preset{Form: clientForm{RequireSecret: true, AllowRemember: true, BCLSessionRequired: true, AuthMethod: "client_secret_basic"}}
}
