package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// The resources of the exchange tests: service A serves resA, and so on. Each defines orders.read (the
// scope a call chain carries along) and a scope of its own.
const (
	resA = "https://a.internal"
	resB = "https://b.internal"
	resC = "https://c.internal"
	resD = "https://d.internal"
	resE = "https://e.internal" // defines only audit.write
)

var exchangeGrants = []string{GrantClientCredentials, GrantTokenExchange}

// exchangeEnv is a token server with, in tenant t-acme, the user app "web" and the services "svc-a",
// "svc-b" and "svc-c" (secret "pw-<id>") serving resA, resB and resC and allowed token exchange, and
// "beta-a" in tenant t-beta serving resA too. The account feed lists u-alice of t-acme.
func exchangeEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	put := func(id, tenant string, grants []string, serves ...string) {
		r := e.reg.record(id, tenant, grants, []string{"openid", "roles", "orders.read", "orders.write", "stock.read", "audit.write", "offline_access"}, 3600,
			secretSpec{id: "s", value: "pw-" + id})
		r.Client.ServesResources = serves
		e.reg.put(r)
	}
	put("web", "t-acme", []string{GrantClientCredentials})
	put("svc-a", "t-acme", exchangeGrants, resA)
	put("svc-b", "t-acme", exchangeGrants, resB)
	put("svc-c", "t-acme", exchangeGrants, resC)
	put("beta-a", "t-beta", exchangeGrants, resA)
	put("no-grant", "t-acme", []string{GrantClientCredentials}, resA)
	e.reg.putAccount(&registryv1.UserRecord{TenantId: "t-acme", UserId: "u-alice", Incarnation: "inc-1", Roles: []string{"buyer"}})
	e.reg.breakStreams(false) // the next snapshot carries the accounts (users_synced)
	e.awaitRegistry()
	waitFor(t, 5*time.Second, "the account view", func() bool { _, ok := e.srv.cache.Incarnation("t-acme", "u-alice"); return ok })
	for _, r := range []*registryv1.ApiResource{
		{TenantId: "t-acme", ResourceId: resA, Scopes: []string{"orders.read", "orders.write"}},
		{TenantId: "t-acme", ResourceId: resB, Scopes: []string{"orders.read", "stock.read"}},
		{TenantId: "t-acme", ResourceId: resC, Scopes: []string{"orders.read", "audit.write"}},
		{TenantId: "t-acme", ResourceId: resD, Scopes: []string{"orders.read"}},
		{TenantId: "t-acme", ResourceId: resE, Scopes: []string{"audit.write"}},
		{TenantId: "t-acme", ResourceId: "https://secret.internal", Scopes: []string{"secret.read"}},
		{TenantId: "t-beta", ResourceId: "https://beta.internal", Scopes: []string{"orders.read"}},
	} {
		feedResource(e, r)
	}
	e.awaitRegistry()
	return e
}

// feedResource sends an API resource on the fake registry's feed, as the registry does after a write.
func feedResource(e *env, r *registryv1.ApiResource) {
	e.reg.mu.Lock()
	defer e.reg.mu.Unlock()
	e.reg.rev++
	e.reg.broadcast(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_ResourceUpsert{ResourceUpsert: r}})
}

// userToken signs an access token of u-alice (tenant t-acme) issued to "web", as the code flow would, with
// the audience aud (plus the issuer) and the changes mod makes.
func (e *env) userToken(scope string, aud []string, mod ...func(*jwt.Claims)) (string, *jwt.Claims) {
	e.t.Helper()
	now := e.clock.Now()
	c := &jwt.Claims{
		Issuer: e.srv.issuer, Subject: "u-alice", Audience: append(slices.Clone(aud), e.srv.issuer), ClientID: "web",
		Scope: scope, Tenant: "t-acme", IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), ID: newJTI(),
		AuthTime: now.Add(-time.Minute).Unix(), FamilyID: "fam-1", SID: "sid-1", Incarnation: "inc-1",
	}
	for _, m := range mod {
		m(c)
	}
	tok, err := e.srv.keys.signer().Sign(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, c
}

// exchangeReq is a token-exchange request of client id for subject.
func exchangeReq(id, subject string, mod ...func(*tokenv1.TokenRequest)) *tokenv1.TokenRequest {
	r := &tokenv1.TokenRequest{
		GrantType: GrantTokenExchange, Client: creds(id, "pw-"+id), SubjectToken: subject, SubjectTokenType: TokenTypeAccessToken,
	}
	for _, m := range mod {
		m(r)
	}
	return r
}

func (e *env) exchange(r *tokenv1.TokenRequest) (*tokenv1.TokenResponse, error) {
	return e.oauth.Token(context.Background(), r)
}

// exchangedClaims is what the tests read of an issued token: every member typed as RFC 8693 and RFC 9068
// define it.
type exchangedClaims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
	Tenant   string          `json:"tenant"`
	Exp      int64           `json:"exp"`
	Iat      int64           `json:"iat"`
	Jti      string          `json:"jti"`
	AuthTime int64           `json:"auth_time"`
	Fid      string          `json:"fid"`
	Sid      string          `json:"sid"`
	Uinc     string          `json:"uinc"`
	Pjti     []string        `json:"pjti"`
	Act      *actClaim       `json:"act"`
	Roles    []string        `json:"roles"`
}

type actClaim struct {
	Sub      string    `json:"sub"`
	ClientID string    `json:"client_id"`
	Act      *actClaim `json:"act"`
}

// chain lists the actors of an act claim, outermost (most recent) first.
func (a *actClaim) chain() []string {
	var out []string
	for ; a != nil; a = a.Act {
		out = append(out, a.ClientID+"/"+a.Sub)
	}
	return out
}

func decodeClaims(t *testing.T, tok string) exchangedClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c exchangedClaims
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("claims %s: %v", b, err)
	}
	return c
}

func mustExchange(t *testing.T, e *env, r *tokenv1.TokenRequest) (*tokenv1.TokenResponse, exchangedClaims) {
	t.Helper()
	resp, err := e.exchange(r)
	if err != nil {
		t.Fatalf("exchange by %s: %v", r.GetClient().GetClientId(), err)
	}
	return resp, decodeClaims(t, resp.GetAccessToken())
}

// TestExchangeIssuesTheUsersToken (RFC 8693 §2.2.1): the exchanged token is the user's token still, issued
// to the exchanging client, with the act chain and the subject token as parent, and nothing else.
func TestExchangeIssuesTheUsersToken(t *testing.T) {
	e := exchangeEnv(t)
	subject, sc := e.userToken("openid orders.read orders.write offline_access", []string{resA})
	e.clock.Advance(10 * time.Second)
	base := e.storeWrites()
	resp, c := mustExchange(t, e, exchangeReq("svc-a", subject))
	if resp.GetIssuedTokenType() != TokenTypeAccessToken || resp.GetTokenType() != "Bearer" || resp.RefreshToken != nil || resp.IdToken != nil {
		t.Fatalf("response %v", resp)
	}
	now := e.clock.Now().Unix()
	if c.Sub != "u-alice" || c.Tenant != "t-acme" || c.ClientID != "svc-a" || c.AuthTime != sc.AuthTime || c.Uinc != "inc-1" ||
		c.Sid != "sid-1" || c.Fid != "fam-1" || c.Iss != e.srv.issuer || c.Iat != now || c.Jti == sc.ID || len(c.Jti) != 32 {
		t.Fatalf("claims %+v", c)
	}
	// offline_access is never carried over: an exchange issues no refresh token.
	if c.Scope != "openid orders.read orders.write" || resp.GetScope() != c.Scope {
		t.Fatalf("scope %q, response scope %q", c.Scope, resp.GetScope())
	}
	if got := c.Act.chain(); !slices.Equal(got, []string{"svc-a/svc-a"}) {
		t.Fatalf("act %v", got)
	}
	// No target named: the audience rule gives every resource defining a granted scope, and the issuer for
	// openid; roles are not released without scope roles.
	var aud []string
	if err := json.Unmarshal(c.Aud, &aud); err != nil || !slices.Equal(aud, []string{resA, resB, resC, resD, e.srv.issuer}) || c.Roles != nil {
		t.Fatalf("aud %s (%v), roles %v", c.Aud, err, c.Roles)
	}
	if !slices.Equal(c.Pjti, []string{sc.ID}) {
		t.Fatalf("pjti %v, want [%s]", c.Pjti, sc.ID)
	}
	// The subject token has 50 minutes left; the client's lifetime is an hour: never extended.
	if c.Exp != sc.Expiry || int64(resp.GetExpiresIn()) != sc.Expiry-now {
		t.Fatalf("exp %d expires_in %d; subject exp %d", c.Exp, resp.GetExpiresIn(), sc.Expiry)
	}
	// The issued token works as an access token of this issuer.
	if r, err := e.check(resp.GetAccessToken()); err != nil || r.GetScope() != c.Scope {
		t.Fatalf("check of the exchanged token: %v %v", r, err)
	}
	// Exchanging writes nothing.
	e.noStoreWrites(base)
}

// storeWrites counts the store writes other than the client view's snapshots.
func (e *env) storeWrites() int64 { return e.st.writes.Load() - int64(e.srv.cache.Writes()) }

// noStoreWrites fails the test unless the store has seen base writes besides the client view's snapshots
// once any snapshot write in flight has ended.
func (e *env) noStoreWrites(base int64) {
	e.t.Helper()
	waitFor(e.t, 5*time.Second, "no store writes but snapshots", func() bool { return e.storeWrites() == base })
}

// TestExchangeLifetimeOfTheClient: a client lifetime shorter than the subject's remaining time wins.
func TestExchangeLifetimeOfTheClient(t *testing.T) {
	e := exchangeEnv(t)
	r := e.reg.record("svc-short", "t-acme", exchangeGrants, []string{"orders.read"}, 60, secretSpec{id: "s", value: "pw-svc-short"})
	r.Client.ServesResources = []string{resA}
	e.reg.put(r)
	e.awaitRegistry()
	subject, _ := e.userToken("orders.read", []string{resA})
	resp, c := mustExchange(t, e, exchangeReq("svc-short", subject))
	if resp.GetExpiresIn() != 60 || c.Exp != e.clock.Now().Unix()+60 {
		t.Fatalf("expires_in %d exp %d", resp.GetExpiresIn(), c.Exp)
	}
}

// TestExchangeRefusals: every rule's error code (RFC 8693 §2.2.2, RFC 6749 §5.2), none of them writing
// anything; the subject token refusals all answer alike, so a caller learns nothing about a token it may
// not use.
func TestExchangeRefusals(t *testing.T) {
	e := exchangeEnv(t)
	subject, _ := e.userToken("openid orders.read stock.read", []string{resA})
	expired, _ := e.userToken("orders.read", []string{resA}, func(c *jwt.Claims) { c.Expiry = e.clock.Now().Unix() })
	revoked, _ := e.userToken("orders.read", []string{resA})
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: revoked}); err != nil {
		t.Fatal(err)
	}
	foreignTenant, _ := e.userToken("orders.read", []string{resA}, func(c *jwt.Claims) { c.Tenant, c.Subject, c.Incarnation = "t-beta", "u-bob", "" })
	otherUser, _ := e.userToken("orders.read", []string{resA}, func(c *jwt.Claims) { c.Incarnation = "inc-old" })
	forBOnly, _ := e.userToken("orders.read", []string{resB})
	svcBToken := e.mustToken("svc-b", "pw-svc-b", "stock.read") // aud: resB only
	withPayments, _ := e.userToken("orders.read payments.pay", []string{resA})
	offline, _ := e.userToken("orders.read offline_access", []string{resA})
	svcAToken := e.mustToken("svc-a", "pw-svc-a", "orders.read")
	base := e.storeWrites()

	const opaque = "the subject_token is invalid or may not be exchanged by this client"
	with := func(f func(*tokenv1.TokenRequest)) func(*tokenv1.TokenRequest) { return f }
	cases := []struct {
		name string
		req  *tokenv1.TokenRequest
		code string
		desc string // the whole error_description, when it matters
	}{
		{"grant not allowed", exchangeReq("no-grant", subject), apierror.UnauthorizedClient, ""},
		{"wrong secret", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Client.ClientSecret = "x" })), apierror.InvalidClient, ""},
		{"no subject_token", exchangeReq("svc-a", ""), apierror.InvalidRequest, "subject_token is required"},
		{"no subject_token_type", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.SubjectTokenType = "" })), apierror.InvalidRequest, "subject_token_type is required"},
		{"id_token type", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.SubjectTokenType = "urn:ietf:params:oauth:token-type:id_token" })), apierror.InvalidRequest, ""},
		{"refresh token wanted", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) {
			r.RequestedTokenType = "urn:ietf:params:oauth:token-type:refresh_token"
		})), apierror.InvalidRequest, ""},
		{"actor_token without type", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.ActorToken = svcAToken })), apierror.InvalidRequest, "actor_token_type is required with actor_token"},
		{"actor_token_type alone", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.ActorTokenType = TokenTypeAccessToken })), apierror.InvalidRequest, ""},
		{"garbage subject", exchangeReq("svc-a", "not.a.token"), apierror.InvalidRequest, opaque},
		{"expired subject", exchangeReq("svc-a", expired), apierror.InvalidRequest, opaque},
		{"revoked subject", exchangeReq("svc-a", revoked), apierror.InvalidRequest, opaque},
		{"ended account", exchangeReq("svc-a", otherUser), apierror.InvalidRequest, opaque},
		{"subject of another tenant", exchangeReq("beta-a", subject), apierror.InvalidRequest, opaque},
		{"token of another tenant", exchangeReq("svc-a", foreignTenant), apierror.InvalidRequest, opaque},
		{"resource not served", exchangeReq("svc-a", forBOnly), apierror.InvalidRequest, opaque},
		{"a client token not for the client", exchangeReq("svc-a", svcBToken), apierror.InvalidRequest, opaque},
		{"actor token of another client", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) {
			r.ActorToken, r.ActorTokenType = svcBToken, TokenTypeAccessToken
		})), apierror.InvalidRequest, ""},
		{"user token as actor", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) {
			r.ActorToken, r.ActorTokenType = subject, TokenTypeAccessToken
		})), apierror.InvalidRequest, ""},
		{"scope widening", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Scope = "orders.read orders.write" })), apierror.InvalidScope,
			`scope "orders.write" is not in the subject_token's scope: an exchange never widens it`},
		{"scope the client may not have", exchangeReq("svc-a", withPayments, with(func(r *tokenv1.TokenRequest) { r.Scope = "payments.pay" })), apierror.InvalidScope, ""},
		{"malformed scope", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Scope = "a\\b" })), apierror.InvalidScope, ""},
		{"offline_access", exchangeReq("svc-a", offline, with(func(r *tokenv1.TokenRequest) { r.Scope = "offline_access" })), apierror.InvalidScope,
			"an exchange issues no refresh token: offline_access cannot be requested"},
		{"unknown resource", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Resource = []string{"https://nowhere.internal"} })), apierror.InvalidTarget, ""},
		{"unknown audience", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Audience = []string{"nowhere"} })), apierror.InvalidTarget, ""},
		{"resource of no allowed scope", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Resource = []string{"https://secret.internal"} })), apierror.InvalidTarget, ""},
		{"resource of another tenant", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Audience = []string{"https://beta.internal"} })), apierror.InvalidTarget, ""},
		{"scope of another resource than named", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) {
			r.Resource, r.Scope = []string{resD}, "orders.read stock.read"
		})), apierror.InvalidScope, ""},
		{"no scope for the target", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) { r.Resource = []string{resE} })), apierror.InvalidScope, ""},
		{"too many targets", exchangeReq("svc-a", subject, with(func(r *tokenv1.TokenRequest) {
			for i := range maxExchangeTargets + 1 {
				r.Resource = append(r.Resource, "https://r"+strings.Repeat("x", i)+".internal")
			}
		})), apierror.InvalidTarget, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.exchange(c.req)
			st, _ := status.FromError(err)
			if err == nil || st.Code() == codes.OK {
				t.Fatal("succeeded")
			}
			status := 400
			if c.code == apierror.InvalidClient {
				status = 401
			}
			wantOAuth(t, err, c.code, status)
			if c.desc != "" && !strings.HasSuffix(st.Message(), c.desc) {
				t.Fatalf("description %q, want %q", st.Message(), c.desc)
			}
		})
	}
	e.noStoreWrites(base)
	// The refusals changed nothing: the subject token is still good for its own client and for svc-a.
	if _, err := e.check(subject); err != nil {
		t.Fatal(err)
	}
	mustExchange(t, e, exchangeReq("svc-a", subject))
}

// TestExchangeActorToken (RFC 8693 §2.1, §4.1): the client's own client token as actor_token makes its
// party the actor.
func TestExchangeActorToken(t *testing.T) {
	e := exchangeEnv(t)
	subject, _ := e.userToken("orders.read", []string{resA})
	actor := e.mustToken("svc-a", "pw-svc-a", "orders.read")
	_, c := mustExchange(t, e, exchangeReq("svc-a", subject, func(r *tokenv1.TokenRequest) {
		r.ActorToken, r.ActorTokenType, r.SubjectTokenType = actor, TokenTypeJWT, TokenTypeJWT
	}))
	if got := c.Act.chain(); !slices.Equal(got, []string{"svc-a/svc-a"}) {
		t.Fatalf("act %v", got)
	}
	// A token issued to svc-a by exchanging another client's token is svc-a's, but not svc-a acting as
	// itself: it is no actor token.
	webToken := e.mustToken("web", "pw-web", "orders.read")
	exchanged, _ := mustExchange(t, e, exchangeReq("svc-a", webToken))
	_, err := e.exchange(exchangeReq("svc-a", subject, func(r *tokenv1.TokenRequest) {
		r.ActorToken, r.ActorTokenType = exchanged.GetAccessToken(), TokenTypeAccessToken
	}))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
	// Neither is an actor_token_type that names no access token.
	_, err = e.exchange(exchangeReq("svc-a", subject, func(r *tokenv1.TokenRequest) {
		r.ActorToken, r.ActorTokenType = actor, "urn:ietf:params:oauth:token-type:id_token"
	}))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
	// A revoked actor token is refused.
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: actor}); err != nil {
		t.Fatal(err)
	}
	_, err = e.exchange(exchangeReq("svc-a", subject, func(r *tokenv1.TokenRequest) { r.ActorToken, r.ActorTokenType = actor, TokenTypeAccessToken }))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
}

// TestExchangeMayAct (RFC 8693 §4.4): a token naming a client in may_act may be exchanged by that client
// (and only it), whatever its audience.
func TestExchangeMayAct(t *testing.T) {
	e := exchangeEnv(t)
	subject, _ := e.userToken("orders.read", nil, func(c *jwt.Claims) { c.MayAct = &jwt.Actor{Subject: "svc-b"} })
	if _, c := mustExchange(t, e, exchangeReq("svc-b", subject)); c.Act.chain()[0] != "svc-b/svc-b" {
		t.Fatalf("act %v", c.Act.chain())
	}
	_, err := e.exchange(exchangeReq("svc-c", subject))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
	byClientID, _ := e.userToken("orders.read", nil, func(c *jwt.Claims) { c.MayAct = &jwt.Actor{ClientID: "svc-c"} })
	mustExchange(t, e, exchangeReq("svc-c", byClientID))
	// may_act with neither member names nobody.
	empty, _ := e.userToken("orders.read", nil, func(c *jwt.Claims) { c.MayAct = &jwt.Actor{} })
	_, err = e.exchange(exchangeReq("svc-c", empty))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
}

// TestExchangeChainDepth: the act chain is bounded (MaxDelegationDepth actors), prior actors nested
// beneath the new one.
func TestExchangeChainDepth(t *testing.T) {
	e := exchangeEnv(t)
	chainOf := func(n int) *jwt.Actor {
		var a *jwt.Actor
		for i := range n {
			a = &jwt.Actor{ClientID: "p" + string(rune('0'+i)), Subject: "p" + string(rune('0'+i)), Act: a}
		}
		return a
	}
	parents := func(n int) []string {
		var p []string
		for range n {
			p = append(p, newJTI())
		}
		return p
	}
	ok, _ := e.userToken("orders.read", []string{resA}, func(c *jwt.Claims) {
		c.Act, c.Parents = chainOf(MaxDelegationDepth-1), parents(MaxDelegationDepth-1)
	})
	_, c := mustExchange(t, e, exchangeReq("svc-a", ok))
	if got := c.Act.chain(); len(got) != MaxDelegationDepth || got[0] != "svc-a/svc-a" || got[1] != "p3/p3" || got[4] != "p0/p0" {
		t.Fatalf("act %v", got)
	}
	if len(c.Pjti) != MaxDelegationDepth {
		t.Fatalf("pjti %v", c.Pjti)
	}
	tooDeep, _ := e.userToken("orders.read", []string{resA}, func(c *jwt.Claims) { c.Act = chainOf(MaxDelegationDepth) })
	_, err := e.exchange(exchangeReq("svc-a", tooDeep))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
	tooManyParents, _ := e.userToken("orders.read", []string{resA}, func(c *jwt.Claims) { c.Parents = parents(MaxDelegationDepth) })
	_, err = e.exchange(exchangeReq("svc-a", tooManyParents))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
}

// TestExchangeDisabledUser: once the user is disabled, neither the subject token nor what was exchanged
// from it is good, and no new exchange is granted.
func TestExchangeDisabledUser(t *testing.T) {
	e := exchangeEnv(t)
	subject, _ := e.userToken("orders.read", []string{resA})
	resp, _ := mustExchange(t, e, exchangeReq("svc-a", subject))
	e.clock.Advance(time.Second)
	e.reg.putAccount(&registryv1.UserRecord{TenantId: "t-acme", UserId: "u-alice", Incarnation: "inc-1", Disabled: true,
		DisableTime: timestamppb.New(e.clock.Now())})
	e.awaitRegistry()
	_, err := e.exchange(exchangeReq("svc-a", subject))
	wantOAuth(t, err, apierror.InvalidRequest, 400)
	if _, err := e.check(resp.GetAccessToken()); err == nil {
		t.Fatal("the exchanged token of a disabled user still checks")
	}
}

// TestExchangeDeletedClientEndsItsTokens: the exchanged token is the exchanging client's: deleting that
// client ends it, as it does the client's other tokens.
func TestExchangeDeletedClientEndsItsTokens(t *testing.T) {
	e := exchangeEnv(t)
	subject, _ := e.userToken("orders.read", []string{resA})
	resp, _ := mustExchange(t, e, exchangeReq("svc-a", subject))
	e.reg.del("svc-a", false)
	e.awaitRegistry()
	if _, err := e.check(resp.GetAccessToken()); err == nil {
		t.Fatal("the exchanged token of a deleted client still checks")
	}
}

// TestExchangeChainOfThree (RFC 8693 §4.1): a user's token for service A travels A → B → C → D, each hop
// exchanging the token it received for one for the next; each token names only the next resource, nests
// the earlier actors, lists every upstream jti, and revoking any upstream token ends every downstream one
// at once.
func TestExchangeChainOfThree(t *testing.T) {
	e := exchangeEnv(t)
	r := e.reg.record("svc-d", "t-acme", exchangeGrants, []string{"orders.read"}, 3600, secretSpec{id: "s", value: "pw-svc-d"})
	r.Client.ServesResources = []string{resD}
	e.reg.put(r)
	e.awaitRegistry()

	t0, c0 := e.userToken("openid roles orders.read orders.write", []string{resA})
	hop := func(by, subject, next string, wantScope string, wantChain ...string) (string, exchangedClaims) {
		t.Helper()
		resp, c := mustExchange(t, e, exchangeReq(by, subject, func(r *tokenv1.TokenRequest) { r.Resource = []string{next} }))
		var aud string
		if err := json.Unmarshal(c.Aud, &aud); err != nil || aud != next {
			t.Fatalf("%s: aud %s, want the string %q", by, c.Aud, next)
		}
		if c.Scope != wantScope || c.Sub != "u-alice" || c.ClientID != by || !slices.Equal(c.Act.chain(), wantChain) {
			t.Fatalf("%s: scope %q sub %q client_id %q act %v", by, c.Scope, c.Sub, c.ClientID, c.Act.chain())
		}
		return resp.GetAccessToken(), c
	}
	t1, c1 := hop("svc-a", t0, resB, "orders.read", "svc-a/svc-a")
	t2, c2 := hop("svc-b", t1, resC, "orders.read", "svc-b/svc-b", "svc-a/svc-a")
	t3, c3 := hop("svc-c", t2, resD, "orders.read", "svc-c/svc-c", "svc-b/svc-b", "svc-a/svc-a")
	if !slices.Equal(c1.Pjti, []string{c0.ID}) || !slices.Equal(c2.Pjti, []string{c1.Jti, c0.ID}) || !slices.Equal(c3.Pjti, []string{c2.Jti, c1.Jti, c0.ID}) {
		t.Fatalf("pjti %v, %v, %v", c1.Pjti, c2.Pjti, c3.Pjti)
	}
	// Scope is never widened along the chain: t1 has only orders.read.
	_, err := e.exchange(exchangeReq("svc-b", t1, func(r *tokenv1.TokenRequest) { r.Resource, r.Scope = []string{resA}, "orders.write" }))
	wantOAuth(t, err, apierror.InvalidScope, 400)
	// A hop may only exchange a token meant for it: C cannot use A's token.
	_, err = e.exchange(exchangeReq("svc-c", t1, func(r *tokenv1.TokenRequest) { r.Resource = []string{resD} }))
	wantOAuth(t, err, apierror.InvalidRequest, 400)

	// Revoking t1 ends t2 and t3, at once, and leaves t0.
	if _, err := e.oauth.Revoke(context.Background(), &tokenv1.RevokeRequest{Client: creds("svc-a", "pw-svc-a"), Token: t1}); err != nil {
		t.Fatal(err)
	}
	for i, tok := range []string{t1, t2, t3} {
		if _, err := e.check(tok); err == nil {
			t.Fatalf("token %d of the chain still checks after t1 was revoked", i+1)
		}
	}
	if _, err := e.check(t0); err != nil {
		t.Fatalf("t0: %v", err)
	}
	_, err = e.exchange(exchangeReq("svc-c", t2, func(r *tokenv1.TokenRequest) { r.Resource = []string{resD} }))
	wantOAuth(t, err, apierror.InvalidRequest, 400)

	// A new chain from t0, then t0 revoked: everything downstream ends.
	u1, _ := hop("svc-a", t0, resB, "orders.read", "svc-a/svc-a")
	u2, _ := hop("svc-b", u1, resC, "orders.read", "svc-b/svc-b", "svc-a/svc-a")
	if _, err := e.simple.RevokeToken(context.Background(), &tokenv1.RevokeTokenRequest{Token: t0}); err != nil {
		t.Fatal(err)
	}
	for i, tok := range []string{t0, u1, u2} {
		if _, err := e.check(tok); err == nil {
			t.Fatalf("token %d still checks after t0 was revoked", i)
		}
	}
}

// TestExchangeCarriesTheUsersClaims: with scope roles granted, the exchanged token carries the user's
// roles as the account view holds them now.
func TestExchangeCarriesTheUsersClaims(t *testing.T) {
	e := exchangeEnv(t)
	subject, _ := e.userToken("roles orders.read", []string{resA})
	_, c := mustExchange(t, e, exchangeReq("svc-a", subject))
	if !slices.Equal(c.Roles, []string{"buyer"}) || c.Scope != "roles orders.read" {
		t.Fatalf("roles %v scope %q", c.Roles, c.Scope)
	}
}
