package server

import (
	"strings"
	"unicode/utf8"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Limits on what an upstream identity gives the registry. OIDC Core §2: sub is at most 255 ASCII characters.
const (
	maxUpstreamSubject    = 255
	maxUpstreamClaimBytes = 256
)

// upstreamClaimDefaults are the upstream claims that fill a user's fields when the provider's claim_mapping
// does not name one (OIDC Core §5.1 standard claims).
var upstreamClaimDefaults = map[string]string{
	"login_name":   "preferred_username",
	"email":        "email",
	"display_name": "name",
}

// upstreamIdentity is what an upstream sign-in says about the person, mapped to the user's fields.
type upstreamIdentity struct {
	Subject       string
	Email         string
	EmailVerified bool
	LoginName     string
	DisplayName   string
}

// mapUpstreamClaims maps the verified claims of an upstream sign-in (the ID token's, completed by the
// userinfo response's) to the user's fields through p's claim_mapping (keys login_name, email,
// display_name; defaults upstreamClaimDefaults). A mapped claim that is not a string, is not valid UTF-8,
// or is longer than maxUpstreamClaimBytes is treated as absent; values are trimmed. email_verified counts
// only as the JSON true (or the string "true" some providers send) and only for the mapped e-mail claim
// "email": an address from another claim is never taken as verified. The e-mail is used only when it looks
// like an address (one @, something on both sides).
func mapUpstreamClaims(p *registryv1.UpstreamProvider, subject string, claims map[string]any) upstreamIdentity {
	id := upstreamIdentity{Subject: subject}
	claim := func(field string) string {
		name := upstreamClaimDefaults[field]
		if m := strings.TrimSpace(p.GetClaimMapping()[field]); m != "" {
			name = m
		}
		s, ok := claims[name].(string)
		s = strings.TrimSpace(s)
		if !ok || len(s) > maxUpstreamClaimBytes || !utf8.ValidString(s) {
			return ""
		}
		return s
	}
	id.LoginName = claim("login_name")
	id.DisplayName = claim("display_name")
	if e := claim("email"); plausibleEmail(e) {
		id.Email = e
		emailClaim := upstreamClaimDefaults["email"]
		if m := strings.TrimSpace(p.GetClaimMapping()["email"]); m != "" {
			emailClaim = m
		}
		if emailClaim == "email" {
			switch v := claims["email_verified"].(type) {
			case bool:
				id.EmailVerified = v
			case string:
				id.EmailVerified = v == "true"
			}
		}
	}
	return id
}

// plausibleEmail reports whether e has exactly one @ with text on both sides and no spaces or control
// characters. The registry applies its own address rules; this only keeps junk from being called verified.
func plausibleEmail(e string) bool {
	at := strings.IndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.Count(e, "@") != 1 {
		return false
	}
	for _, r := range e {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// validUpstreamSubject reports whether sub is a usable subject: 1-255 printable ASCII characters.
func validUpstreamSubject(sub string) bool {
	if sub == "" || len(sub) > maxUpstreamSubject {
		return false
	}
	for i := 0; i < len(sub); i++ {
		if sub[i] < 0x20 || sub[i] > 0x7e {
			return false
		}
	}
	return true
}
