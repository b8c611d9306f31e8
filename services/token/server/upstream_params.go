package server

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Bounds of an upstream callback (the query of GET /connect/upstream/callback). A provider's answer is a
// code, a state, an issuer and perhaps an error description: anything larger is not one.
const (
	maxUpstreamCallbackBytes = 16 << 10
	maxUpstreamParamBytes    = 4 << 10
	// upstreamStateLen is the length of the states StartUpstream makes (newSecret: 256 bits, base64url).
	upstreamStateLen = 43
)

// upstreamCallback is a parsed authorization response of an upstream provider (RFC 6749 §4.1.2, §4.1.2.1;
// RFC 9207 §2 iss).
type upstreamCallback struct {
	State string
	// Code is set on success; Error (the RFC 6749 §4.1.2.1 error code) otherwise, never both.
	Code             string
	Error            string
	ErrorDescription string
	// Issuer is the iss parameter (RFC 9207 §2); empty when absent.
	Issuer string
}

// errUpstreamParams is wrapped by every refusal of parseUpstreamCallback.
var errUpstreamParams = errors.New("invalid upstream callback")

// parseUpstreamCallback parses the query of an upstream callback. It refuses (with an error naming the
// parameter, wrapping errUpstreamParams): a query over maxUpstreamCallbackBytes or unparsable, a parameter
// given twice (RFC 6749 §3.1: response parameters MUST NOT be included more than once), a parameter over
// maxUpstreamParamBytes or not UTF-8, a state that is not one StartUpstream could have made (43 base64url
// characters), and an answer with both or neither of code and error. Other parameters (session_state,
// error_uri, ...) are ignored. It never panics.
func parseUpstreamCallback(raw string) (upstreamCallback, error) {
	var cb upstreamCallback
	if len(raw) > maxUpstreamCallbackBytes {
		return cb, fmt.Errorf("%w: the query is larger than %d bytes", errUpstreamParams, maxUpstreamCallbackBytes)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return cb, fmt.Errorf("%w: the query is not form-encoded", errUpstreamParams)
	}
	get := func(name string) (string, error) {
		vs := q[name]
		switch {
		case len(vs) == 0:
			return "", nil
		case len(vs) > 1:
			return "", fmt.Errorf("%w: %s given more than once", errUpstreamParams, name)
		case len(vs[0]) > maxUpstreamParamBytes:
			return "", fmt.Errorf("%w: %s is too long", errUpstreamParams, name)
		case !utf8.ValidString(vs[0]):
			return "", fmt.Errorf("%w: %s is not UTF-8", errUpstreamParams, name)
		}
		return vs[0], nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"state", &cb.State}, {"code", &cb.Code}, {"error", &cb.Error}, {"error_description", &cb.ErrorDescription}, {"iss", &cb.Issuer}} {
		if *f.dst, err = get(f.name); err != nil {
			return upstreamCallback{}, err
		}
	}
	if !validUpstreamState(cb.State) {
		return upstreamCallback{}, fmt.Errorf("%w: state is missing or not one this server made", errUpstreamParams)
	}
	if (cb.Code == "") == (cb.Error == "") {
		return upstreamCallback{}, fmt.Errorf("%w: exactly one of code and error must be given", errUpstreamParams)
	}
	// RFC 6749 §4.1.2.1: error is a code of %x20-21 / %x23-5B / %x5D-7E.
	for i := 0; i < len(cb.Error); i++ {
		if c := cb.Error[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return upstreamCallback{}, fmt.Errorf("%w: error has a character RFC 6749 §4.1.2.1 does not allow", errUpstreamParams)
		}
	}
	cb.ErrorDescription = strings.ToValidUTF8(cb.ErrorDescription, "")
	return cb, nil
}

// validUpstreamState reports whether s has the form of a state StartUpstream makes: upstreamStateLen
// base64url characters.
func validUpstreamState(s string) bool {
	if len(s) != upstreamStateLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
