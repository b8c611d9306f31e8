package provider

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// ClientAuth is how the client authenticates at a token endpoint (RFC 6749 §2.3.1).
type ClientAuth string

const (
	// AuthPost sends client_id and client_secret in the form body.
	AuthPost ClientAuth = "client_secret_post"
	// AuthBasic sends them with HTTP Basic (the method every server must support).
	AuthBasic ClientAuth = "client_secret_basic"
)

// Entry is the built-in knowledge about one connector type: which keys its configuration has, its
// endpoints and default scopes, and its quirks. Endpoints may contain "{base_url}" (PingFederate) or
// "{subdomain}" (Zendesk); "configured" types (odata, soap, swagger) take them from AUTH_URL and TOKEN_URL.
type Entry struct {
	Type string
	// OAuthVersion is "2.0", or "1.0a" (trello, RFC 5849: AuthURL is the resource owner authorization
	// endpoint §2.2, TokenURL the token request endpoint §2.3, RequestTokenURL the temporary credential
	// request endpoint §2.1; signatures are HMAC-SHA1).
	OAuthVersion string
	// Required and Optional are the configuration keys; the first required key is the client identifier,
	// and SecretKey the secret.
	Required  []string
	Optional  []string
	SecretKey string
	// AuthURL, TokenURL, RevokeURL are the endpoints (RFC 6749 §3.1, §3.2, RFC 7009 §2); empty RevokeURL:
	// the provider has no revocation endpoint.
	AuthURL   string
	TokenURL  string
	RevokeURL string
	// RequestTokenURL is the OAuth 1.0a temporary credential request endpoint (RFC 5849 §2.1); empty for
	// OAuth 2.0.
	RequestTokenURL string
	// Scopes are requested by default, joined with ScopeSeparator (" " per RFC 6749 §3.3; Slack uses ",").
	Scopes         []string
	ScopeSeparator string
	// AuthParams are added to the authorization request (Google: access_type=offline, prompt=consent).
	AuthParams map[string]string
	// PKCE: send an S256 code challenge (RFC 7636 §4.2).
	PKCE bool
	// ClientAuth at the token endpoint.
	ClientAuth ClientAuth
	// Configured: endpoints come from AUTH_URL/TOKEN_URL (odata, soap, swagger).
	Configured bool
	// PingFederate: endpoints are /as/authorization.oauth2 and /as/token.oauth2 under base_url.
	PingFederate bool
	// NeedsSubdomain: the connector must name a subdomain (Zendesk).
	NeedsSubdomain bool
	// NeedsResourceURL: the connector must give a resource URL unless the provider has RESOURCE_URL.
	NeedsResourceURL bool
	// InstanceURL: keep instance_url of the token response (Salesforce, ServiceMax).
	InstanceURL bool
	// Microsoft: the endpoints contain "{tenant}", the Microsoft identity platform tenant: the provider's
	// TENANT_ID, else "common" (which single-tenant applications cannot use, AADSTS50194).
	Microsoft bool
	// ResourceScope: the provider's RESOURCE_URL, when given, replaces DefaultResource as the prefix of the
	// "/user_impersonation" scope (Dynamics 365: the organization's URL).
	ResourceScope   bool
	DefaultResource string
	// LoginURL: the endpoints contain "{login_url}", the provider's LOGIN_URL (a sandbox or My Domain
	// login host), else DefaultLoginURL (Salesforce, ServiceMax).
	LoginURL        bool
	DefaultLoginURL string
	// SlackOK: the token endpoint answers 200 with "ok": false on errors (Slack).
	SlackOK bool
}

// Catalog maps connector types to their entries. DefaultCatalog is the built-in one; tests may point entries
// at fakes.
type Catalog map[string]Entry

const (
	keyClientID       = "CLIENT_ID"
	keyClientSecret   = "CLIENT_SECRET"
	keyConsumerKey    = "CONSUMER_KEY"
	keyConsumerSecret = "CONSUMER_SECRET"
	keyBaseURL        = "base_url"
	keyPFAdapter      = "PF_IDP_ADAPTER_ID"
	keyResourceURL    = "RESOURCE_URL"
	keyAuthURL        = "AUTH_URL"
	keyTokenURL       = "TOKEN_URL"
	keyRefreshURL     = "REFRESH_URL"
	keyValidateURL    = "VALIDATE_URL"
	keyValidateHdrs   = "oauth2_validate_headers"
	keyParamsScope    = "oauth2_params_scope"
	keyTenantID       = "TENANT_ID"
	keyLoginURL       = "LOGIN_URL"
)

// ConnectorTypes are the 26 connector types of ThingWorx Flow (docs/reference/providers.md#connector-types), in its order.
var ConnectorTypes = []string{"azure", "bitly", "box", "dropbox", "dynamics365", "excel", "github",
	"google_gmail", "google_drive", "google_form", "google_sheet", "google_task", "google_translator",
	"integrity", "odata", "microsoft_365", "onedrive", "salesforce", "servicemax", "slack", "soap", "swagger",
	"trello", "windchill", "youtube", "zendesk"}

// DefaultCatalog returns a fresh copy of the built-in catalog: one entry per ConnectorTypes element.
func DefaultCatalog() Catalog {
	std := func(t string) Entry {
		return Entry{Type: t, OAuthVersion: "2.0", Required: []string{keyClientID, keyClientSecret},
			SecretKey: keyClientSecret, ScopeSeparator: " ", ClientAuth: AuthPost}
	}
	// Microsoft identity platform v2 endpoints. The tenant is the provider's TENANT_ID (a directory GUID,
	// a verified domain, "organizations" or "consumers"), else "common": work, school and personal
	// accounts, which only multi-tenant applications may use.
	microsoft := func(t string, scopes ...string) Entry {
		e := std(t)
		e.Optional = []string{keyTenantID}
		e.AuthURL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
		e.TokenURL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
		e.Scopes = append([]string{"offline_access"}, scopes...)
		e.PKCE = true
		e.Microsoft = true
		return e
	}
	google := func(t string, scopes ...string) Entry {
		e := std(t)
		e.AuthURL = "https://accounts.google.com/o/oauth2/v2/auth"
		e.TokenURL = "https://oauth2.googleapis.com/token"
		e.RevokeURL = "https://oauth2.googleapis.com/revoke"
		e.Scopes = append([]string{"openid", "email"}, scopes...)
		// Without access_type=offline Google issues no refresh token; without prompt=consent it issues one
		// only on the first authorization of the user.
		e.AuthParams = map[string]string{"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}
		e.PKCE = true
		return e
	}
	// Salesforce endpoints live under the login host: login.salesforce.com, or the provider's LOGIN_URL
	// (test.salesforce.com for sandboxes, https://<domain>.my.salesforce.com for My Domain).
	salesforce := func(t string) Entry {
		e := std(t)
		e.Optional = []string{keyLoginURL}
		e.LoginURL, e.DefaultLoginURL = true, "https://login.salesforce.com"
		e.AuthURL = "{login_url}/services/oauth2/authorize"
		e.TokenURL = "{login_url}/services/oauth2/token"
		e.RevokeURL = "{login_url}/services/oauth2/revoke"
		e.Scopes = []string{"api", "refresh_token"}
		e.PKCE = true
		e.InstanceURL = true
		return e
	}
	pingFederate := func(t string) Entry {
		e := std(t)
		e.Required = append(e.Required, keyBaseURL)
		e.Optional = []string{keyPFAdapter, keyResourceURL}
		e.AuthURL = "{base_url}/as/authorization.oauth2"
		e.TokenURL = "{base_url}/as/token.oauth2"
		e.PKCE = true
		e.PingFederate = true
		e.ClientAuth = AuthBasic
		return e
	}
	configured := func(t string) Entry {
		e := std(t)
		e.Required = append(e.Required, keyAuthURL, keyTokenURL)
		e.Optional = []string{keyRefreshURL, keyValidateURL, keyValidateHdrs, keyParamsScope}
		e.Configured = true
		e.PKCE = true
		e.ClientAuth = AuthBasic
		return e
	}
	c := Catalog{}
	add := func(e Entry) { c[e.Type] = e }

	add(microsoft("azure", "https://management.azure.com/user_impersonation"))
	e := std("bitly")
	e.AuthURL, e.TokenURL = "https://bitly.com/oauth/authorize", "https://api-ssl.bitly.com/oauth/access_token"
	add(e)
	e = std("box")
	e.AuthURL, e.TokenURL, e.RevokeURL = "https://account.box.com/api/oauth2/authorize", "https://api.box.com/oauth2/token", "https://api.box.com/oauth2/revoke"
	add(e)
	e = std("dropbox")
	e.AuthURL, e.TokenURL = "https://www.dropbox.com/oauth2/authorize", "https://api.dropboxapi.com/oauth2/token"
	e.AuthParams = map[string]string{"token_access_type": "offline"}
	e.PKCE = true
	add(e)
	// Dynamics 365: the scope is the organization's URL (RESOURCE_URL) + "/user_impersonation".
	e = microsoft("dynamics365")
	e.Optional = []string{keyTenantID, keyResourceURL}
	e.ResourceScope, e.DefaultResource = true, "https://admin.services.crm.dynamics.com"
	e.Scopes = append(e.Scopes, e.DefaultResource+"/user_impersonation")
	add(e)
	add(microsoft("excel", "Files.ReadWrite.All", "User.Read"))
	e = std("github")
	e.AuthURL, e.TokenURL = "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token"
	e.Scopes = []string{"repo", "read:user"}
	e.PKCE = true
	add(e)
	add(google("google_gmail", "https://mail.google.com/"))
	add(google("google_drive", "https://www.googleapis.com/auth/drive"))
	add(google("google_form", "https://www.googleapis.com/auth/forms.body", "https://www.googleapis.com/auth/drive"))
	add(google("google_sheet", "https://www.googleapis.com/auth/spreadsheets"))
	add(google("google_task", "https://www.googleapis.com/auth/tasks"))
	add(google("google_translator", "https://www.googleapis.com/auth/cloud-translation"))
	add(pingFederate("integrity"))
	add(configured("odata"))
	add(microsoft("microsoft_365", "User.Read", "Mail.ReadWrite", "Calendars.ReadWrite"))
	add(microsoft("onedrive", "Files.ReadWrite.All", "User.Read"))
	add(salesforce("salesforce"))
	add(salesforce("servicemax"))
	e = std("slack")
	e.AuthURL, e.TokenURL, e.RevokeURL = "https://slack.com/oauth/v2/authorize", "https://slack.com/api/oauth.v2.access", ""
	e.Scopes = []string{"channels:read", "chat:write", "users:read"}
	e.ScopeSeparator = ","
	e.SlackOK = true
	add(e)
	add(configured("soap"))
	add(configured("swagger"))
	// Trello speaks OAuth 1.0a. Its authorization endpoint also takes name (shown to the user), scope
	// (comma-separated) and expiration ("never": the token lives until the user revokes it).
	add(Entry{Type: "trello", OAuthVersion: "1.0a", Required: []string{keyConsumerKey, keyConsumerSecret},
		SecretKey: keyConsumerSecret, RequestTokenURL: "https://trello.com/1/OAuthGetRequestToken",
		AuthURL: "https://trello.com/1/OAuthAuthorizeToken", TokenURL: "https://trello.com/1/OAuthGetAccessToken",
		Scopes: []string{"read", "write"}, ScopeSeparator: ",",
		AuthParams: map[string]string{"name": "authsuite", "expiration": "never"}})
	e = pingFederate("windchill")
	e.NeedsResourceURL = true
	add(e)
	add(google("youtube", "https://www.googleapis.com/auth/youtube"))
	e = std("zendesk")
	e.AuthURL, e.TokenURL = "https://{subdomain}.zendesk.com/oauth/authorizations/new", "https://{subdomain}.zendesk.com/oauth/tokens"
	e.Scopes = []string{"read", "write"}
	e.NeedsSubdomain = true
	add(e)
	return c
}

// Types returns the catalog's connector types, sorted.
func (c Catalog) Types() []string {
	ts := make([]string, 0, len(c))
	for t := range c {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Endpoints are a provider's resolved URLs and parameters for one connector.
type Endpoints struct {
	// RequestTokenURL: OAuth 1.0a only (RFC 5849 §2.1).
	RequestTokenURL string
	AuthURL         string
	TokenURL        string
	RefreshURL      string
	ValidateURL     string
	RevokeURL       string
	Scopes          []string
	AuthParams      url.Values
}

// Resolve computes the endpoints of provider p (of entry e) for connector c: PingFederate URLs under
// base_url (a base_url already ending in "/as", as ThingWorx Flow's documentation shows it, is not doubled), the Zendesk
// subdomain, configured URLs and scopes for odata/soap/swagger, the three OAuth 1.0a endpoints (RFC 5849 §2)
// for trello. It fails with a reason safe to show when the type does not support connectors or a needed
// value is missing.
func (e Entry) Resolve(p Provider, c Connector) (Endpoints, error) {
	if e.OAuthVersion != "2.0" && e.OAuthVersion != "1.0a" {
		return Endpoints{}, fmt.Errorf("connector type %s uses OAuth %s, which connectors do not support; its configuration is stored for reference only", e.Type, e.OAuthVersion)
	}
	if len(p.Settings.Placeholders) > 0 {
		return Endpoints{}, fmt.Errorf("provider %s still holds template placeholders in %s; load real values first", p.ProviderKey, strings.Join(p.Settings.Placeholders, ", "))
	}
	ep := Endpoints{AuthURL: e.AuthURL, TokenURL: e.TokenURL, RevokeURL: e.RevokeURL, Scopes: e.Scopes, AuthParams: url.Values{}}
	if e.Microsoft {
		tenant := p.Settings.TenantID
		if tenant == "" {
			tenant = "common"
		}
		ep.AuthURL = strings.ReplaceAll(ep.AuthURL, "{tenant}", url.PathEscape(tenant))
		ep.TokenURL = strings.ReplaceAll(ep.TokenURL, "{tenant}", url.PathEscape(tenant))
	}
	if e.ResourceScope && p.Settings.ResourceURL != "" {
		ep.Scopes = slices.Clone(ep.Scopes)
		custom := strings.TrimRight(p.Settings.ResourceURL, "/") + "/user_impersonation"
		for i, sc := range ep.Scopes {
			if sc == e.DefaultResource+"/user_impersonation" {
				ep.Scopes[i] = custom
			}
		}
	}
	if e.LoginURL {
		login := strings.TrimRight(p.Settings.LoginURL, "/")
		if login == "" {
			login = e.DefaultLoginURL
		}
		ep.AuthURL = strings.ReplaceAll(ep.AuthURL, "{login_url}", login)
		ep.TokenURL = strings.ReplaceAll(ep.TokenURL, "{login_url}", login)
		ep.RevokeURL = strings.ReplaceAll(ep.RevokeURL, "{login_url}", login)
	}
	for k, v := range e.AuthParams {
		ep.AuthParams.Set(k, v)
	}
	if e.OAuthVersion == "1.0a" {
		// No refresh (RFC 5849 token credentials do not expire by protocol) and no revocation endpoint.
		ep.RequestTokenURL, ep.RefreshURL, ep.RevokeURL = e.RequestTokenURL, "", ""
		return ep, nil
	}
	switch {
	case e.Configured:
		ep.AuthURL, ep.TokenURL = p.Settings.AuthURL, p.Settings.TokenURL
		ep.RefreshURL, ep.ValidateURL = p.Settings.RefreshURL, p.Settings.ValidateURL
		ep.Scopes = nil
		for _, s := range p.Settings.Scopes {
			ep.Scopes = append(ep.Scopes, s.Scope)
		}
	case e.PingFederate:
		base := strings.TrimRight(p.Settings.BaseURL, "/")
		base = strings.TrimSuffix(base, "/as")
		ep.AuthURL = strings.ReplaceAll(ep.AuthURL, "{base_url}", base)
		ep.TokenURL = strings.ReplaceAll(ep.TokenURL, "{base_url}", base)
		if p.Settings.PFIdPAdapterID != "" {
			ep.AuthParams.Set("pfidpadapterid", p.Settings.PFIdPAdapterID)
		}
		if e.NeedsResourceURL && p.Settings.ResourceURL == "" && c.ResourceURL == "" {
			return Endpoints{}, fmt.Errorf("provider %s has no RESOURCE_URL, so the connector must give resourceUrl", p.ProviderKey)
		}
	case e.NeedsSubdomain:
		if c.Subdomain == "" {
			return Endpoints{}, fmt.Errorf("connector type %s needs a subdomain", e.Type)
		}
		ep.AuthURL = strings.ReplaceAll(ep.AuthURL, "{subdomain}", c.Subdomain)
		ep.TokenURL = strings.ReplaceAll(ep.TokenURL, "{subdomain}", c.Subdomain)
	}
	if ep.RefreshURL == "" {
		ep.RefreshURL = ep.TokenURL
	}
	return ep, nil
}
