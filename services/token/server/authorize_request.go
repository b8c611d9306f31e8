package server

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/redirecturi"
	"github.com/authsuite/authsuite/services/token/clients"
)

// Limits of the authorization request (beyond them the request is refused, never truncated).
const (
	maxAuthorizeParams = 16 << 10 // bytes of the whole form-encoded request
	maxStateLen        = 2048
	maxNonceLen        = 512
	maxLoginHintLen    = 256
	maxMaxAge          = 10 * 365 * 24 * 3600
)

// OpenID Connect error codes of the authorization endpoint (OIDC Core §3.1.2.6) not in RFC 6749.
const (
	errRequestNotSupported    = "request_not_supported"
	errRequestURINotSupported = "request_uri_not_supported"
)

// authzRequest is a validated authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636 §4.3).
type authzRequest struct {
	Client        *clients.Client
	RedirectURI   string
	Scopes        []string
	State         string
	Nonce         string
	CodeChallenge string // S256 challenge; empty only for allowNoPkce clients that sent none
	Prompt        []string
	MaxAge        int64 // -1 when absent
	LoginHint     string
	ResponseMode  string // "" (query) or responseModeFormPost
	// Resources are the resource parameters (RFC 8707 §2), well-formed (parseResources); the caller checks
	// them against the client's tenant.
	Resources []string
	// ACRValues are the acr_values (OIDC Core §3.1.2.1), in order of preference (parseACRValues).
	ACRValues []string
	// UILocales are the well-formed tags of ui_locales (OIDC Core §3.1.2.1), in order (validUILocales);
	// malformed ones are dropped, since the parameter is a preference.
	UILocales []string
}

// Response modes of the authorization endpoint (OAuth 2.0 Multiple Response Type Encoding Practices §2.1,
// OAuth 2.0 Form Post Response Mode §2). The query mode, the default of response_type=code, is stored as "".
const (
	responseModeQuery    = "query"
	responseModeFormPost = "form_post"
)

// ResponseModesSupported is the discovery document's response_modes_supported (RFC 8414 §2).
var ResponseModesSupported = []string{responseModeQuery, responseModeFormPost}

// authzError is a refused authorization request. With RedirectURI empty, the client or redirect URI could not
// be trusted and the error must be shown to the user, never redirected (RFC 6749 §4.1.2.1, §10.15); otherwise
// it is sent to RedirectURI with State.
type authzError struct {
	Code, Description  string
	RedirectURI, State string
	ResponseMode       string // how the error goes to RedirectURI ("" query, or responseModeFormPost)
}

// parseAuthorizeRequest parses and validates the form-encoded parameters of an authorization request in the
// order RFC 6749 §4.1.2.1 requires: first the client and the redirect URI (errors shown, not redirected),
// then everything else (errors redirected to the client). It never panics; on success the redirect URI
// matches the client's registration, response_type is code, every scope is allowed for the client, and PKCE
// is present unless the client may do without.
func parseAuthorizeRequest(raw string, lookup func(id string) (*clients.Client, bool)) (*authzRequest, *authzError) {
	page := func(code, format string, args ...any) *authzError {
		return &authzError{Code: code, Description: fmt.Sprintf(format, args...)}
	}
	if len(raw) > maxAuthorizeParams {
		return nil, page(apierror.InvalidRequest, "the request is larger than %d bytes", maxAuthorizeParams)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, page(apierror.InvalidRequest, "the request parameters are not valid form encoding")
	}
	// RFC 6749 §3.1: parameters sent without a value are treated as omitted.
	one := func(name string) (string, bool) {
		vs := q[name]
		if len(vs) > 1 {
			return "", false
		}
		if len(vs) == 0 {
			return "", true
		}
		return vs[0], true
	}
	clientID, ok := one("client_id")
	if !ok {
		return nil, page(apierror.InvalidRequest, "client_id is repeated")
	}
	if clientID == "" {
		return nil, page(apierror.InvalidRequest, "client_id is required")
	}
	cl, found := lookup(clientID)
	if !found || cl == nil {
		return nil, page(apierror.InvalidRequest, "unknown client_id")
	}
	redirect, ok := one("redirect_uri")
	if !ok {
		return nil, page(apierror.InvalidRequest, "redirect_uri is repeated")
	}
	// OIDC Core §3.1.2.1: redirect_uri is required; RFC 9700 §4.1.3: compared exactly (prefixes only for
	// clients registered with redirectUriPrefixMatching).
	if redirect == "" {
		return nil, page(apierror.InvalidRequest, "redirect_uri is required")
	}
	if !redirecturi.Match(cl.RedirectURIs, cl.RedirectURIPrefixMatching, redirect) {
		return nil, page(apierror.InvalidRequest, "redirect_uri is not registered for this client")
	}

	// From here on, errors go back to the client.
	state, _ := one("state")
	if len(q["state"]) > 1 {
		state = ""
	}
	// Errors go back in the response mode the client asked for when that mode is one we support (Form Post
	// Response Mode §2: "all response parameters"); a missing, repeated or unknown response_mode is answered
	// in the query, the default of response_type=code.
	// The browser can POST a form only to a web address: a native app's custom scheme gets the query.
	mode := ""
	if rm := q["response_mode"]; len(rm) == 1 && rm[0] == responseModeFormPost && isWebURI(redirect) {
		mode = responseModeFormPost
	}
	fail := func(code, format string, args ...any) *authzError {
		return &authzError{Code: code, Description: fmt.Sprintf(format, args...), RedirectURI: redirect, State: state, ResponseMode: mode}
	}
	for k, vs := range q {
		if len(vs) > 1 && k != "resource" { // RFC 8707 §2: resource may repeat
			return nil, fail(apierror.InvalidRequest, "parameter %q is repeated", clip(k))
		}
	}
	if len(state) > maxStateLen {
		return nil, fail(apierror.InvalidRequest, "state is longer than %d bytes", maxStateLen)
	}
	r := &authzRequest{Client: cl, RedirectURI: redirect, State: state, MaxAge: -1, ResponseMode: mode}
	get := func(name string) string { v, _ := one(name); return v }
	// OIDC Core §6: request objects are not supported.
	if get("request") != "" {
		return nil, fail(errRequestNotSupported, "request objects are not supported")
	}
	if get("request_uri") != "" {
		return nil, fail(errRequestURINotSupported, "request_uri is not supported")
	}
	switch rt := get("response_type"); rt {
	case "":
		return nil, fail(apierror.InvalidRequest, "response_type is required")
	case "code":
	default:
		return nil, fail(apierror.UnsupportedResponseType, "response_type must be code")
	}
	switch rm := get("response_mode"); rm {
	case "", responseModeQuery:
	case responseModeFormPost:
		if mode != responseModeFormPost {
			return nil, fail(apierror.InvalidRequest, "response_mode=form_post needs an http or https redirect_uri")
		}
	default:
		return nil, fail(apierror.InvalidRequest, "response_mode must be query or form_post")
	}
	if !cl.HasGrant(GrantAuthorizationCode) {
		return nil, fail(apierror.UnauthorizedClient, "the client may not use the authorization code grant")
	}
	scopes, err := requestedScopes(cl, get("scope"))
	if err != nil {
		return nil, fail(apierror.InvalidScope, "%s", err.Error())
	}
	r.Scopes = scopes
	if r.Resources, err = parseResources(q["resource"]); err != nil {
		return nil, fail(apierror.InvalidTarget, "%s", oauthDescription(err))
	}

	// RFC 7636 §4.3, §4.4.1: only S256 is supported (plain, the default method, is refused); RFC 9700
	// §2.1.1: PKCE is required unless the client is registered with allowNoPkce.
	challenge, method := get("code_challenge"), get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return nil, fail(apierror.InvalidRequest, "code_challenge_method without code_challenge")
	case challenge == "" && !cl.AllowNoPKCE:
		return nil, fail(apierror.InvalidRequest, "code_challenge is required (PKCE, RFC 7636)")
	case challenge != "" && method != "S256":
		return nil, fail(apierror.InvalidRequest, "code_challenge_method must be S256")
	case challenge != "" && !validChallenge(challenge):
		return nil, fail(apierror.InvalidRequest, "code_challenge must be 43 base64url characters (S256)")
	}
	r.CodeChallenge = challenge

	r.Nonce = get("nonce")
	if len(r.Nonce) > maxNonceLen {
		return nil, fail(apierror.InvalidRequest, "nonce is longer than %d bytes", maxNonceLen)
	}
	r.LoginHint = get("login_hint")
	if len(r.LoginHint) > maxLoginHintLen {
		return nil, fail(apierror.InvalidRequest, "login_hint is longer than %d bytes", maxLoginHintLen)
	}
	// OIDC Core §3.1.2.1 prompt: none must stand alone.
	for _, p := range strings.Fields(get("prompt")) {
		switch p {
		case "none", "login", "consent", "select_account":
		default:
			return nil, fail(apierror.InvalidRequest, "prompt %q is not supported", clip(p))
		}
		if !slices.Contains(r.Prompt, p) {
			r.Prompt = append(r.Prompt, p)
		}
	}
	if slices.Contains(r.Prompt, "none") && len(r.Prompt) > 1 {
		return nil, fail(apierror.InvalidRequest, "prompt=none cannot be combined with other values")
	}
	if ma := get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 || n > maxMaxAge {
			return nil, fail(apierror.InvalidRequest, "max_age must be a non-negative number of seconds")
		}
		r.MaxAge = n
	}
	// OIDC Core §3.1.2.1 acr_values: requested (voluntary) classes, see acr.go.
	if r.ACRValues, err = parseACRValues(get("acr_values")); err != nil {
		return nil, fail(apierror.InvalidRequest, "%s", err.Error())
	}
	r.UILocales = validUILocales(strings.Fields(get("ui_locales")))
	return r, nil
}

// isWebURI reports whether uri is an absolute http or https URL with a host.
func isWebURI(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// requestedScopes checks the scope parameter (RFC 6749 §3.3): required, well-formed, every scope allowed for
// the client; offline_access only for clients with allowOfflineAccess.
func requestedScopes(cl *clients.Client, raw string) ([]string, error) {
	if len(raw) > 4096 {
		return nil, fmt.Errorf("scope is too long")
	}
	fields := strings.Fields(raw)
	if len(fields) == 0 {
		return nil, fmt.Errorf("scope is required")
	}
	var out []string
	for _, sc := range fields {
		switch {
		case !validScopeToken(sc):
			return nil, fmt.Errorf("scope contains a malformed value")
		case !slices.Contains(cl.Scopes, sc):
			return nil, fmt.Errorf("scope %q is not allowed for this client", clip(sc))
		case sc == ScopeOfflineAccess && !cl.AllowOfflineAccess:
			return nil, fmt.Errorf("offline_access is not allowed for this client")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// validChallenge reports whether c is an S256 code challenge: BASE64URL(SHA256(verifier)), 43 characters
// (RFC 7636 §4.2).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	return isUnreservedB64(c)
}

// validVerifier reports whether v is a code verifier of RFC 7636 §4.1: 43–128 characters of
// [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func isUnreservedB64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
