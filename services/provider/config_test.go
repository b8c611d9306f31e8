package provider_test

import (
	"os"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/provider"
)

func TestParseSeedLoadsAsWritten(t *testing.T) {
	data, err := os.ReadFile("testdata/seed_all.json")
	if err != nil {
		t.Fatal(err)
	}
	parsed, problems := provider.ParseJSON(provider.DefaultCatalog(), data)
	if len(problems) > 0 {
		t.Fatalf("seed file rejected: %v", problems)
	}
	types := map[string]bool{}
	for _, p := range parsed {
		types[p.Provider.Type] = true
		if p.Secret == "" {
			t.Errorf("%s: no secret parsed", p.Provider.ProviderKey)
		}
		if _, ok := p.Provider.Settings.Raw["CLIENT_SECRET"]; ok {
			t.Errorf("%s: secret kept in settings", p.Provider.ProviderKey)
		}
	}
	for _, typ := range provider.ConnectorTypes {
		if !types[typ] {
			t.Errorf("connector type %s missing from the parsed seed", typ)
		}
	}
	if len(provider.ConnectorTypes) != 26 || len(types) != 26 {
		t.Fatalf("want 26 connector types, got %d parsed", len(types))
	}
	for _, p := range parsed {
		if p.Provider.Type == "odata" {
			s := p.Provider.Settings
			if len(s.ValidateHeaders) != 2 || s.ValidateHeaders[0].Name != "Authorization" || s.ValidateHeaders[0].Value != "Bearer {access_token}" {
				t.Errorf("odata headers = %+v", s.ValidateHeaders)
			}
			if len(s.Scopes) != 1 || s.Scopes[0] != (provider.ScopeOption{Label: "READ", Scope: "READ_PRIVILEGES"}) {
				t.Errorf("odata scopes = %+v", s.Scopes)
			}
		}
		if p.Provider.Type == "trello" && (p.Provider.Settings.ClientID != "<client id here>" || p.Secret != "<client secret here>") {
			t.Errorf("trello = %+v", p)
		}
	}
}

func TestParseSeedMultipleProviders(t *testing.T) {
	data, _ := os.ReadFile("testdata/seed_gmail_multi.json")
	parsed, problems := provider.ParseJSON(provider.DefaultCatalog(), data)
	if len(problems) > 0 || len(parsed) != 2 || parsed[0].Provider.Name != "Gmail-1" || parsed[1].Provider.Name != "Gmail-2" {
		t.Fatalf("parsed %+v, problems %v", parsed, problems)
	}
}

// The seed's removal example is a fragment without a comma between its keys: it is not JSON, and the answer
// says so instead of guessing.
func TestParseSeedRemovalFragmentRejected(t *testing.T) {
	data, _ := os.ReadFile("testdata/seed_removal_fragment.txt")
	_, problems := provider.ParseJSON(provider.DefaultCatalog(), data)
	if len(problems) != 1 || !strings.Contains(problems[0].String(), "not valid JSON") {
		t.Fatalf("problems = %v", problems)
	}
}

func TestParseBadFiles(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []string // every problem, in order
	}{
		{"unknown type", `{"gmail": {"G": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}`, []string{"gmail: is not a known connector type"}},
		{"missing secret", `{"google_gmail": {"Gmail-1": {"CLIENT_ID": "a"}}}`, []string{"google_gmail/Gmail-1: CLIENT_SECRET is required"}},
		{"missing id", `{"google_gmail": {"Gmail-1": {"CLIENT_SECRET": "a"}}}`, []string{"google_gmail/Gmail-1: CLIENT_ID is required"}},
		{"trello keys", `{"trello": {"T": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}`, []string{"trello/T: CLIENT_ID is not a setting", "trello/T: CLIENT_SECRET is not a setting", "trello/T: CONSUMER_KEY is required", "trello/T: CONSUMER_SECRET is required"}},
		{"unknown key", `{"slack": {"S": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "SCOPES": "x"}}}`, []string{"slack/S: SCOPES is not a setting"}},
		{"base_url required", `{"windchill": {"W": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}`, []string{"windchill/W: base_url is required"}},
		{"relative base_url", `{"integrity": {"I": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "base_url": "pf.example.com/as"}}}`, []string{"integrity/I: base_url must be an absolute http or https URL"}},
		{"both base urls", `{"integrity": {"I": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "base_url": "https://a", "BASE_URL": "https://b"}}}`, []string{"integrity/I: base_url is given twice"}},
		{"odata urls", `{"odata": {"O": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "AUTH_URL": "ftp://x/a", "TOKEN_URL": "https://x/t#f"}}}`, []string{"odata/O: AUTH_URL must be an absolute http", "odata/O: TOKEN_URL must not contain a fragment"}},
		{"odata missing", `{"odata": {"O": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}`, []string{"odata/O: AUTH_URL is required", "odata/O: TOKEN_URL is required"}},
		{"number id", `{"box": {"B": {"CLIENT_ID": 12, "CLIENT_SECRET": "b"}}}`, []string{"box/B: CLIENT_ID must be a string, not a number"}},
		{"empty secret", `{"box": {"B": {"CLIENT_ID": "a", "CLIENT_SECRET": "  "}}}`, []string{"box/B: CLIENT_SECRET must not be empty"}},
		{"headers not array", `{"soap": {"S": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "AUTH_URL": "https://x/a", "TOKEN_URL": "https://x/t", "oauth2_validate_headers": "Authorization: x"}}}`, []string{"soap/S: oauth2_validate_headers must be an array"}},
		{"header not object", `{"soap": {"S": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "AUTH_URL": "https://x/a", "TOKEN_URL": "https://x/t", "oauth2_validate_headers": ["Authorization"]}}}`, []string{"soap/S: oauth2_validate_headers [0] must be a JSON object"}},
		{"bad scope", `{"swagger": {"S": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "AUTH_URL": "https://x/a", "TOKEN_URL": "https://x/t", "oauth2_params_scope": ["{\"R\":\"a b\"}"]}}}`, []string{"swagger/S: oauth2_params_scope [0]: \"a b\" is not a valid scope"}},
		{"provider not object", `{"github": {"G": "x"}}`, []string{"github/G: must be an object of settings, not a string"}},
		{"type not object", `{"github": []}`, []string{"github: must be an object of providers"}},
		{"top not object", `[1]`, []string{"must be an object"}},
		{"empty", `{}`, []string{"names no provider"}},
		{"empty name", `{"github": {"": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}`, []string{"github: provider name must not be empty"}},
		{"several entries", `{"github": {"A": {"CLIENT_ID": "a"}, "B": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}, "C": {}}, "nope": {}}`,
			[]string{"github/A: CLIENT_SECRET is required", "github/C: CLIENT_ID is required", "github/C: CLIENT_SECRET is required", "nope: is not a known"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := provider.ParseJSON(provider.DefaultCatalog(), []byte(tc.json))
			if len(problems) != len(tc.want) {
				t.Fatalf("problems = %v, want %d: %v", problems, len(tc.want), tc.want)
			}
			for i, p := range problems {
				if !strings.Contains(p.String(), tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p.String(), tc.want[i])
				}
			}
		})
	}
}

func TestPlaceholdersLoadButAreNotConnectable(t *testing.T) {
	parsed, problems := provider.ParseJSON(provider.DefaultCatalog(), []byte(`{"integrity": {"integrity": {"CLIENT_SECRET": "<client secret here>", "CLIENT_ID": "<client id here>", "base_url": "<base url here>"}}}`))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	p := parsed[0].Provider
	if strings.Join(p.Settings.Placeholders, ",") != "CLIENT_ID,CLIENT_SECRET,base_url" {
		t.Fatalf("placeholders = %v", p.Settings.Placeholders)
	}
	if _, err := provider.DefaultCatalog()["integrity"].Resolve(p, provider.Connector{}); err == nil || !strings.Contains(err.Error(), "placeholders") {
		t.Fatalf("Resolve = %v", err)
	}
}

func TestResolvePingFederateAndQuirks(t *testing.T) {
	c := provider.DefaultCatalog()
	for _, base := range []string{"https://pf.example.com:9031/as", "https://pf.example.com:9031", "https://pf.example.com:9031/as/"} {
		p := provider.Provider{ProviderKey: provider.ProviderKey{Type: "windchill", Name: "W"},
			Settings: provider.Settings{ClientID: "a", BaseURL: base, PFIdPAdapterID: "Adapter1", ResourceURL: "https://wc.example.com/Windchill"}}
		ep, err := c["windchill"].Resolve(p, provider.Connector{})
		if err != nil {
			t.Fatal(err)
		}
		if ep.AuthURL != "https://pf.example.com:9031/as/authorization.oauth2" || ep.TokenURL != "https://pf.example.com:9031/as/token.oauth2" || ep.AuthParams.Get("pfidpadapterid") != "Adapter1" {
			t.Errorf("base %s: %+v", base, ep)
		}
	}
	g, _ := c["google_gmail"].Resolve(provider.Provider{}, provider.Connector{})
	if g.AuthParams.Get("access_type") != "offline" || g.AuthParams.Get("prompt") != "consent" || !c["google_gmail"].PKCE {
		t.Errorf("google = %+v", g)
	}
	if c["slack"].ScopeSeparator != "," {
		t.Error("slack scopes must be comma-separated")
	}
	if _, err := c["zendesk"].Resolve(provider.Provider{}, provider.Connector{}); err == nil {
		t.Error("zendesk without subdomain resolved")
	}
	z, _ := c["zendesk"].Resolve(provider.Provider{}, provider.Connector{Subdomain: "acme"})
	if z.AuthURL != "https://acme.zendesk.com/oauth/authorizations/new" {
		t.Errorf("zendesk = %s", z.AuthURL)
	}
	tr, err := c["trello"].Resolve(provider.Provider{}, provider.Connector{})
	if err != nil || tr.RequestTokenURL != "https://trello.com/1/OAuthGetRequestToken" || tr.AuthURL != "https://trello.com/1/OAuthAuthorizeToken" ||
		tr.TokenURL != "https://trello.com/1/OAuthGetAccessToken" || tr.RefreshURL != "" || tr.AuthParams.Get("expiration") != "never" ||
		strings.Join(tr.Scopes, c["trello"].ScopeSeparator) != "read,write" {
		t.Errorf("trello = %+v, %v", tr, err)
	}
	if _, err := (provider.Entry{Type: "x", OAuthVersion: "1.0"}).Resolve(provider.Provider{}, provider.Connector{}); err == nil {
		t.Error("an unsupported OAuth version resolved")
	}
	if !strings.Contains(c["onedrive"].AuthURL, "/oauth2/v2.0/authorize") || !c["salesforce"].InstanceURL {
		t.Error("microsoft v2 / salesforce instance url quirks missing")
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, name := range []string{"testdata/seed_all.json", "testdata/seed_gmail_multi.json", "testdata/seed_removal_fragment.txt"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"odata": {"O": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "AUTH_URL": "https://x/a", "TOKEN_URL": "https://x/t", "oauth2_validate_headers": ["{\"A\":\"b\"}", {"B": 1}], "oauth2_params_scope": [null]}}}`))
	c := provider.DefaultCatalog()
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, problems := provider.ParseJSON(c, data)
		if len(problems) == 0 && len(parsed) == 0 {
			t.Fatal("no entries and no problems")
		}
		for _, p := range problems {
			if p.String() == "" || strings.ContainsAny(p.String(), "\x00\r\n") && !strings.Contains(p.Reason, "JSON") {
				t.Fatalf("bad problem text %q", p.String())
			}
		}
		for _, p := range parsed {
			if p.Secret == "" || p.Provider.Settings.ClientID == "" {
				t.Fatalf("accepted entry without credentials: %+v", p.Provider.ProviderKey)
			}
		}
	})
}
