package gateway

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// maxFormBytes bounds the body of the form endpoints; real requests are a few hundred bytes.
const maxFormBytes = 64 << 10

// invalidRequest is a request the gateway refuses before calling a service (RFC 6749 §5.2 invalid_request).
func invalidRequest(format string, args ...any) error {
	return apierror.OAuth(apierror.InvalidRequest, format, args...)
}

// repeatable are the parameters that may be sent more than once: resource (RFC 8707 §2) and audience
// (RFC 8693 §2.1). At most maxRepeated values each.
var repeatable = map[string]bool{"resource": true, "audience": true}

// maxRepeated bounds the values of a repeatable parameter.
const maxRepeated = 16

// ParseForm reads an RFC 6749 §3.2 request body: POST, application/x-www-form-urlencoded, at most 64 KiB,
// no parameter repeated (§3.1) except resource and audience. Parameters sent without a value are treated as
// omitted. The URL query is ignored.
func ParseForm(r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, invalidRequest("the endpoint requires POST")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	if err != nil {
		return nil, invalidRequest("cannot read the request body")
	}
	if len(body) > maxFormBytes {
		return nil, apierror.OAuthWithStatus(http.StatusRequestEntityTooLarge, apierror.InvalidRequest, "the request body is larger than 64 KiB")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("the body is not valid form encoding")
	}
	for k, vs := range form {
		switch {
		case len(vs) > 1 && !repeatable[k]:
			return nil, invalidRequest("parameter %q is repeated", apierror.Clip(k, 40))
		case len(vs) > maxRepeated:
			return nil, invalidRequest("parameter %q is repeated more than %d times", k, maxRepeated)
		}
		if !utf8.ValidString(k) {
			return nil, invalidRequest("parameters must be UTF-8")
		}
		kept := vs[:0]
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return nil, invalidRequest("parameters must be UTF-8")
			}
			if v != "" {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			delete(form, k)
		} else {
			form[k] = kept
		}
	}
	if form.Get("sudo") != "" {
		// No form endpoint acts as another user (see noSudo); a sudo parameter in the body is refused
		// like one in the query, never ignored.
		return nil, errSudoRefused
	}
	return form, nil
}

// ClientAuth extracts the client's credentials (RFC 6749 §2.3.1): HTTP Basic, whose user and password are
// form-encoded, or client_id/client_secret in the body, never both. A public client sends client_id only.
func ClientAuth(r *http.Request, form url.Values) (*tokenv1.ClientCredentials, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return &tokenv1.ClientCredentials{
			ClientId: form.Get("client_id"), ClientSecret: form.Get("client_secret"),
			// RFC 7523 §2.2: client_id is optional with an assertion; the token service reads it from sub.
			ClientAssertionType: form.Get("client_assertion_type"), ClientAssertion: form.Get("client_assertion"),
		}, nil
	}
	scheme, payload, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return nil, invalidRequest("client authentication must use the Basic scheme")
	}
	bad := apierror.OAuth(apierror.InvalidClient, "malformed Basic credentials")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return nil, bad
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, bad
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if err1 != nil || err2 != nil || id == "" {
		return nil, bad
	}
	if form.Has("client_secret") || form.Has("client_assertion") {
		return nil, invalidRequest("use one client authentication method, not Basic and a secret or assertion in the body")
	}
	if cid := form.Get("client_id"); cid != "" && cid != id {
		return nil, bad
	}
	return &tokenv1.ClientCredentials{ClientId: id, ClientSecret: secret, Basic: true}, nil
}

// ParseTokenRequest reads a token request (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6) from an HTTP request.
func ParseTokenRequest(r *http.Request) (*tokenv1.TokenRequest, error) {
	form, err := ParseForm(r)
	if err != nil {
		return nil, err
	}
	client, err := ClientAuth(r, form)
	if err != nil {
		return nil, err
	}
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, invalidRequest("grant_type is required")
	}
	return &tokenv1.TokenRequest{
		Client:       client,
		GrantType:    gt,
		Scope:        form.Get("scope"),
		Code:         form.Get("code"),
		RedirectUri:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		Username:     form.Get("username"),
		Password:     form.Get("password"),
		// RFC 8707 §2 and RFC 8693 §2.1.
		Resource:           form["resource"],
		Audience:           form["audience"],
		SubjectToken:       form.Get("subject_token"),
		SubjectTokenType:   form.Get("subject_token_type"),
		ActorToken:         form.Get("actor_token"),
		ActorTokenType:     form.Get("actor_token_type"),
		RequestedTokenType: form.Get("requested_token_type"),
		// RFC 8628 §3.4.
		DeviceCode: form.Get("device_code"),
	}, nil
}

// tokenJSON is the successful token response (RFC 6749 §5.1; RFC 8693 §2.2.1 adds issued_token_type).
type tokenJSON struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int32  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
}

// token serves POST /connect/token.
func (g *Gateway) token(w http.ResponseWriter, r *http.Request) {
	noStore(w.Header())
	req, err := ParseTokenRequest(r)
	if err != nil {
		writeOAuthError(w, err, false)
		return
	}
	resp, err := g.oauth.Token(r.Context(), req)
	if err != nil {
		writeOAuthError(w, err, req.GetClient().GetBasic())
		return
	}
	writeJSON(w, http.StatusOK, tokenJSON{
		AccessToken:     resp.GetAccessToken(),
		IssuedTokenType: resp.GetIssuedTokenType(),
		TokenType:       resp.GetTokenType(),
		ExpiresIn:       resp.GetExpiresIn(),
		Scope:           resp.GetScope(),
		RefreshToken:    resp.GetRefreshToken(),
		IDToken:         resp.GetIdToken(),
	})
}

// introspect serves POST /connect/introspect (RFC 7662 §2). exp and iat are JSON numbers (§2.2; see
// marshalOAuthJSON).
func (g *Gateway) introspect(w http.ResponseWriter, r *http.Request) {
	noStore(w.Header())
	client, form, ok := clientAndToken(w, r)
	if !ok {
		return
	}
	resp, err := g.oauth.Introspect(r.Context(), &tokenv1.IntrospectRequest{
		Client: client, Token: form.Get("token"), TokenTypeHint: form.Get("token_type_hint"),
		Audience: form.Get("audience"), // authsuite's extension: active only for this audience
	})
	if err != nil {
		writeOAuthError(w, err, client.GetBasic())
		return
	}
	if err := writeOAuthJSON(w, resp); err != nil {
		writeOAuthError(w, err, false)
	}
}

// revocation serves POST /connect/revocation (RFC 7009 §2): 200 with an empty body, also for unknown tokens.
func (g *Gateway) revocation(w http.ResponseWriter, r *http.Request) {
	client, form, ok := clientAndToken(w, r)
	if !ok {
		return
	}
	_, err := g.oauth.Revoke(r.Context(), &tokenv1.RevokeRequest{Client: client, Token: form.Get("token"), TokenTypeHint: form.Get("token_type_hint")})
	if err != nil {
		writeOAuthError(w, err, client.GetBasic())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// clientAndToken reads the form of an introspection (RFC 7662 §2.1) or revocation (RFC 7009 §2.1) request:
// the caller's client credentials, the required token and the optional token_type_hint. On a bad request it
// writes the error and reports false.
func clientAndToken(w http.ResponseWriter, r *http.Request) (client *tokenv1.ClientCredentials, form url.Values, ok bool) {
	form, err := ParseForm(r)
	if err == nil {
		client, err = ClientAuth(r, form)
	}
	if err == nil && form.Get("token") == "" {
		err = invalidRequest("token is required")
	}
	if err != nil {
		writeOAuthError(w, err, false)
		return nil, nil, false
	}
	return client, form, true
}

// writeOAuthError renders err as an RFC 6749 §5.2 error response (writeAnswer): client errors are 400 except
// invalid_client, 401 with a Basic challenge when the client tried HTTP Basic (basic, or a malformed Basic
// header the gateway refused itself).
func writeOAuthError(w http.ResponseWriter, err error, basic bool) {
	writeAnswer(w, err, answer{kind: oauthJSON, basic: basic || localInvalidClient(err)}, nil)
}

// localInvalidClient reports whether err is the gateway's own invalid_client: ClientAuth answers it only for
// a malformed Authorization: Basic header, so the client tried HTTP Basic.
func localInvalidClient(err error) bool {
	var oe *apierror.OAuthError
	return errors.As(err, &oe) && oe.Code == apierror.InvalidClient
}
