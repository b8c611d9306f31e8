package provider_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/provider"
)

// parseOne parses one entry of type typ with the given extra settings.
func parseOne(t testing.TB, typ string, extra map[string]any) (provider.Parsed, []provider.Problem) {
	t.Helper()
	settings := map[string]any{"CLIENT_ID": "id", "CLIENT_SECRET": "secret"}
	for k, v := range extra {
		settings[k] = v
	}
	parsed, problems := provider.ParseConfig(provider.DefaultCatalog(), map[string]any{typ: map[string]any{"P": settings}})
	if len(parsed) == 1 {
		return parsed[0], problems
	}
	return provider.Parsed{}, problems
}

func resolve(t testing.TB, typ string, p provider.Parsed) provider.Endpoints {
	t.Helper()
	ep, err := provider.DefaultCatalog()[typ].Resolve(p.Provider, provider.Connector{})
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return ep
}

// TestMicrosoftTenant: the Microsoft types use the provider's TENANT_ID in their endpoints (single-tenant
// applications cannot use /common, AADSTS50194), and /common without one.
func TestMicrosoftTenant(t *testing.T) {
	for _, typ := range []string{"azure", "microsoft_365", "excel", "onedrive", "dynamics365"} {
		p, problems := parseOne(t, typ, nil)
		if len(problems) > 0 {
			t.Fatalf("%s: %v", typ, problems)
		}
		if ep := resolve(t, typ, p); ep.AuthURL != "https://login.microsoftonline.com/common/oauth2/v2.0/authorize" || ep.TokenURL != "https://login.microsoftonline.com/common/oauth2/v2.0/token" {
			t.Errorf("%s without TENANT_ID: %s %s", typ, ep.AuthURL, ep.TokenURL)
		}
		for _, tenant := range []string{"72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com", "organizations", "consumers"} {
			p, problems := parseOne(t, typ, map[string]any{"TENANT_ID": tenant})
			if len(problems) > 0 {
				t.Fatalf("%s TENANT_ID %s: %v", typ, tenant, problems)
			}
			ep := resolve(t, typ, p)
			if ep.AuthURL != "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/authorize" || ep.TokenURL != "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token" {
				t.Errorf("%s TENANT_ID %s: %s %s", typ, tenant, ep.AuthURL, ep.TokenURL)
			}
		}
		for _, bad := range []any{"", "not a tenant", "../common", "contoso", "72f988bf-86f1-41af-91ab", "a.b/c", 42, "x.123"} {
			if _, problems := parseOne(t, typ, map[string]any{"TENANT_ID": bad}); len(problems) != 1 || problems[0].Key != "TENANT_ID" {
				t.Errorf("%s TENANT_ID %v: problems %v, want one naming TENANT_ID", typ, bad, problems)
			}
		}
	}
	// The template spelling loads, and the provider is not connectable until it is replaced.
	p, problems := parseOne(t, "azure", map[string]any{"TENANT_ID": "<tenant id here>"})
	if len(problems) > 0 || fmt.Sprint(p.Provider.Settings.Placeholders) != "[TENANT_ID]" {
		t.Fatalf("placeholder TENANT_ID: %+v %v", p.Provider.Settings, problems)
	}
	// Other types do not take TENANT_ID.
	if _, problems := parseOne(t, "github", map[string]any{"TENANT_ID": "organizations"}); len(problems) != 1 {
		t.Errorf("github TENANT_ID: %v", problems)
	}
}

// TestDynamicsResourceURL: RESOURCE_URL names the Dynamics 365 organization whose user_impersonation
// scope is requested; without it the fixed global URL stays.
func TestDynamicsResourceURL(t *testing.T) {
	p, _ := parseOne(t, "dynamics365", nil)
	if ep := resolve(t, "dynamics365", p); !contains(ep.Scopes, "https://admin.services.crm.dynamics.com/user_impersonation") {
		t.Fatalf("default scopes %v", ep.Scopes)
	}
	p, problems := parseOne(t, "dynamics365", map[string]any{"RESOURCE_URL": "https://contoso.crm4.dynamics.com/", "TENANT_ID": "contoso.com"})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	ep := resolve(t, "dynamics365", p)
	if !contains(ep.Scopes, "https://contoso.crm4.dynamics.com/user_impersonation") || contains(ep.Scopes, "https://admin.services.crm.dynamics.com/user_impersonation") || !contains(ep.Scopes, "offline_access") {
		t.Fatalf("scopes %v", ep.Scopes)
	}
	if !strings.Contains(ep.AuthURL, "/contoso.com/") {
		t.Fatalf("auth URL %s", ep.AuthURL)
	}
	// The catalog's default scopes are not changed by one provider's resolution.
	if c := provider.DefaultCatalog()["dynamics365"]; !contains(c.Scopes, "https://admin.services.crm.dynamics.com/user_impersonation") {
		t.Fatalf("catalog scopes changed: %v", c.Scopes)
	}
	for _, bad := range []string{"http://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com/api", "https://contoso.crm.dynamics.com?x=1", "contoso.crm.dynamics.com"} {
		if _, problems := parseOne(t, "dynamics365", map[string]any{"RESOURCE_URL": bad}); len(problems) != 1 || problems[0].Key != "RESOURCE_URL" {
			t.Errorf("RESOURCE_URL %s: %v", bad, problems)
		}
	}
}

// TestSalesforceLoginURL: LOGIN_URL moves the Salesforce endpoints to a sandbox or My Domain host.
func TestSalesforceLoginURL(t *testing.T) {
	for _, typ := range []string{"salesforce", "servicemax"} {
		p, _ := parseOne(t, typ, nil)
		if ep := resolve(t, typ, p); ep.AuthURL != "https://login.salesforce.com/services/oauth2/authorize" || ep.TokenURL != "https://login.salesforce.com/services/oauth2/token" || ep.RevokeURL != "https://login.salesforce.com/services/oauth2/revoke" {
			t.Fatalf("%s default endpoints %+v", typ, ep)
		}
		p, problems := parseOne(t, typ, map[string]any{"LOGIN_URL": "https://acme--uat.sandbox.my.salesforce.com/"})
		if len(problems) > 0 {
			t.Fatal(problems)
		}
		ep := resolve(t, typ, p)
		if ep.AuthURL != "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/authorize" || ep.TokenURL != "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/token" ||
			ep.RefreshURL != ep.TokenURL || ep.RevokeURL != "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/revoke" {
			t.Fatalf("%s LOGIN_URL endpoints %+v", typ, ep)
		}
		for _, bad := range []string{"http://test.salesforce.com", "https://test.salesforce.com/services", "https://user@test.salesforce.com", "https://test.salesforce.com#x", "ftp://test.salesforce.com"} {
			if _, problems := parseOne(t, typ, map[string]any{"LOGIN_URL": bad}); len(problems) != 1 || problems[0].Key != "LOGIN_URL" {
				t.Errorf("%s LOGIN_URL %s: %v", typ, bad, problems)
			}
		}
	}
	// Plain http only for loopback (development).
	if _, problems := parseOne(t, "salesforce", map[string]any{"LOGIN_URL": "http://127.0.0.1:8443"}); len(problems) > 0 {
		t.Errorf("loopback LOGIN_URL: %v", problems)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// FuzzMicrosoftAndSalesforceSettings fuzzes TENANT_ID, LOGIN_URL and RESOURCE_URL. Oracle: an accepted
// value resolves to endpoints on the expected host — login.microsoftonline.com with the tenant as exactly
// one path segment, the LOGIN_URL's own host over https (or http to loopback) with the Salesforce paths —
// and a Dynamics scope that is the RESOURCE_URL's origin plus /user_impersonation; a refused value is
// reported under its own key. Run: go test ./services/provider -run '^$' -fuzz FuzzMicrosoftAndSalesforce
func FuzzMicrosoftAndSalesforceSettings(f *testing.F) {
	f.Add("72f988bf-86f1-41af-91ab-2d7cd011db47", "https://test.salesforce.com", "https://contoso.crm.dynamics.com")
	f.Add("contoso.onmicrosoft.com", "https://acme.my.salesforce.com/", "https://x.crm4.dynamics.com/")
	f.Add("organizations", "http://localhost:1", "http://[::1]:8080")
	f.Add("a/b", "https://h/p?q", "https://h#f")
	f.Add("%2e%2e", "https://a@b", "javascript:alert(1)")
	f.Fuzz(func(t *testing.T, tenant, login, resource string) {
		p, problems := parseOne(t, "dynamics365", map[string]any{"TENANT_ID": tenant, "RESOURCE_URL": resource})
		if len(problems) > 0 {
			for _, pr := range problems {
				if pr.Key != "TENANT_ID" && pr.Key != "RESOURCE_URL" {
					t.Fatalf("problem under another key: %v", pr)
				}
			}
		} else if len(p.Provider.Settings.Placeholders) == 0 {
			ep := resolve(t, "dynamics365", p)
			u, err := url.Parse(ep.AuthURL)
			if err != nil || u.Scheme != "https" || u.Host != "login.microsoftonline.com" || u.RawQuery != "" {
				t.Fatalf("TENANT_ID %q gave auth URL %s", tenant, ep.AuthURL)
			}
			segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
			if len(segs) != 4 || segs[0] != url.PathEscape(tenant) || segs[1] != "oauth2" {
				t.Fatalf("TENANT_ID %q is not one path segment of %s", tenant, ep.AuthURL)
			}
			r, _ := url.Parse(resource)
			want := r.Scheme + "://" + r.Host + "/user_impersonation"
			if !contains(ep.Scopes, want) || (r.Scheme != "https" && r.Hostname() != "localhost" && !strings.HasPrefix(r.Hostname(), "127.") && r.Hostname() != "::1") {
				t.Fatalf("RESOURCE_URL %q gave scopes %v", resource, ep.Scopes)
			}
		}
		p, problems = parseOne(t, "salesforce", map[string]any{"LOGIN_URL": login})
		if len(problems) > 0 {
			if len(problems) != 1 || problems[0].Key != "LOGIN_URL" {
				t.Fatalf("LOGIN_URL %q: %v", login, problems)
			}
			return
		}
		if len(p.Provider.Settings.Placeholders) > 0 {
			return
		}
		ep := resolve(t, "salesforce", p)
		l, _ := url.Parse(login)
		for _, e := range []string{ep.AuthURL, ep.TokenURL, ep.RevokeURL} {
			u, err := url.Parse(e)
			if err != nil || u.Host != l.Host || u.Scheme != l.Scheme || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !strings.HasPrefix(u.Path, "/services/oauth2/") {
				t.Fatalf("LOGIN_URL %q gave endpoint %s", login, e)
			}
		}
	})
}
