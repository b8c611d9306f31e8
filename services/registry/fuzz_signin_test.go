package registry_test

import (
	"encoding/base64"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// FuzzValidateLogo: an accepted logo is a base64 data URI of a PNG, JPEG, GIF or WebP image of 1 byte to
// 48 KiB — never SVG, never a URL — and a refused one names the field.
func FuzzValidateLogo(f *testing.F) {
	for _, s := range []string{"", "data:image/png;base64,iVBORw0KGgo=", "data:image/svg+xml;base64,PHN2Zz4=",
		"data:image/PNG;BASE64,AA==", "data:image/png,abc", "https://x/logo.png", "data:image/webp;base64,====",
		"data:text/html;base64,PGI+", "data:image/gif;base64,R0lGODlh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		err := registry.ValidateLogo("logo", uri)
		if err != nil {
			if fe, ok := err.(*apierror.FieldError); !ok || fe.Field != "logo" {
				t.Fatalf("error %v does not name the field", err)
			}
			return
		}
		if uri == "" {
			return
		}
		head, data, ok := strings.Cut(uri, ",")
		typ := strings.ToLower(strings.TrimPrefix(head, "data:"))
		if !ok || !strings.HasPrefix(head, "data:") || strings.Contains(typ, "svg") {
			t.Fatalf("accepted %q", uri)
		}
		switch typ {
		case "image/png;base64", "image/jpeg;base64", "image/gif;base64", "image/webp;base64":
		default:
			t.Fatalf("accepted type %q", typ)
		}
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil || len(raw) == 0 || len(raw) > registry.MaxLogoBytes {
			t.Fatalf("accepted data of %d bytes (%v)", len(raw), err)
		}
	})
}

// FuzzValidateIssuer: an accepted issuer parses as an absolute URL with a host, https or http on a loopback
// host, without userinfo, query or fragment.
func FuzzValidateIssuer(f *testing.F) {
	for _, s := range []string{"https://idp.example", "https://idp.example/realms/x", "http://127.0.0.1:8080",
		"http://localhost:1/x", "http://idp.example", "https://idp.example?x=1", "https://idp.example#f",
		"https://u@idp.example", "https://[::1]:9/", "https://idp.example:99999", "ftp://x", "https:///x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := registry.ValidateIssuer("issuer", raw); err != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "#? \t\r\n") {
			t.Fatalf("accepted %q", raw)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && registry.IsLoopbackHost(u.Hostname())) {
			t.Fatalf("accepted scheme of %q", raw)
		}
	})
}

// FuzzValidateSMTP: accepted settings have a host, a port within range, SECURITY_NONE only on a loopback
// host without a username, and a From address net/mail parses; nothing is accepted without a host except the empty settings.
func FuzzValidateSMTP(f *testing.F) {
	f.Add("smtp.example.com", 587, "", "user", "A <a@example.com>")
	f.Add("127.0.0.1", 25, "none", "", "a@example.com")
	f.Add("127.0.0.1", 25, "none", "user", "a@example.com")
	f.Add("smtp.example.com", 25, "none", "", "a@example.com")
	f.Add("", 0, "", "", "")
	f.Add("[::1]", 70000, "tls", "x\x00", "bad")
	f.Fuzz(func(t *testing.T, host string, port int, security, user, from string) {
		m := registry.SMTPSettings{Host: host, Port: port, Security: security, Username: user, From: from}
		if registry.ValidateSMTP(m) != nil {
			return
		}
		if host == "" {
			if port != 0 || security != "" || user != "" || from != "" {
				t.Fatalf("accepted settings without a host: %+v", m)
			}
			return
		}
		if port < 0 || port > 65535 || strings.ContainsAny(host, ":/ @[]") && !isAddr(host) {
			t.Fatalf("accepted host %q port %d", host, port)
		}
		if security == registry.SMTPNone && (!registry.IsLoopbackHost(host) || user != "") {
			t.Fatalf("accepted SECURITY_NONE for %q with user %q", host, user)
		}
		if _, err := mail.ParseAddress(from); err != nil {
			t.Fatalf("accepted From %q", from)
		}
	})
}

func isAddr(h string) bool { _, err := netip.ParseAddr(h); return err == nil }

// FuzzValidateSignInSettings: accepted branding, locale and MFA settings hold their documented bounds.
func FuzzValidateSignInSettings(f *testing.F) {
	f.Add("Acme", "#aabbcc", "zh-Hant", "roles", "admin,ops", true)
	f.Add("", "", "", "", "", false)
	f.Add("x", "#GGGGGG", "fr", "all", ",", false)
	f.Fuzz(func(t *testing.T, name, color, locale, req, roles string, selfReg bool) {
		s := registry.SignInSettings{
			Branding:      registry.Branding{DisplayName: name, PrimaryColor: color},
			DefaultLocale: locale, MFA: registry.MFAPolicy{Requirement: req}, SelfRegistration: selfReg,
		}
		if roles != "" {
			s.MFA.Roles = strings.Split(roles, ",")
		}
		if registry.ValidateSignInSettings(s) != nil {
			return
		}
		if selfReg {
			t.Fatal("self-registration accepted without a mail server")
		}
		if len([]rune(name)) > 100 || color != "" && len(color) != 7 || locale != "" && locale != "en" && locale != "zh-Hans" && locale != "zh-Hant" {
			t.Fatalf("accepted %+v", s)
		}
		if req != "" && req != "roles" && req != "all" || req == "roles" && len(s.MFA.Roles) == 0 || len(s.MFA.Roles) > 20 {
			t.Fatalf("accepted MFA %+v", s.MFA)
		}
		for _, r := range s.MFA.Roles {
			if r == "" || len(r) > 64 {
				t.Fatalf("accepted role %q", r)
			}
		}
	})
}

// FuzzValidateIdentityProvider: an accepted provider has a valid id, a 1-100 character name, an issuer
// ValidateIssuer accepts, a client id, at most 20 scopes and a claim mapping over the known keys only.
func FuzzValidateIdentityProvider(f *testing.F) {
	f.Add("corp", "Corp", "https://idp.example", "c", "openid email", "login_name", "upn")
	f.Add("Bad", "", "http://x", "", "a a", "roles", "")
	f.Fuzz(func(t *testing.T, id, name, issuer, clientID, scopes, mapKey, mapValue string) {
		p := registry.IdentityProvider{ID: id, DisplayName: name, Issuer: issuer, ClientID: clientID,
			Scopes: strings.Fields(scopes), ClaimMapping: map[string]string{mapKey: mapValue}}
		err := registry.ValidateIdentityProvider(p)
		if err != nil {
			if fe, ok := err.(*apierror.FieldError); !ok || !strings.HasPrefix(fe.Field, "provider.") {
				t.Fatalf("error %v names no provider field", err)
			}
			return
		}
		if registry.ValidateProviderID("x", id) != nil || name == "" || len([]rune(name)) > 100 || clientID == "" ||
			registry.ValidateIssuer("x", issuer) != nil || len(p.Scopes) > 20 || mapValue == "" {
			t.Fatalf("accepted %+v", p)
		}
		switch mapKey {
		case "login_name", "email", "display_name":
		default:
			t.Fatalf("accepted mapping key %q", mapKey)
		}
	})
}

// FuzzValidateFederatedIdentity: an accepted link has a valid provider id and a subject of 1-255 bytes of
// UTF-8 without NUL (the stores' index keys rely on it).
func FuzzValidateFederatedIdentity(f *testing.F) {
	f.Add("corp", "248289761001")
	f.Add("corp", "a\x00b")
	f.Fuzz(func(t *testing.T, provider, subject string) {
		if registry.ValidateFederatedIdentity(registry.FederatedIdentity{ProviderID: provider, Subject: subject}) != nil {
			return
		}
		if registry.ValidateProviderID("x", provider) != nil || subject == "" || len(subject) > 255 || strings.ContainsRune(subject, 0) {
			t.Fatalf("accepted %q %q", provider, subject)
		}
	})
}
