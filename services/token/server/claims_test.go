package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// claimsEnv is a token server with the client "app" of t-acme (password and refresh grants, offline
// access, claim mappings and static claims), the resources orders and billing of t-acme, and alice, whose
// account the view lists with roles, groups and attributes.
func claimsEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	r := e.reg.record("app", "t-acme", []string{GrantPassword, GrantRefreshToken, GrantAuthorizationCode},
		[]string{"openid", "roles", "groups", "offline_access", "orders.read", "billing.read", "hr"}, 3600, secretSpec{id: "s", value: "pw-app"})
	r.Client.AllowOfflineAccess, r.Client.AllowRopc = true, true
	r.Client.RedirectUris = []string{webCallback}
	r.Client.Claims = map[string]string{"svc_role": "web"}
	r.Client.AlwaysSendClientClaims = true
	r.Client.ClaimMappings = []*registryv1.ClaimMapping{
		{UserAttribute: "dept", Claim: "department"},
		{UserAttribute: "salary_band", Claim: "band", Scope: "hr"},
		{UserAttribute: "dept", Claim: "sub"}, // a registered name: never written
	}
	e.reg.put(r)
	pw := "pw-alice-123"
	e.reg.mu.Lock()
	e.reg.users = append(e.reg.users, &registryv1.User{UserId: "u-alice", TenantId: "t-acme", LoginName: "alice", Password: &pw,
		Roles: []string{"admin", "auditor"}, Groups: []string{"ops"}, Attributes: map[string]string{"dept": "sales", "salary_band": "B"}})
	e.reg.mu.Unlock()
	e.reg.putAccount(aliceRecord([]string{"admin", "auditor"}))
	e.reg.breakStreams(false) // the next snapshot carries the accounts (users_synced)
	e.awaitRegistry()
	waitFor(t, 5*time.Second, "the account view", func() bool { _, ok := e.srv.cache.Incarnation("t-acme", "u-alice"); return ok })
	e.reg.putResource(&registryv1.ApiResource{ResourceId: ordersRes, TenantId: "t-acme", Scopes: []string{"orders.read"}, AccessTokenLifetime: proto.Int32(300)})
	e.reg.putResource(&registryv1.ApiResource{ResourceId: billingRes, TenantId: "t-acme", Scopes: []string{"billing.read"}})
	e.awaitRegistry()
	return e
}

func aliceRecord(roles []string) *registryv1.UserRecord {
	// No incarnation: the fake registry's ResolveUser (userinfo) answers none.
	return &registryv1.UserRecord{TenantId: "t-acme", UserId: "u-alice", LoginName: "alice",
		Roles: roles, Groups: []string{"ops"}, Attributes: map[string]string{"dept": "sales", "salary_band": "B"}}
}

func (e *env) passwordToken(scope string, resources ...string) (*tokenv1.TokenResponse, error) {
	return e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantPassword, Client: creds("app", "pw-app"),
		Username: "alice", Password: "pw-alice-123", Scope: scope, Resource: resources})
}

// idClaims is an ID token's payload as a client decodes it.
type idClaims struct {
	Sub        string   `json:"sub"`
	Aud        string   `json:"aud"`
	Roles      []string `json:"roles"`
	Groups     []string `json:"groups"`
	Department string   `json:"department"`
	Band       string   `json:"band"`
	SvcRole    string   `json:"svc_role"`
}

func decodeID(t *testing.T, tok string) idClaims {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("typed decode of %s: %v", b, err)
	}
	return c
}

// TestUserTokensCarryRolesGroupsAndMappedClaims: scopes roles and groups release the user's roles and
// groups in the access token and the ID token; claim mappings release attributes (a scoped mapping only
// with its scope); static claims come with AlwaysSendClaims; a registered name is never overwritten; the
// next token after a change of roles carries the new roles.
func TestUserTokensCarryRolesGroupsAndMappedClaims(t *testing.T) {
	e := claimsEnv(t)
	r, err := e.passwordToken("openid roles groups")
	if err != nil {
		t.Fatal(err)
	}
	at := decodeAT(t, r.GetAccessToken())
	if !slices.Equal(at.Roles, []string{"admin", "auditor"}) || !slices.Equal(at.Groups, []string{"ops"}) ||
		at.Dept != "sales" || at.SvcRole != "web" || at.Sub != "u-alice" {
		t.Fatalf("access token claims %+v", at)
	}
	id := decodeID(t, r.GetIdToken())
	if !slices.Equal(id.Roles, []string{"admin", "auditor"}) || !slices.Equal(id.Groups, []string{"ops"}) ||
		id.Department != "sales" || id.Band != "" || id.Sub != "u-alice" || id.Aud != "app" {
		t.Fatalf("ID token claims %+v", id)
	}
	// Without the scopes: no roles, no groups; hr releases the scoped mapping.
	r, err = e.passwordToken("openid hr")
	if err != nil {
		t.Fatal(err)
	}
	at = decodeAT(t, r.GetAccessToken())
	if at.Roles != nil || at.Groups != nil || at.Dept != "sales" {
		t.Fatalf("access token claims without roles/groups %+v", at)
	}
	if id := decodeID(t, r.GetIdToken()); id.Band != "B" || id.Roles != nil {
		t.Fatalf("ID token with hr %+v", id)
	}
	// The verifier reads them back.
	if _, err := e.check(r.GetAccessToken()); err != nil {
		t.Fatalf("check: %v", err)
	}
	// A change of roles reaches the next token.
	e.reg.putAccount(aliceRecord([]string{"viewer"}))
	e.awaitRegistry()
	r, err = e.passwordToken("roles")
	if err != nil {
		t.Fatal(err)
	}
	if at := decodeAT(t, r.GetAccessToken()); !slices.Equal(at.Roles, []string{"viewer"}) {
		t.Fatalf("roles after the change %v", at.Roles)
	}
}

// TestRefreshResourcesNarrowNeverWiden: a family granted for two resources may refresh for one of them
// and then for the other, never for one outside (invalid_target, the token stays usable); its access tokens'
// aud and lifetime follow (RFC 8707 §2.2).
func TestRefreshResourcesNarrowNeverWiden(t *testing.T) {
	e := claimsEnv(t)
	r, err := e.passwordToken("openid offline_access orders.read billing.read", ordersRes, billingRes)
	if err != nil {
		t.Fatal(err)
	}
	if got := audOf(t, decodeAT(t, r.GetAccessToken()).Aud); !slices.Equal(got, []string{ordersRes, billingRes, testIssuer}) {
		t.Fatalf("aud %v", got)
	}
	if r.GetExpiresIn() != 300 {
		t.Fatalf("lifetime %d, want the orders resource's 300", r.GetExpiresIn())
	}
	rt := r.GetRefreshToken()
	refresh := func(rt string, resources ...string) (*tokenv1.TokenResponse, error) {
		return e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantRefreshToken, Client: creds("app", "pw-app"), RefreshToken: rt, Resource: resources})
	}
	// A resource outside the family: refused, and the refresh token is not used up.
	e.reg.putResource(&registryv1.ApiResource{ResourceId: paymentsRes, TenantId: "t-acme", Scopes: []string{"orders.read"}})
	e.awaitRegistry()
	_, err = refresh(rt, paymentsRes)
	wantOAuth(t, err, apierror.InvalidTarget, 400)
	_, err = refresh(rt, "not a uri")
	wantOAuth(t, err, apierror.InvalidTarget, 400)

	r, err = refresh(rt, billingRes)
	if err != nil {
		t.Fatalf("narrowing refresh: %v", err)
	}
	at := decodeAT(t, r.GetAccessToken())
	if got := audOf(t, at.Aud); !slices.Equal(got, []string{billingRes, testIssuer}) || at.Scope != "openid offline_access billing.read" || r.GetExpiresIn() != 3600 {
		t.Fatalf("narrowed: aud %v scope %q lifetime %d", got, at.Scope, r.GetExpiresIn())
	}
	// The family keeps both: the next refresh may name the other one, or none (both again).
	r, err = refresh(r.GetRefreshToken(), ordersRes)
	if err != nil {
		t.Fatalf("refresh for the other resource: %v", err)
	}
	if got := audOf(t, decodeAT(t, r.GetAccessToken()).Aud); !slices.Equal(got, []string{ordersRes, testIssuer}) {
		t.Fatalf("aud %v", got)
	}
	r, err = refresh(r.GetRefreshToken())
	if err != nil {
		t.Fatal(err)
	}
	if got := audOf(t, decodeAT(t, r.GetAccessToken()).Aud); !slices.Equal(got, []string{ordersRes, billingRes, testIssuer}) {
		t.Fatalf("aud without resource %v", got)
	}
}

// TestAuthorizeResource: the resource parameters of an authorization request are checked at once
// (invalid_target back to the client) and bound the code: the token request may narrow them, never
// widen.
func TestAuthorizeResource(t *testing.T) {
	e := claimsEnv(t)
	cl, _ := e.srv.cache.Get("app")
	// Malformed, unknown or not allowed: the error goes back to the redirect URI.
	for _, res := range []string{"not a uri", "https://unknown.internal"} {
		if _, err := e.srv.grantTarget(cl, []string{"openid"}, nil, []string{res}, true); apierrorCode(err) != apierror.InvalidTarget {
			t.Fatalf("%q: %v", res, err)
		}
	}
	ar, aerr := parseAuthorizeRequest(url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {webCallback},
		"scope": {"openid orders.read"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
		"resource": {ordersRes, billingRes, ordersRes}}.Encode(), e.srv.cache.Get)
	if aerr != nil || !slices.Equal(ar.Resources, []string{ordersRes, billingRes}) {
		t.Fatalf("parsed %+v, %+v", ar, aerr)
	}
	_, aerr = parseAuthorizeRequest(url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {webCallback},
		"scope": {"openid"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
		"resource": {"https://x#frag"}}.Encode(), e.srv.cache.Get)
	if aerr == nil || aerr.Code != apierror.InvalidTarget || aerr.RedirectURI != webCallback {
		t.Fatalf("fragment: %+v", aerr)
	}
	// The code keeps the resources; the token request may narrow them, never widen.
	tg, err := e.srv.userTarget(cl, []string{"openid", "orders.read", "billing.read"}, []string{ordersRes}, []string{billingRes})
	if apierrorCode(err) != apierror.InvalidTarget {
		t.Fatalf("widening: %+v %v", tg, err)
	}
	tg, err = e.srv.userTarget(cl, []string{"openid", "orders.read", "billing.read"}, []string{ordersRes, billingRes}, []string{billingRes})
	if err != nil || !slices.Equal(tg.Aud, []string{billingRes, testIssuer}) || !slices.Equal(tg.Scopes, []string{"openid", "billing.read"}) {
		t.Fatalf("narrowing: %+v %v", tg, err)
	}
	// Without bound resources, a token request may only name a resource of a granted scope.
	if _, err := e.srv.userTarget(cl, []string{"openid", "orders.read"}, nil, []string{billingRes}); apierrorCode(err) != apierror.InvalidTarget {
		t.Fatalf("unbound widening: %v", err)
	}
}

// TestUserInfoRolesGroupsAndClaims: userinfo releases roles, groups and the client's mapped and static
// claims by scope, as the tokens do.
func TestUserInfoRolesGroupsAndClaims(t *testing.T) {
	e := claimsEnv(t)
	az := tokenv1.NewAuthorizeServiceClient(e.browserConn)
	for _, tc := range []struct {
		scope                string
		roles, groups        []string
		department, band, sr string
	}{
		{"openid roles groups", []string{"admin", "auditor"}, []string{"ops"}, "sales", "", "web"},
		{"openid hr", nil, nil, "sales", "B", "web"},
	} {
		r, err := e.passwordToken(tc.scope)
		if err != nil {
			t.Fatal(err)
		}
		ui, err := az.UserInfo(context.Background(), &tokenv1.UserInfoRequest{AccessToken: r.GetAccessToken()})
		if err != nil {
			t.Fatalf("%s: %v", tc.scope, err)
		}
		if ui.GetSub() != "u-alice" || !slices.Equal(ui.GetRoles(), tc.roles) || !slices.Equal(ui.GetGroups(), tc.groups) ||
			ui.GetClaims()["department"] != tc.department || ui.GetClaims()["band"] != tc.band || ui.GetClaims()["svc_role"] != tc.sr {
			t.Fatalf("%s: userinfo %v", tc.scope, ui)
		}
		if _, ok := ui.GetClaims()["sub"]; ok {
			t.Fatalf("a mapping wrote sub: %v", ui)
		}
	}
}

// TestCodeFlowResources: through Authorize and Login, a bad resource goes back to the client as
// invalid_target; a good one is kept with the code, and the token request may narrow it, not widen it (a
// refused redemption leaves the code unused).
func TestCodeFlowResources(t *testing.T) {
	e := claimsEnv(t)
	az := tokenv1.NewAuthorizeServiceClient(e.browserConn)
	ctx := context.Background()
	verifier := strings.Repeat("v", 43)
	params := func(resources ...string) string {
		q, _ := url.ParseQuery(authorizeParams("client_id", "app", "scope", "openid orders.read billing.read"))
		q["resource"] = resources
		return q.Encode()
	}
	a, err := az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: params("https://unknown.internal")})
	if err != nil {
		t.Fatal(err)
	}
	loc, err := url.Parse(a.GetStep().GetRedirectUri())
	if err != nil || loc.Query().Get("error") != apierror.InvalidTarget || loc.Query().Get("state") != "s" {
		t.Fatalf("unknown resource: %v %v", a, err)
	}
	// A scope of a resource not named is invalid_scope (RFC 8707 §2).
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: params(ordersRes)})
	if loc, _ := url.Parse(a.GetStep().GetRedirectUri()); err != nil || loc.Query().Get("error") != apierror.InvalidScope {
		t.Fatalf("scope of another resource: %v %v", a, err)
	}
	a, err = az.Authorize(ctx, &tokenv1.AuthorizeRequest{Parameters: params(ordersRes, billingRes)})
	if err != nil || a.GetStep().GetLogin() == nil {
		t.Fatalf("authorize: %v %v", a, err)
	}
	l, err := az.Login(ctx, &tokenv1.LoginRequest{InteractionId: a.GetStep().GetLogin().GetInteractionId(), Username: "alice", Password: "pw-alice-123",
		Browser: &tokenv1.Browser{RemoteAddr: "192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	loc, err = url.Parse(l.GetStep().GetRedirectUri())
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("login: %v %v", l, err)
	}
	redeem := func(resources ...string) (*tokenv1.TokenResponse, error) {
		return e.oauth.Token(ctx, &tokenv1.TokenRequest{GrantType: GrantAuthorizationCode, Client: creds("app", "pw-app"),
			Code: loc.Query().Get("code"), RedirectUri: webCallback, CodeVerifier: verifier, Resource: resources})
	}
	e.reg.putResource(&registryv1.ApiResource{ResourceId: paymentsRes, TenantId: "t-acme", Scopes: []string{"orders.read"}})
	e.awaitRegistry()
	_, err = redeem(paymentsRes)
	wantOAuth(t, err, apierror.InvalidTarget, 400)
	r, err := redeem(billingRes)
	if err != nil {
		t.Fatalf("the refused redemption used the code: %v", err)
	}
	at := decodeAT(t, r.GetAccessToken())
	if got := audOf(t, at.Aud); !slices.Equal(got, []string{billingRes, testIssuer}) || at.Scope != "openid billing.read" || r.GetExpiresIn() != 3600 {
		t.Fatalf("aud %v scope %q lifetime %d", got, at.Scope, r.GetExpiresIn())
	}
}
