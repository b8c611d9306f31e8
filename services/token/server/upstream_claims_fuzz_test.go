package server

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// FuzzMapUpstreamClaims: whatever JSON claims an upstream sends, with whatever claim mapping, the mapped
// identity has bounded UTF-8 values without surrounding spaces, an e-mail address only when it looks like
// one, and email_verified only when the address came from the "email" claim and email_verified was true.
func FuzzMapUpstreamClaims(f *testing.F) {
	f.Add(`{"email":"a@b.example","email_verified":true,"preferred_username":"a","name":"A"}`, "", "", "")
	f.Add(`{"mail":"a@b.example","email_verified":true}`, "", "mail", "")
	f.Add(`{"email":"a@b.example","email_verified":"true","upn":"x"}`, "upn", "", "name")
	f.Add(`{"email":["a@b"],"email_verified":1,"name":7}`, "", "", "")
	f.Add(`{"email":" @b ","name":"\u0000"}`, "", "", "")
	f.Fuzz(func(t *testing.T, raw, loginClaim, emailClaim, nameClaim string) {
		claims := map[string]any{}
		if json.Unmarshal([]byte(raw), &claims) != nil {
			return
		}
		p := &registryv1.UpstreamProvider{ClaimMapping: map[string]string{"login_name": loginClaim, "email": emailClaim, "display_name": nameClaim}}
		id := mapUpstreamClaims(p, "sub", claims)
		for _, v := range []string{id.Email, id.LoginName, id.DisplayName} {
			if len(v) > maxUpstreamClaimBytes || !utf8.ValidString(v) || v != strings.TrimSpace(v) {
				t.Fatalf("mapped value %q", v)
			}
		}
		if id.Email != "" && !plausibleEmail(id.Email) {
			t.Fatalf("e-mail %q", id.Email)
		}
		if id.EmailVerified {
			emailFrom := strings.TrimSpace(emailClaim)
			if emailFrom == "" {
				emailFrom = "email"
			}
			if id.Email == "" || emailFrom != "email" || (claims["email_verified"] != true && claims["email_verified"] != "true") {
				t.Fatalf("verified %q from %q with email_verified %v", id.Email, emailFrom, claims["email_verified"])
			}
		}
	})
}

// FuzzCheckUpstreamURL: an accepted issuer or authorization endpoint is an absolute URL without fragment or
// user information, https, or http on a loopback address or localhost.
func FuzzCheckUpstreamURL(f *testing.F) {
	for _, s := range []string{"https://idp.example", "http://127.0.0.1:8080", "http://[::1]/x", "http://localhost", "http://10.0.0.1",
		"http://idp.example", "https://idp.example/#f", "https://u:p@idp.example", "ftp://idp.example", "//idp.example", "https://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if checkUpstreamURL(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		switch u.Scheme {
		case "https":
		case "http":
			ip := net.ParseIP(u.Hostname())
			if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
				t.Fatalf("accepted plain http to %q", u.Hostname())
			}
		default:
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
	})
}
