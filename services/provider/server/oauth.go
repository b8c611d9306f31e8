package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/oauth1"
)

// The outbound side: authsuite as an OAuth 2.0 client of a provider (RFC 6749 §4.1.3, §6; RFC 7009).
// Nothing here logs or returns a token or secret; provider error descriptions are shortened and made
// printable before they reach a caller.

// providerError is a refusal by the provider's token endpoint (RFC 6749 §5.2).
type providerError struct {
	Code        string
	Description string
}

func (e *providerError) Error() string {
	if e.Description == "" {
		return "the provider answered " + e.Code
	}
	return "the provider answered " + e.Code + ": " + e.Description
}

// errUnreachable: the provider could not be reached or answered garbage.
var errUnreachable = errors.New("the provider's token endpoint could not be reached or gave no usable answer")

// tokenResponse is RFC 6749 §5.1 plus the quirks of the catalog (Salesforce instance_url, Slack ok).
type tokenResponse struct {
	AccessToken      string          `json:"access_token"`
	TokenType        string          `json:"token_type"`
	ExpiresIn        json.RawMessage `json:"expires_in"`
	RefreshToken     string          `json:"refresh_token"`
	Scope            string          `json:"scope"`
	InstanceURL      string          `json:"instance_url"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	OK               *bool           `json:"ok"`
}

// tokenRequest POSTs form to the token endpoint with client authentication per the catalog (RFC 6749
// §2.3.1: HTTP Basic with form-encoded id and secret, or both in the body) and parses the answer. It reads
// at most MaxResponseBytes and accepts JSON or, for providers that default to it (GitHub, Bitly),
// application/x-www-form-urlencoded.
func (s *Server) tokenRequest(ctx context.Context, e provider.Entry, endpoint, clientID, secret string, form url.Values) (provider.Grant, error) {
	switch e.ClientAuth {
	case provider.AuthBasic:
	default:
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return provider.Grant{}, errUnreachable
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if e.ClientAuth == provider.AuthBasic {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := s.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return provider.Grant{}, ctx.Err()
		}
		return provider.Grant{}, errUnreachable
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil || len(body) > MaxResponseBytes {
		return provider.Grant{}, errUnreachable
	}
	var tr tokenResponse
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" && !strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return provider.Grant{}, errUnreachable
		}
		tr = tokenResponse{AccessToken: q.Get("access_token"), TokenType: q.Get("token_type"), RefreshToken: q.Get("refresh_token"),
			Scope: q.Get("scope"), Error: q.Get("error"), ErrorDescription: q.Get("error_description")}
		if v := q.Get("expires_in"); v != "" {
			tr.ExpiresIn = json.RawMessage(strconv.Quote(v))
		}
	} else if err := json.Unmarshal(body, &tr); err != nil {
		if resp.StatusCode != http.StatusOK {
			return provider.Grant{}, &providerError{Code: "http_" + strconv.Itoa(resp.StatusCode)}
		}
		return provider.Grant{}, errUnreachable
	}
	if tr.Error != "" || resp.StatusCode != http.StatusOK || (e.SlackOK && tr.OK != nil && !*tr.OK) {
		code := safeText(tr.Error, 64) // an error code of nothing printable is no code
		if code == "" {
			code = "http_" + strconv.Itoa(resp.StatusCode)
		}
		return provider.Grant{}, &providerError{Code: code, Description: safeText(tr.ErrorDescription, 200)}
	}
	if tr.AccessToken == "" {
		return provider.Grant{}, &providerError{Code: "invalid_response", Description: "no access_token in the token response"}
	}
	if !isVSCHAR(tr.AccessToken) || (tr.RefreshToken != "" && !isVSCHAR(tr.RefreshToken)) {
		return provider.Grant{}, &providerError{Code: "invalid_response", Description: "access_token or refresh_token is not 1*VSCHAR (RFC 6749 Appendix A.12, A.17)"}
	}
	g := provider.Grant{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, TokenType: tr.TokenType, Scope: tr.Scope}
	if g.TokenType == "" {
		g.TokenType = "Bearer"
	}
	if e.InstanceURL {
		g.InstanceURL = tr.InstanceURL
	}
	if secs := parseExpiresIn(tr.ExpiresIn); secs > 0 {
		g.Expiry = s.now().Add(time.Duration(secs) * time.Second)
	}
	return g, nil
}

// isVSCHAR reports whether s is 1*VSCHAR (%x20-7E), the syntax of access-token and refresh-token (RFC 6749
// Appendix A.12, A.17). Anything else would be stored and later sent in Authorization headers.
func isVSCHAR(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseExpiresIn reads expires_in as a JSON number or, as some providers send it, a string.
func parseExpiresIn(raw json.RawMessage) int64 {
	if len(raw) == 0 {
		return 0
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		n = json.Number(s)
	}
	v, err := n.Int64()
	if err != nil {
		f, err := n.Float64()
		if err != nil {
			return 0
		}
		v = int64(f)
	}
	if v < 0 || v > 10*365*24*3600 {
		return 0
	}
	return v
}

// validate checks an access token at VALIDATE_URL with oauth2_validate_headers ("{access_token}" replaced),
// or Authorization: Bearer when none are configured. Any 2xx answer is valid.
func (s *Server) validate(ctx context.Context, validateURL string, headers []provider.Header, g provider.Grant) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, validateURL, nil)
	if err != nil {
		return errors.New("VALIDATE_URL is not usable")
	}
	if len(headers) == 0 {
		req.Header.Set("Authorization", "Bearer "+g.AccessToken)
	}
	for _, h := range headers {
		req.Header.Set(h.Name, strings.ReplaceAll(h.Value, "{access_token}", g.AccessToken))
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return errors.New("VALIDATE_URL could not be reached")
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("VALIDATE_URL refused the access token (HTTP %d)", resp.StatusCode)
	}
	return nil
}

// revoke asks the provider to revoke a grant (RFC 7009 §2.1): the refresh token when there is one (which
// revokes the whole grant at most providers), else the access token. Best effort: failures are logged.
func (s *Server) revoke(ctx context.Context, e provider.Entry, endpoint, clientID, secret string, g provider.Grant, connectorID string) {
	tok, hint := g.RefreshToken, "refresh_token"
	if tok == "" {
		tok, hint = g.AccessToken, "access_token"
	}
	form := url.Values{"token": {tok}, "token_type_hint": {hint}}
	if e.ClientAuth != provider.AuthBasic {
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if e.ClientAuth == provider.AuthBasic {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.log.Warn("connector revocation failed", "connector_id", connectorID, "err", "unreachable")
		return
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	if resp.StatusCode != http.StatusOK {
		s.log.Warn("connector revocation refused", "connector_id", connectorID, "http_status", resp.StatusCode)
	}
}

// outboundError maps an outbound failure to what the caller sees.
func outboundError(what string, err error) error {
	var pe *providerError
	switch {
	case errors.As(err, &pe):
		return apierror.FailedPrecondition("%s: %s", what, pe.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%s: %s: %w", what, err.Error(), apierror.ErrUnavailable)
}

// safeText shortens s and drops non-printable characters.
func safeText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// oauth1Request makes a signed OAuth 1.0a POST (RFC 5849 §3.1, HMAC-SHA1, parameters in the Authorization
// header §3.5.1, empty body) to a temporary credential (§2.1) or token (§2.3) endpoint and returns the
// form-encoded answer, which must be 200 and carry oauth_token and oauth_token_secret. tokenSecret is empty
// for temporary credential requests (§2.1). A refusal is a *providerError whose description is the
// provider's (shortened, printable) answer; nothing secret is in it.
func (s *Server) oauth1Request(ctx context.Context, endpoint, consumerKey, consumerSecret, token, tokenSecret string, extra ...oauth1.Param) (url.Values, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return nil, errUnreachable
	}
	c := oauth1.Client{ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, Now: s.now}
	if err := c.Sign(req, nil, token, tokenSecret, extra...); err != nil {
		return nil, errUnreachable
	}
	req.Header.Set("Accept", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errUnreachable
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil || len(body) > MaxResponseBytes {
		return nil, errUnreachable
	}
	if resp.StatusCode != http.StatusOK {
		// Trello answers refusals in plain text ("invalid signature", "token not found").
		return nil, &providerError{Code: "http_" + strconv.Itoa(resp.StatusCode), Description: safeText(string(body), 200)}
	}
	q, err := url.ParseQuery(strings.TrimSpace(string(body)))
	if err != nil || q.Get("oauth_token") == "" || q.Get("oauth_token_secret") == "" {
		return nil, &providerError{Code: "invalid_response", Description: "no oauth_token and oauth_token_secret in the answer"}
	}
	return q, nil
}
