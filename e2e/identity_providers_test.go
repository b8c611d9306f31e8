package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// upstreamProvider is an identity provider as the admin API answers it, with the JSON types the reference
// documents. ClientSecret is a pointer: the answer must never carry it.
type upstreamProvider struct {
	ProviderID   string            `json:"providerId"`
	TenantID     string            `json:"tenantId"`
	DisplayName  string            `json:"displayName"`
	Issuer       string            `json:"issuer"`
	ClientID     string            `json:"clientId"`
	ClientSecret *string           `json:"clientSecret"`
	Scopes       []string          `json:"scopes"`
	ClaimMapping map[string]string `json:"claimMapping"`
	LinkByEmail  bool              `json:"linkByEmail"`
	CreateUsers  bool              `json:"createUsers"`
	Disabled     bool              `json:"disabled"`
	RedirectURI  string            `json:"redirectUri"`
}

type upstreamProviderList struct {
	Items []upstreamProvider `json:"items"`
}

// tenantSettings is the sign-in part of a tenant as the admin API answers it.
type tenantSettings struct {
	TenantID string `json:"tenantId"`
	Branding struct {
		DisplayName  string `json:"displayName"`
		LogoDataURI  string `json:"logoDataUri"`
		PrimaryColor string `json:"primaryColor"`
	} `json:"branding"`
	DefaultLocale string `json:"defaultLocale"`
	MfaPolicy     struct {
		Requirement  string   `json:"requirement"`
		Roles        []string `json:"roles"`
		Passwordless bool     `json:"passwordless"`
	} `json:"mfaPolicy"`
	SelfRegistration bool `json:"selfRegistration"`
	Smtp             struct {
		Host     string  `json:"host"`
		Port     int     `json:"port"`
		Security string  `json:"security"`
		Username string  `json:"username"`
		Password *string `json:"password"`
		From     string  `json:"from"`
	} `json:"smtp"`
}

// factorUser is the factor part of a user as the admin API answers it.
type factorUser struct {
	UserID              string `json:"userId"`
	TotpEnrolled        bool   `json:"totpEnrolled"`
	PasskeyCount        int    `json:"passkeyCount"`
	FederatedIdentities []struct {
		ProviderID string `json:"providerId"`
		Subject    string `json:"subject"`
		Email      string `json:"email"`
	} `json:"federatedIdentities"`
}

// TestTenantSignInSettingsREST: a tenant's branding, language, MFA policy and SMTP settings are written and
// read over REST with their documented JSON types; the SMTP password is accepted but never answered; a bad
// value is answered 400 naming the field.
func TestTenantSignInSettingsREST(t *testing.T) {
	f := newFixture(t)
	s := f.s
	path := "/api/adminapi2/v1/tenants/" + f.tenantID
	body := map[string]any{
		"code": "acme", "name": "Acme",
		"branding":      map[string]any{"displayName": "Acme 登录", "primaryColor": "#0a7cff", "logoDataUri": "data:image/gif;base64,R0lGODlhAQABAAAAACw="},
		"defaultLocale": "zh-Hant",
		"mfaPolicy":     map[string]any{"requirement": "REQUIREMENT_ROLES", "roles": []string{"admin"}, "passwordless": true},
		"smtp": map[string]any{"host": "smtp.example.com", "port": 465, "security": "SECURITY_TLS", "username": "mailer",
			"password": "smtp-password-e2e", "from": "Acme <no-reply@example.com>"},
	}
	r := s.call(http.MethodPut, path, f.adminToken, body)
	if bytes.Contains(r.body, []byte("smtp-password-e2e")) {
		t.Fatal("the SMTP password was answered")
	}
	got := decodeAs[tenantSettings](t, "update", r, http.StatusOK)
	if got.Branding.PrimaryColor != "#0a7cff" || got.DefaultLocale != "zh-Hant" || got.MfaPolicy.Requirement != "REQUIREMENT_ROLES" ||
		!got.MfaPolicy.Passwordless || got.Smtp.Port != 465 || got.Smtp.Security != "SECURITY_TLS" || got.Smtp.Password != nil {
		t.Fatalf("updated %+v", got)
	}
	got = decodeAs[tenantSettings](t, "get", s.call(http.MethodGet, path, f.adminToken, nil), http.StatusOK)
	if got.Branding.DisplayName != "Acme 登录" || got.Smtp.Host != "smtp.example.com" || got.Smtp.Password != nil {
		t.Fatalf("read back %+v", got)
	}
	body["branding"] = map[string]any{"logoDataUri": "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="}
	e := decodeAs[apiError](t, "svg logo", s.call(http.MethodPut, path, f.adminToken, body), http.StatusBadRequest)
	if e.Field != "branding.logoDataUri" {
		t.Fatalf("svg logo: %+v", e)
	}
}

// TestIdentityProvidersREST drives the identity provider admin API over REST: create (the secret accepted,
// never answered), list, get, update (the secret kept when omitted), delete; another tenant's administrator
// is refused; bad input is answered 400 naming the field.
func TestIdentityProvidersREST(t *testing.T) {
	f := newFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID + "/identity-providers"
	create := s.call(http.MethodPost, base, f.adminToken, map[string]any{
		"providerId": "corp", "displayName": "Corp SSO", "issuer": "https://sso.corp.example", "clientId": "authsuite",
		"clientSecret": "upstream-secret-e2e", "scopes": []string{"openid", "email", "profile"},
		"claimMapping": map[string]string{"login_name": "upn"}, "linkByEmail": true,
	})
	if bytes.Contains(create.body, []byte("upstream-secret-e2e")) {
		t.Fatal("the client secret was answered")
	}
	p := decodeAs[upstreamProvider](t, "create", create, http.StatusCreated)
	if p.ProviderID != "corp" || p.TenantID != f.tenantID || p.ClientSecret != nil || !p.LinkByEmail || p.CreateUsers ||
		p.ClaimMapping["login_name"] != "upn" || p.RedirectURI != s.base+"/connect/upstream/callback" {
		t.Fatalf("created %+v", p)
	}
	decodeAs[apiError](t, "duplicate", s.call(http.MethodPost, base, f.adminToken, map[string]any{
		"providerId": "corp", "displayName": "x", "issuer": "https://x.example", "clientId": "c",
	}), http.StatusConflict)
	for _, c := range []struct {
		field string
		body  map[string]any
	}{
		{"provider.providerId", map[string]any{"providerId": "Bad_ID", "displayName": "x", "issuer": "https://x.example", "clientId": "c"}},
		{"provider.issuer", map[string]any{"providerId": "x", "displayName": "x", "issuer": "http://x.example", "clientId": "c"}},
		{"provider.issuer", map[string]any{"providerId": "x", "displayName": "x", "issuer": "https://x.example/?q=1", "clientId": "c"}},
		{"provider.claimMapping", map[string]any{"providerId": "x", "displayName": "x", "issuer": "https://x.example", "clientId": "c",
			"claimMapping": map[string]string{"roles": "groups"}}},
		{"provider.displayName", map[string]any{"providerId": "x", "issuer": "https://x.example", "clientId": "c"}},
	} {
		got := decodeAs[apiError](t, "invalid "+c.field, s.call(http.MethodPost, base, f.adminToken, c.body), http.StatusBadRequest)
		if got.Field != c.field {
			t.Fatalf("invalid provider answered field %q, want %q (%+v)", got.Field, c.field, got)
		}
	}
	list := decodeAs[upstreamProviderList](t, "list", s.call(http.MethodGet, base, f.adminToken, nil), http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].ProviderID != "corp" || list.Items[0].ClientSecret != nil {
		t.Fatalf("list %+v", list)
	}
	upd := decodeAs[upstreamProvider](t, "update", s.call(http.MethodPut, base+"/corp", f.adminToken, map[string]any{
		"displayName": "Corp 单点登录", "issuer": "https://sso.corp.example", "clientId": "authsuite", "createUsers": true, "disabled": true,
	}), http.StatusOK)
	if upd.DisplayName != "Corp 单点登录" || !upd.CreateUsers || !upd.Disabled || upd.ClientSecret != nil {
		t.Fatalf("updated %+v", upd)
	}
	got := decodeAs[upstreamProvider](t, "get", s.call(http.MethodGet, base+"/corp", f.adminToken, nil), http.StatusOK)
	if got.DisplayName != upd.DisplayName || len(got.Scopes) != 0 {
		t.Fatalf("get %+v", got)
	}

	// The tenant's own administrator (a client of the tenant with adminapi) manages its providers, and no
	// other tenant's.
	tenantAdmin := clientToken(t, s, "billing", f.secret, "adminapi")
	decodeAs[upstreamProviderList](t, "tenant admin list", s.call(http.MethodGet, base, tenantAdmin, nil), http.StatusOK)
	decodeAs[apiError](t, "other tenant", s.call(http.MethodGet, "/api/adminapi2/v1/tenants/default/identity-providers", tenantAdmin, nil), http.StatusForbidden)
	decodeAs[apiError](t, "anonymous", s.call(http.MethodGet, base, "", nil), http.StatusUnauthorized)

	expect(t, "delete", s.call(http.MethodDelete, base+"/corp", f.adminToken, nil), http.StatusOK)
	decodeAs[apiError](t, "deleted", s.call(http.MethodGet, base+"/corp", f.adminToken, nil), http.StatusNotFound)

	want := map[string]bool{"identity_provider_created": false, "identity_provider_updated": false, "identity_provider_deleted": false}
	eventually(t, 10*time.Second, "identity provider events in the audit log", func() bool {
		ev, _ := auditEvents(t, s, f.adminToken, "registry", url.Values{"tenantId": {f.tenantID}, "pageSize": {"1000"}})
		for _, e := range ev.GetItems() {
			if _, ok := want[e.GetEvent()]; ok && e.GetTarget().GetId() == "corp" && e.GetOutcome() == "success" {
				want[e.GetEvent()] = true
			}
		}
		return want["identity_provider_created"] && want["identity_provider_updated"] && want["identity_provider_deleted"]
	})
}

// TestResetFactorsREST: POST …/users/{id}:resetFactors answers the user with the factor fields typed as the
// reference documents; an unknown user is 404.
func TestResetFactorsREST(t *testing.T) {
	f := newFixture(t)
	s := f.s
	users := "/api/adminapi2/v1/tenants/" + f.tenantID + "/users"
	u := decodeAs[factorUser](t, "create user", s.call(http.MethodPost, users, f.adminToken, map[string]any{
		"loginName": "dora", "password": "dora's password",
	}), http.StatusCreated)
	got := decodeAs[factorUser](t, "reset", s.call(http.MethodPost, users+"/"+u.UserID+":resetFactors", f.adminToken,
		map[string]any{"federatedIdentities": true}), http.StatusOK)
	if got.UserID != u.UserID || got.TotpEnrolled || got.PasskeyCount != 0 || got.FederatedIdentities == nil || len(got.FederatedIdentities) != 0 {
		t.Fatalf("reset %+v", got)
	}
	r := s.call(http.MethodGet, users+"/"+u.UserID, f.adminToken, nil)
	for _, field := range []string{`"totpEnrolled":false`, `"passkeyCount":0`, `"federatedIdentities":[]`} {
		if !strings.Contains(strings.ReplaceAll(string(r.body), " ", ""), field) {
			t.Fatalf("user JSON lacks %s: %s", field, r.body)
		}
	}
	decodeAs[apiError](t, "unknown user", s.call(http.MethodPost, users+"/ghost:resetFactors", f.adminToken, map[string]any{}), http.StatusNotFound)

	// The reset and the provider changes are in the registry's audit log (the recorder stores in the
	// background: wait for it).
	q := url.Values{"event": {"user_factors_reset"}, "tenantId": {f.tenantID}}
	eventually(t, 10*time.Second, "user_factors_reset in the audit log", func() bool {
		ev, _ := auditEvents(t, s, f.adminToken, "registry", q)
		for _, e := range ev.GetItems() {
			if e.GetTarget().GetId() == u.UserID && e.GetOutcome() == "success" && e.GetActor().GetClientId() == "admin" {
				return true
			}
		}
		return false
	})
}
