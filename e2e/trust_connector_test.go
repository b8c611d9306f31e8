package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/internalauth"
)

// The connector flow is bound to its owner's browser (RFC 6749 §10.12, RFC 9700 §4.7):
// the authorizationUrl of a connector starts at authsuite, which checks the owner (SSO session, or a
// single-use start token for a client's connector) and sets a binding cookie scoped to the return path; the
// return completes only with that cookie. returnTo is one strict validator (item 7).

const robertPassword = "robert-password-123"

// bindingCookie is the binding cookie's name under an http issuer (the suite's; under https it is
// "__Secure-" + bindingCookie).
const bindingCookie = "authsuite_connector"

// connectorFixture is the sign-in fixture plus: user robert ("Bob", enabled), client flow registered at
// "the provider" (authsuite itself) with the return URL as redirect URI, and an odata provider "authsuite"
// whose endpoints are authsuite's own.
type connectorFixture struct {
	*signinFixture
	returnURL  string
	flowSecret string
	robertID   string
}

func newConnectorFixture(t testing.TB, accessTokenLifetime int) *connectorFixture {
	t.Helper()
	f := &connectorFixture{signinFixture: newSigninFixture(t)}
	s := f.s
	base := s.base
	f.returnURL = base + "/Thingworx/Oauths/oauth/return"
	tenantPath := "/api/adminapi2/v1/tenants/" + f.tenantID
	f.robertID = expect(t, "robert", s.call("POST", tenantPath+"/users/", f.adminToken, map[string]any{
		"loginName": "robert", "displayName": "Bob", "password": robertPassword,
	}), 201)["userId"].(string)
	expect(t, "flow client", s.call("POST", tenantPath+"/clients/", f.adminToken, map[string]any{
		"clientId": "flow", "allowedGrantTypes": []string{"authorization_code", "refresh_token"}, "allowOfflineAccess": true,
		"allowedScopes": []string{"openid", "profile", "offline_access"}, "redirectUris": []string{f.returnURL},
		"accessTokenLifetime": accessTokenLifetime,
	}), 201)
	f.flowSecret = expect(t, "flow secret", s.call("POST", tenantPath+"/clients/flow/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	// The request carries the revision of the writes above (the suite's barrier): a bogus code is refused
	// as invalid_grant, not the client as invalid_client.
	expect(t, "flow known", s.form("/connect/token", "grant_type=authorization_code&code=x&redirect_uri=x", "flow", f.flowSecret), 400, "invalid_grant")
	cfg := map[string]any{"oauthConfigurations": map[string]any{"odata": map[string]any{"authsuite": map[string]any{
		"CLIENT_ID": "flow", "CLIENT_SECRET": f.flowSecret,
		"AUTH_URL": base + "/connect/authorize", "TOKEN_URL": base + "/connect/token",
		"REFRESH_URL": base + "/connect/token", "VALIDATE_URL": base + "/connect/userinfo",
		"oauth2_validate_headers": []string{`{"Authorization":"Bearer {access_token}"}`},
		"oauth2_params_scope":     []string{`{"OPENID":"openid"}`, `{"PROFILE":"profile"}`, `{"OFFLINE":"offline_access"}`},
	}}}}
	expect(t, "load", s.call("POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration", f.adminToken, cfg), 200)
	return f
}

// userToken is an access token of a user of the fixture's tenant (password grant of client legacy).
func (f *connectorFixture) userToken(t testing.TB, user, password string) string {
	t.Helper()
	return expect(t, user+" token", f.s.form("/connect/token", "grant_type=password&scope=openid&username="+user+"&password="+url.QueryEscape(password),
		"legacy", f.ropcSecret), 200)["access_token"].(string)
}

// createConnector creates an odata connector as tok and returns its id and authorizationUrl.
func (f *connectorFixture) createConnector(t testing.TB, tok string, extra map[string]any) (id, authURL string) {
	t.Helper()
	body := map[string]any{"connectorType": "odata", "oauthProvider": "authsuite", "kind": "session"}
	for k, v := range extra {
		body[k] = v
	}
	var created struct {
		ConnectorID      string `json:"connectorId"`
		AuthorizationURL string `json:"authorizationUrl"`
		Status           string `json:"status"`
	}
	r := f.s.call("POST", "/api/provider/v1/connectors", tok, body)
	if r.status != 201 {
		t.Fatalf("create connector: %d %s", r.status, r.body)
	}
	decodeJSON(t, r.body, &created)
	if created.Status != "pending" || created.ConnectorID == "" || created.AuthorizationURL == "" {
		t.Fatalf("created connector %s", r.body)
	}
	return created.ConnectorID, created.AuthorizationURL
}

// connectorStatus is the connector's status as its owner sees it.
func (f *connectorFixture) connectorStatus(t testing.TB, tok, id string) string {
	t.Helper()
	var c struct {
		Status string `json:"status"`
	}
	r := f.s.call("GET", "/api/provider/v1/connectors/"+id, tok, nil)
	if r.status != 200 {
		t.Fatalf("get connector: %d %s", r.status, r.body)
	}
	decodeJSON(t, r.body, &c)
	return c.Status
}

// signIn gives b an authsuite SSO session of user, through client spa's sign-in.
func (f *connectorFixture) signIn(t testing.TB, b *browser, user, password string) {
	t.Helper()
	_, ch := pkce()
	p := b.login(f.s.base, b.get(f.authorizeURL("spa", "openid", "st", "n-1", ch)), user, password)
	redirectParams(t, p, f.callback)
}

// toReturn follows u in b (redirects only) until the provider sends the browser to the return URL, and
// returns that URL without visiting it.
func (f *connectorFixture) toReturn(t testing.TB, b *browser, u string) string {
	t.Helper()
	for range 10 {
		p := b.get(u)
		if p.status != http.StatusFound && p.status != http.StatusSeeOther {
			t.Fatalf("GET %s answered %d before the return URL: %s", u, p.status, p.body)
		}
		next, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		next, err = next.Parse(p.location)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(next.String(), f.returnURL+"?") {
			return next.String()
		}
		u = next.String()
	}
	t.Fatalf("no return URL after 10 redirects from %s", u)
	return ""
}

func randomCookie() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestConnectorReturnNeedsBindingCookie: the provider's redirect back completes a connector only in the
// browser that started it. Without the binding cookie, with a wrong one, and in another signed-in user's
// browser the return shows an error page (400) and the connector stays pending with no grant; then the
// owner's browser completes it.
func TestConnectorReturnNeedsBindingCookie(t *testing.T) {
	f := newConnectorFixture(t, 300)
	bobToken := f.userToken(t, "robert", robertPassword)
	id, authURL := f.createConnector(t, bobToken, map[string]any{"returnTo": "/flows/done"})
	if !strings.HasPrefix(authURL, f.s.base+"/api/provider/v1/connectors/"+id+"/start") {
		t.Errorf("authorizationUrl %s does not start at authsuite", authURL)
	}

	bob := newBrowser(t)
	f.signIn(t, bob, "robert", robertPassword)
	back := f.toReturn(t, bob, authURL)

	alice := newBrowser(t)
	f.signIn(t, alice, "alice", alicePassword)
	refused := map[string]func() page{
		"no cookie at all": func() page { return newBrowser(t).get(back) },
		"a wrong binding cookie": func() page {
			req, _ := http.NewRequest("GET", back, nil)
			req.AddCookie(&http.Cookie{Name: bindingCookie, Value: randomCookie()})
			req.AddCookie(&http.Cookie{Name: "__Secure-" + bindingCookie, Value: randomCookie()})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return readPage(t, resp)
		},
		"alice's browser": func() page { return alice.get(back) },
	}
	for what, try := range refused {
		p := try()
		if p.status != http.StatusBadRequest || !strings.Contains(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, "Authorization failed") {
			t.Errorf("return with %s: %d %q %s", what, p.status, p.location, p.body)
		}
		if st := f.connectorStatus(t, bobToken, id); st != "pending" {
			t.Fatalf("after the return with %s the connector is %s", what, st)
		}
	}
	if r := f.s.call("POST", "/api/provider/v1/connectors/"+id+"/token", bobToken, map[string]any{}); r.status == 200 {
		t.Fatalf("a token was stored by a foreign return: %s", r.body)
	}

	// Bob's own browser still completes it, and lands on returnTo.
	done := bob.get(back)
	if done.status != http.StatusSeeOther || done.location != "/flows/done" {
		t.Fatalf("owner's return: %d %q %s", done.status, done.location, done.body)
	}
	if st := f.connectorStatus(t, bobToken, id); st != "active" {
		t.Fatalf("after the owner's return the connector is %s", st)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	decodeJSON(t, expectRaw(t, "token", f.s.call("POST", "/api/provider/v1/connectors/"+id+"/token", bobToken, map[string]any{}), 200), &tok)
	var in struct {
		Active bool   `json:"active"`
		Sub    string `json:"sub"`
	}
	decodeJSON(t, expectRaw(t, "introspect", f.s.form("/connect/introspect", "token="+url.QueryEscape(tok.AccessToken), "flow", f.flowSecret), 200), &in)
	if !in.Active || in.Sub != f.robertID {
		t.Fatalf("the connector holds a grant of %q (active %v), want robert's %q", in.Sub, in.Active, f.robertID)
	}
}

// TestConnectorStartChecksOwner: the start URL of a user's connector needs the owner's SSO session in the
// browser: another user's browser gets 403, a browser without a session a 401 page that says to sign in,
// and neither changes the connector.
func TestConnectorStartChecksOwner(t *testing.T) {
	f := newConnectorFixture(t, 300)
	bobToken := f.userToken(t, "robert", robertPassword)
	id, authURL := f.createConnector(t, bobToken, nil)

	alice := newBrowser(t)
	f.signIn(t, alice, "alice", alicePassword)
	if p := alice.get(authURL); p.status != http.StatusForbidden || p.location != "" || p.header.Get("Set-Cookie") != "" {
		t.Errorf("alice opening bob's authorizationUrl: %d %q cookies %q %s", p.status, p.location, p.header.Values("Set-Cookie"), p.body)
	}
	if p := newBrowser(t).get(authURL); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Sign in") {
		t.Errorf("a browser without a session: %d %q %s", p.status, p.location, p.body)
	}
	if st := f.connectorStatus(t, bobToken, id); st != "pending" {
		t.Fatalf("connector is %s", st)
	}
}

// TestClientConnectorStartTokenSingleUse: a client's connector (owner client:<id>) starts with the
// single-use start token of its authorizationUrl; the browser that used it completes the flow, and the URL
// does not work a second time.
func TestClientConnectorStartTokenSingleUse(t *testing.T) {
	f := newConnectorFixture(t, 300)
	id, authURL := f.createConnector(t, f.adminToken, nil)
	if u, err := url.Parse(authURL); err != nil || u.Query().Get("start_token") == "" {
		t.Errorf("client connector's authorizationUrl %s carries no start token", authURL)
	}
	b := newBrowser(t)
	f.signIn(t, b, "alice", alicePassword) // the provider (authsuite) signs the user in
	back := f.toReturn(t, b, authURL)
	if p := newBrowser(t).get(authURL); p.status < 400 {
		t.Errorf("second use of the start URL: %d %q", p.status, p.location)
	}
	if p := b.get(back); p.status != http.StatusOK || !strings.Contains(p.body, "Connected") {
		t.Fatalf("return: %d %s", p.status, p.body)
	}
	if st := f.connectorStatus(t, f.adminToken, id); st != "active" {
		t.Fatalf("connector is %s", st)
	}
}

// TestConnectorReturnToStrict: returnTo values a browser could read as another origin are refused with
// 400 naming returnTo; safe ones are accepted.
func TestConnectorReturnToStrict(t *testing.T) {
	f := newConnectorFixture(t, 300)
	bobToken := f.userToken(t, "robert", robertPassword)
	for _, rt := range []string{"/\t/evil.example", "/\n/evil.example", "//evil.example", "/\\evil.example", "/%2F/evil.example",
		"/%09/evil.example", "https://evil.example/", "https://x@" + strings.TrimPrefix(f.s.base, "http://") + "/", "javascript:alert(1)", "/ /evil.example"} {
		r := f.s.call("POST", "/api/provider/v1/connectors", bobToken, map[string]any{
			"connectorType": "odata", "oauthProvider": "authsuite", "returnTo": rt,
		})
		var e struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if r.status != 400 {
			t.Errorf("returnTo %q: %d %s", rt, r.status, r.body)
			continue
		}
		decodeJSON(t, r.body, &e)
		if !strings.Contains(e.ErrorDescription, "returnTo") {
			t.Errorf("returnTo %q: error does not name the field: %s", rt, r.body)
		}
	}
	for _, rt := range []string{"/flows/done?x=1", f.s.base + "/flows/done"} {
		f.createConnector(t, bobToken, map[string]any{"returnTo": rt})
	}
}

// TestConnectorGrantCaptureTwoBrowsers drives two real Chromium browser contexts (two cookie jars), each
// signed in to authsuite: Bob's connector's authorizationUrl opened in Alice's browser shows an error page
// and stores nothing; opened in Bob's browser it completes with Bob's grant.
func TestConnectorGrantCaptureTwoBrowsers(t *testing.T) {
	bin := chromium(t)
	f := newConnectorFixture(t, 300)
	bobToken := f.userToken(t, "robert", robertPassword)
	id, authURL := f.createConnector(t, bobToken, nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	root, cancelRoot := chromedp.NewContext(actx)
	defer cancelRoot()
	if err := chromedp.Do(root, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Two browser contexts of one Chromium: separate cookie jars, like two people's browsers.
	browserFor := func(user, password string) context.Context {
		bctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
		t.Cleanup(cancelT)
		_, ch := pkce()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(f.authorizeURL("spa", "openid", "st", "n-1", ch)),
			chromedp.WaitVisible("#login"),
			chromedp.SendKeys("#username", user),
			chromedp.SendKeys("#password", password),
			chromedp.Click("#submit"),
		); err != nil {
			t.Fatalf("%s signs in: %v", user, err)
		}
		if at, err := waitLocation(ctx, f.callback); err != nil {
			t.Fatalf("%s sign-in: %v (at %q)", user, err, at)
		}
		return ctx
	}
	bob := browserFor("robert", robertPassword)
	alice := browserFor("alice", alicePassword)

	resp, err := chromedp.RunResponse(alice, chromedp.Navigate(authURL))
	if err != nil {
		t.Fatalf("alice opens bob's link: %v", err)
	}
	heading, _ := chromedp.Run(alice, chromedp.Text("h1"))
	if resp.Status < 400 || heading == "Connected" {
		t.Errorf("alice's browser: HTTP %d, page %q", resp.Status, heading)
	}
	if st := f.connectorStatus(t, bobToken, id); st != "pending" {
		t.Fatalf("after alice's browser opened the link the connector is %s", st)
	}

	resp, err = chromedp.RunResponse(bob, chromedp.Navigate(authURL))
	if err != nil {
		t.Fatalf("bob opens his link: %v", err)
	}
	heading, _ = chromedp.Run(bob, chromedp.Text("h1"))
	if resp.Status != 200 || heading != "Connected" {
		t.Fatalf("bob's browser: HTTP %d, page %q", resp.Status, heading)
	}
	if st := f.connectorStatus(t, bobToken, id); st != "active" {
		t.Fatalf("after bob's browser the connector is %s", st)
	}
}

// decodeJSON decodes body into v, a typed struct, failing on malformed JSON or wrong types.
func decodeJSON(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("body %s does not decode into %T: %v", body, v, err)
	}
}

// expectRaw fails the test unless r has the status, and returns the body.
func expectRaw(t testing.TB, what string, r response, status int) []byte {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	return r.body
}

// TestConnectorStartOnlyFromGateway: StartAuthorization and CompleteAuthorization state a browser's cookies,
// so a direct gRPC caller gets PERMISSION_DENIED (the gateway credential), and the session
// lookup behind them is an internal API that even the gateway credential does not open.
func TestConnectorStartOnlyFromGateway(t *testing.T) {
	f := newConnectorFixture(t, 300)
	bobToken := f.userToken(t, "robert", robertPassword)
	id, _ := f.createConnector(t, bobToken, nil)
	ctx := context.Background()
	direct := providerv1.NewConnectorServiceClient(dialGRPC(t, f.s))
	if _, err := direct.StartAuthorization(ctx, &providerv1.StartAuthorizationRequest{ConnectorId: id, SessionCookie: "planted"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("direct StartAuthorization: %v, want PermissionDenied", err)
	}
	if _, err := direct.CompleteAuthorization(ctx, &providerv1.CompleteAuthorizationRequest{State: "x", Code: "y", BindingCookie: randomCookie()}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("direct CompleteAuthorization: %v, want PermissionDenied", err)
	}
	gw := dialGRPC(t, f.s, grpcCred{gateway: internalauth.GatewayCredential(suiteKeys(t, f.s))})
	for name, cc := range map[string]*grpc.ClientConn{"no credential": dialGRPC(t, f.s), "the gateway credential": gw} {
		if _, err := tokenv1.NewTokenInternalServiceClient(cc).ResolveSession(ctx, &tokenv1.ResolveSessionRequest{SessionCookie: "x", TenantId: f.tenantID}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("ResolveSession with %s: %v, want PermissionDenied", name, err)
		}
	}
	// The gateway credential opens the start step, which still wants the owner's session.
	if _, err := providerv1.NewConnectorServiceClient(gw).StartAuthorization(ctx, &providerv1.StartAuthorizationRequest{ConnectorId: id}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("StartAuthorization through the gateway credential without a session: %v, want Unauthenticated", err)
	}
	if st := f.connectorStatus(t, bobToken, id); st != "pending" {
		t.Fatalf("connector is %s", st)
	}
}
