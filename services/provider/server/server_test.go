package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/services/provider"
)

func mustJSON(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

func TestAdminAuthorization(t *testing.T) {
	e := newEnv(t)
	body := `{"oauthConfigurations": {"github": {"GitHub": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}}`
	for _, tc := range []struct {
		tok  string
		want int
	}{{"", 401}, {"forged", 401}, {"alice", 403}, {"tenant-admin", 403}, {"sys-admin", 200}} {
		if code, b := e.rest(t, "POST", loadPath, tc.tok, body); code != tc.want {
			t.Errorf("load as %q = %d %s, want %d", tc.tok, code, b, tc.want)
		}
	}
	// Listing shows no secret, so any adminapi caller may read it; users may not.
	if code, _ := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/GetOAuthConfiguration", "tenant-admin", `{}`); code != 200 {
		t.Errorf("get as tenant admin = %d", code)
	}
	if code, _ := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/GetOAuthConfiguration", "alice", `{}`); code != 403 {
		t.Errorf("get as user = %d", code)
	}
}

func TestLoadGetDeleteSeedExamples(t *testing.T) {
	e := newEnv(t)
	seed, err := os.ReadFile("../testdata/seed_all.json")
	if err != nil {
		t.Fatal(err)
	}
	code, b := e.rest(t, "POST", loadPath, "sys-admin", string(seed))
	if code != 200 {
		t.Fatalf("load seed = %d %s", code, b)
	}
	var loaded struct {
		Items []struct{ ConnectorType, OauthProvider, Action string }
	}
	mustJSON(t, b, &loaded)
	if len(loaded.Items) != 27 || loaded.Items[0].Action != "created" {
		t.Fatalf("loaded %d items: %s", len(loaded.Items), b)
	}
	multi, _ := os.ReadFile("../testdata/seed_gmail_multi.json")
	e.mustLoad(t, `{"oauthConfigurations": `+string(multi)+`}`)
	// Loading the same file again changes nothing.
	code, b = e.rest(t, "POST", loadPath, "sys-admin", string(seed))
	if code != 200 || strings.Contains(b, `"created"`) || strings.Contains(b, `"updated"`) {
		t.Fatalf("reload = %d %s", code, b)
	}

	code, b = e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/GetOAuthConfiguration", "sys-admin", `{}`)
	if code != 200 {
		t.Fatalf("get = %d %s", code, b)
	}
	if strings.Contains(b, "secret") || strings.Contains(b, "Bearer {access_token}") {
		t.Fatalf("GetOAuthConfiguration shows secrets: %s", b)
	}
	var got struct {
		Items []struct {
			ConnectorType, OauthProvider string
			Settings                     map[string]any
			PlaceholderKeys              []string
			ValidateHeaderNames          []string
			Connectable                  bool
		}
	}
	mustJSON(t, b, &got)
	if len(got.Items) != 27 {
		t.Fatalf("got %d providers, want 27", len(got.Items))
	}
	seen := map[string]bool{}
	for _, it := range got.Items {
		seen[it.ConnectorType+"/"+it.OauthProvider] = true
		if it.ConnectorType == "odata" && (strings.Join(it.ValidateHeaderNames, ",") != "Authorization,Content-Type" || it.Settings["oauth2_params_scope"] == nil) {
			t.Errorf("odata = %+v", it)
		}
		if it.ConnectorType == "windchill" && (it.Connectable || it.Settings["base_url"] != "<base url here>") {
			t.Errorf("windchill template = %+v", it)
		}
	}
	for _, k := range []string{"google_gmail/Gmail-1", "google_gmail/Gmail-2", "excel/Excel Online", "trello/Trello", "zendesk/Zendesk"} {
		if !seen[k] {
			t.Errorf("%s not listed", k)
		}
	}

	del := `{"connectorName": "google_gmail", "oauthProvider": "Gmail-2"}`
	if code, b := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", "sys-admin", del); code != 200 {
		t.Fatalf("delete = %d %s", code, b)
	}
	if code, b := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", "sys-admin", del); code != 404 {
		t.Fatalf("second delete = %d %s", code, b)
	}
	if code, b := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", "sys-admin", `{"connectorName": "gmail", "oauthProvider": "x"}`); code != 400 || !strings.Contains(b, `"field":"connectorName"`) {
		t.Fatalf("delete of unknown type = %d %s", code, b)
	}
}

func TestBadFileStoresNothingAndListsEveryEntry(t *testing.T) {
	e := newEnv(t)
	bad := `{"oauthConfigurations": {
"google_gmail": {"Gmail-1": {"CLIENT_ID": "a"}, "Gmail-2": {"CLIENT_ID": "b", "CLIENT_SECRET": "c"}},
"windchill": {"Windchill": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "base_url": "not a url"}},
"teams": {"Teams": {}}}}`
	code, b := e.rest(t, "POST", loadPath, "sys-admin", bad)
	if code != 400 {
		t.Fatalf("bad load = %d %s", code, b)
	}
	for _, want := range []string{"google_gmail/Gmail-1: CLIENT_SECRET is required", "windchill/Windchill: base_url must be an absolute", "teams: is not a known connector type", `"error":"invalid_request"`} {
		if !strings.Contains(b, want) {
			t.Errorf("answer %s lacks %q", b, want)
		}
	}
	// Over gRPC every problem is a field violation.
	doc := map[string]any{}
	json.Unmarshal([]byte(bad), &doc)
	st, _ := structpb.NewStruct(doc["oauthConfigurations"].(map[string]any))
	_, err := e.config.LoadOAuthConfiguration(as("sys-admin"), &providerv1.LoadOAuthConfigurationRequest{OauthConfigurations: st})
	s, _ := status.FromError(err)
	var fields []string
	for _, d := range s.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if s.Code() != codes.InvalidArgument || strings.Join(fields, " ") != "oauthConfigurations.google_gmail.Gmail-1.CLIENT_SECRET oauthConfigurations.teams oauthConfigurations.windchill.Windchill.base_url" {
		t.Fatalf("gRPC = %v, fields %v", err, fields)
	}
	// Gmail-2 was valid but nothing of the file was stored.
	resp, err := e.config.GetOAuthConfiguration(as("sys-admin"), &providerv1.GetOAuthConfigurationRequest{})
	if err != nil || len(resp.GetItems()) != 0 {
		t.Fatalf("after a refused load: %v %v", resp, err)
	}
	// Not JSON at all (a fragment of ThingWorx Flow's removal example).
	frag, _ := os.ReadFile("../testdata/seed_removal_fragment.txt")
	if code, b := e.rest(t, "POST", loadPath, "sys-admin", `{"oauthConfigurations": {`+string(frag)+`}}`); code != 400 {
		t.Fatalf("fragment = %d %s", code, b)
	}
	if code, b := e.rest(t, "POST", loadPath, "sys-admin", `{}`); code != 400 || !strings.Contains(b, "oauthConfigurations") {
		t.Fatalf("empty body = %d %s", code, b)
	}
}

// docs/reference/providers.md#loadoauthconfiguration: a provider a connector uses cannot be replaced; the other valid providers of
// the same file are not stored either; loading it unchanged with a new Gmail-2 works.
func TestTroubleshootingProviderInUse(t *testing.T) {
	e := newEnv(t)
	gmail1 := func(secret string) string {
		return `"Gmail-1": {"CLIENT_ID": "<client id for Gmail - 1 account here>", "CLIENT_SECRET": "` + secret + `"}`
	}
	e.mustLoad(t, `{"oauthConfigurations": {"google_gmail": {`+gmail1("one")+`}}}`)
	// Make Gmail-1 connectable so a connector can use it (placeholders are refused).
	e.mustLoad(t, `{"oauthConfigurations": {"google_gmail": {"Gmail-1": {"CLIENT_ID": "id-1", "CLIENT_SECRET": "one"}}}}`)
	id, _ := e.create(t, "alice", `{"connectorType": "google_gmail", "oauthProvider": "Gmail-1"}`)
	// Only an authorized connector uses its provider (a pending one never blocks): make it active.
	if _, err := e.store.UpdateConnector(context.Background(), id, func(c provider.Connector) (provider.Connector, error) {
		c.Status, c.SealedGrant = provider.StatusActive, []byte("x")
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	conflict := `{"oauthConfigurations": {"google_gmail": {
"Gmail-1": {"CLIENT_ID": "id-1", "CLIENT_SECRET": "changed"},
"Gmail-2": {"CLIENT_ID": "<client id for Gmail - 2 account here>", "CLIENT_SECRET": "<client secret for Gmail - 2 account here>"}}}}`
	code, b := e.rest(t, "POST", loadPath, "sys-admin", conflict)
	if code != 400 || !strings.Contains(b, "google_gmail/Gmail-1: is used by 1 connector(s)") || !strings.Contains(b, `"error":"failed_precondition"`) || strings.Contains(b, "Gmail-2:") {
		t.Fatalf("conflicting load = %d %s", code, b)
	}
	resp, _ := e.config.GetOAuthConfiguration(as("sys-admin"), &providerv1.GetOAuthConfigurationRequest{})
	if len(resp.GetItems()) != 1 {
		t.Fatalf("Gmail-2 stored by a refused load: %v", resp.GetItems())
	}
	// The seed's remedy: Gmail-1 as it is, plus Gmail-2.
	code, b = e.rest(t, "POST", loadPath, "sys-admin", `{"oauthConfigurations": {"google_gmail": {"Gmail-1": {"CLIENT_ID": "id-1", "CLIENT_SECRET": "one"}, "Gmail-2": {"CLIENT_ID": "id-2", "CLIENT_SECRET": "two"}}}}`)
	if b = strings.ReplaceAll(b, " ", ""); code != 200 || !strings.Contains(b, `"oauthProvider":"Gmail-1","action":"unchanged"`) || !strings.Contains(b, `"oauthProvider":"Gmail-2","action":"created"`) {
		t.Fatalf("remedy load = %d %s", code, b)
	}
	if code, b := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", "sys-admin", `{"connectorName": "google_gmail", "oauthProvider": "Gmail-1"}`); code != 400 || !strings.Contains(b, "used by 1 connector") {
		t.Fatalf("delete in use = %d %s", code, b)
	}
}

func TestConnectorRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, back := e.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "session", "returnTo": "/flows/done"}`)
	if back.StatusCode != http.StatusSeeOther || back.Header.Get("Location") != "/flows/done" {
		t.Fatalf("return = %d %s", back.StatusCode, back.Header.Get("Location"))
	}
	code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", "")
	if code != 200 || !strings.Contains(b, `"status":"active"`) || !strings.Contains(b, `"scopes":["READ_PRIVILEGES"]`) || strings.Contains(b, "at-") || strings.Contains(b, "rt-") {
		t.Fatalf("get connector = %d %s", code, b)
	}
	// Other users neither see nor use a session connector; admins see it but get no token.
	if code, _ := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "bob", ""); code != 404 {
		t.Errorf("bob sees alice's connector: %d", code)
	}
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors", "sys-admin", ""); code != 200 || !strings.Contains(b, id) {
		t.Errorf("admin list = %d %s", code, b)
	}
	if code, _ := e.rest(t, "POST", "/api/provider/v1/connectors/"+id+"/token", "sys-admin", ""); code != 403 {
		t.Errorf("admin got alice's token: %d", code)
	}

	code, b = e.rest(t, "POST", "/api/provider/v1/connectors/"+id+"/token", "alice", "")
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int32  `json:"expires_in"`
	}
	mustJSON(t, b, &tok)
	if code != 200 || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token = %d %s", code, b)
	}
	// Expire it: the next call refreshes (once) and persists the rotated refresh token.
	e.clock.Advance(2 * time.Hour)
	resp, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id})
	if err != nil || resp.GetAccessToken() == tok.AccessToken || e.fake.refreshes.Load() != 1 {
		t.Fatalf("after expiry: %v %v, refreshes %d", resp, err, e.fake.refreshes.Load())
	}
	e.clock.Advance(2 * time.Hour)
	resp2, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id})
	if err != nil || resp2.GetAccessToken() == resp.GetAccessToken() || e.fake.refreshes.Load() != 2 {
		t.Fatalf("second refresh (needs the rotated refresh token): %v %v", resp2, err)
	}
	list, err := e.internal.FindConnectors(as(""), &providerv1.FindConnectorsRequest{Owner: "alice"})
	if err != nil || len(list.GetItems()) != 1 {
		t.Fatalf("FindConnectors = %v %v", list, err)
	}
	// Delete revokes at the provider (RFC 7009) and forgets the grant.
	if code, b := e.rest(t, "DELETE", "/api/provider/v1/connectors/"+id, "alice", ""); code != 200 {
		t.Fatalf("delete = %d %s", code, b)
	}
	e.fake.mu.Lock()
	revoked := e.fake.revoked
	e.fake.mu.Unlock()
	if len(revoked) != 1 || !strings.HasPrefix(revoked[0], "rt-") {
		t.Errorf("revoked = %v", revoked)
	}
	if _, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("token after delete = %v", err)
	}
}

func TestStateForgeryReplayAndExpiry(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, to, binding := e.begin(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	back := e.atProvider(t, to)
	if code, b := e.page(t, back, binding); code != 200 {
		t.Fatalf("first return = %d %s", code, b)
	}
	// Replay of the same code and state, even in the same browser.
	if code, b := e.page(t, back, binding); code != 400 || !strings.Contains(b, "unknown, expired or already used") {
		t.Fatalf("replay = %d %s", code, b)
	}
	// Forged state.
	if code, _ := e.page(t, e.gw.URL+server_ReturnPath+"?code=x&state=forged", binding); code != 400 {
		t.Fatalf("forged = %d", code)
	}
	if code, _ := e.page(t, e.gw.URL+server_ReturnPath+"?code=x", binding); code != 400 {
		t.Fatalf("missing state = %d", code)
	}
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", ""); !strings.Contains(b, `"status":"active"`) {
		t.Fatalf("connector = %d %s", code, b)
	}
	// Expired: start, let 11 minutes pass, come back.
	expired, to, binding := e.begin(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	back = e.atProvider(t, to)
	e.clock.Advance(11 * time.Minute)
	if code, _ := e.page(t, back, binding); code != 400 {
		t.Fatalf("expired state = %d", code)
	}
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+expired, "alice", ""); !strings.Contains(b, `"status":"failed"`) {
		t.Fatalf("expired connector = %d %s", code, b)
	}
	// The provider refuses.
	_, to, binding = e.begin(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	u, _ := url.Parse(to)
	state := u.Query().Get("state")
	if code, b := e.page(t, e.gw.URL+server_ReturnPath+"?error=access_denied&state="+state, binding); code != 400 || !strings.Contains(b, "access_denied") {
		t.Fatalf("refusal = %d %s", code, b)
	}
}

const server_ReturnPath = "/Thingworx/Oauths/oauth/return"

func TestConcurrentCallersRefreshOnce(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, _ := e.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "named"}`)
	e.clock.Advance(2 * time.Hour)
	e.fake.mu.Lock()
	e.fake.release = make(chan struct{})
	e.fake.mu.Unlock()
	var wg sync.WaitGroup
	toks := make([]string, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id})
			toks[i], errs[i] = r.GetAccessToken(), err
		}()
	}
	// Let the (single) refresh answer once the provider has received it.
	for e.fake.refreshes.Load() == 0 {
		runtimeGosched()
	}
	close(e.fake.release)
	wg.Wait()
	for i := range 50 {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Fatalf("caller %d: %q %v (first %q)", i, toks[i], errs[i], toks[0])
		}
	}
	if n := e.fake.refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes for 50 concurrent callers, want 1", n)
	}
}

func TestDeleteOAuthTokens(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	a, _ := e.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	b, _ := e.authorize(t, "bob", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	code, body := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens", "sys-admin", `{"oauthProvider": "OData", "userName": "alice.login"}`)
	if code != 200 || !strings.Contains(body, `"deletedCount":1`) {
		t.Fatalf("DeleteOAuthTokens = %d %s", code, body)
	}
	if _, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: a}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("alice's token after drop: %v", err)
	}
	if _, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: b}); err != nil {
		t.Errorf("bob's token after dropping alice's: %v", err)
	}
	if code, _ := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens", "alice", `{"oauthProvider": "OData"}`); code != 403 {
		t.Errorf("user DeleteOAuthTokens = %d", code)
	}
}

func TestCreateConnectorValidation(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	e.mustLoad(t, `{"oauthConfigurations": {"trello": {"Trello": {"CONSUMER_KEY": "k", "CONSUMER_SECRET": "s"}}, "zendesk": {"Zendesk": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}}`)
	for _, tc := range []struct {
		tok, body string
		want      int
		contains  string
	}{
		{"", `{"connectorType": "odata", "oauthProvider": "OData"}`, 401, ""},
		{"alice", `{"connectorType": "nope", "oauthProvider": "OData"}`, 400, "connectorType"},
		{"alice", `{"connectorType": "odata", "oauthProvider": "Other"}`, 404, ""},
		{"alice", `{"connectorType": "odata", "oauthProvider": "OData", "kind": "shared"}`, 400, "kind"},
		{"alice", `{"connectorType": "odata", "oauthProvider": "OData", "returnTo": "https://evil.example.net/"}`, 400, "returnTo"},
		{"alice", `{"connectorType": "odata", "oauthProvider": "OData", "returnTo": "//evil.example.net/"}`, 400, "returnTo"},
		{"alice", `{"connectorType": "odata", "oauthProvider": "OData", "returnTo": "/\t/evil.example.net"}`, 400, "returnTo"},
		{"alice", `{"connectorType": "zendesk", "oauthProvider": "Zendesk"}`, 400, "subdomain"},
		{"alice", `{"connectorType": "zendesk", "oauthProvider": "Zendesk", "subdomain": "acme"}`, 201, "/start"},
		{"alice", `{"connectorType": "odata", "oauthProvider": "OData", "returnTo": "https://flow.example.com/x"}`, 201, "/start"},
	} {
		if code, b := e.rest(t, "POST", "/api/provider/v1/connectors", tc.tok, tc.body); code != tc.want || !strings.Contains(b, tc.contains) {
			t.Errorf("%s as %q = %d %s, want %d containing %q", tc.body, tc.tok, code, b, tc.want, tc.contains)
		}
	}
	// The start step goes to the provider: a zendesk one at its subdomain, a Trello one (OAuth 1.0a)
	// whose unknown consumer key the fake refuses, which the start page reports.
	_, authURL := e.create(t, "alice", `{"connectorType": "zendesk", "oauthProvider": "Zendesk", "subdomain": "acme"}`)
	if to, _ := e.start(t, "alice", authURL); !strings.HasPrefix(to, "https://acme.zendesk.com/") {
		t.Errorf("zendesk start redirects to %s", to)
	}
	_, authURL = e.create(t, "alice", `{"connectorType": "trello", "oauthProvider": "Trello"}`)
	if code, b := e.page(t, authURL, session("alice")); code != 400 || !strings.Contains(b, "temporary credential request failed: the provider answered http_401: invalid key") {
		t.Errorf("trello start with an unknown key = %d %s", code, b)
	}
}

func BenchmarkGetAccessTokenCached(b *testing.B) {
	e := newEnv(b)
	e.mustLoad(b, e.odataConfig("OData"))
	id, _ := e.authorize(b, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	ctx := as("")
	req := &providerv1.GetAccessTokenRequest{ConnectorId: id}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.internal.GetAccessToken(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
