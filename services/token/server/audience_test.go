package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
)

const (
	ordersRes   = "https://orders.internal"
	billingRes  = "https://billing.internal"
	paymentsRes = "https://payments.internal"
)

// putResource creates or replaces an API resource and tells connected watchers, as the registry's feed does.
func (f *fakeRegistry) putResource(r *registryv1.ApiResource) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	f.broadcast(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_ResourceUpsert{ResourceUpsert: proto.Clone(r).(*registryv1.ApiResource)}})
	return f.rev
}

// delResource deletes an API resource, telling connected watchers.
func (f *fakeRegistry) delResource(tenantID, id string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	f.broadcast(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedResource{DeletedResource: &registryv1.ApiResourceRef{TenantId: tenantID, ResourceId: id}}})
	return f.rev
}

// atClaims is an access token's payload decoded into typed fields; aud is raw, to check its JSON type.
type atClaims struct {
	Aud      json.RawMessage `json:"aud"`
	Sub      string          `json:"sub"`
	Scope    string          `json:"scope"`
	Exp, Iat int64
	Roles    []string `json:"roles"`
	Groups   []string `json:"groups"`
	SvcRole  string   `json:"svc_role"`
	Dept     string   `json:"department"`
}

func decodeAT(t *testing.T, tok string) atClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c atClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("typed decode of %s: %v", b, err)
	}
	return c
}

// audOf returns aud as a list, failing unless it is a string for one audience and an array for several
// (RFC 7519 §4.1.3).
func audOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) < 2 {
		t.Fatalf("aud %s is neither a string nor an array of several strings", raw)
	}
	return many
}

// resourceEnv is an env with three resources of the default tenant and a client allowed scopes of two.
func resourceEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.reg.put(e.reg.record("cc", "default", allGrants, []string{"orders.read", "billing.read", "read"}, 3600, secretSpec{id: "c", value: "pw-cc"}))
	e.reg.putResource(&registryv1.ApiResource{ResourceId: ordersRes, TenantId: "default", Scopes: []string{"orders.read", "orders.write"}, AccessTokenLifetime: proto.Int32(600)})
	e.reg.putResource(&registryv1.ApiResource{ResourceId: billingRes, TenantId: "default", Scopes: []string{"billing.read"}})
	e.reg.putResource(&registryv1.ApiResource{ResourceId: paymentsRes, TenantId: "default", Scopes: []string{"payments.pay"}})
	// Another tenant's resource defining the same scope name does not count for default's clients.
	e.reg.putResource(&registryv1.ApiResource{ResourceId: "https://read.acme", TenantId: "t-acme", Scopes: []string{"read"}})
	e.awaitRegistry()
	return e
}

func (e *env) ccToken(scope string, resources ...string) (*tokenv1.TokenResponse, error) {
	return e.oauth.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("cc", "pw-cc"), Scope: scope, Resource: resources})
}

// TestAudienceRule: the token's aud without and with resource parameters (RFC 8707 §2), its JSON type, and
// the lifetime as the shortest of the client's and its resources'.
func TestAudienceRule(t *testing.T) {
	e := resourceEnv(t)
	for _, tc := range []struct {
		scope     string
		resources []string
		wantAud   []string
		wantScope string
		wantLife  int32
	}{
		{"", nil, []string{ordersRes, billingRes, testIssuer}, "orders.read billing.read read", 600},
		{"orders.read", nil, []string{ordersRes}, "orders.read", 600},
		{"billing.read", nil, []string{billingRes}, "billing.read", 3600},
		{"read", nil, []string{testIssuer}, "read", 3600},
		{"billing.read read", nil, []string{billingRes, testIssuer}, "billing.read read", 3600},
		{"", []string{ordersRes}, []string{ordersRes}, "orders.read", 600},
		{"", []string{"HTTPS://Orders.INTERNAL:443"}, []string{ordersRes}, "orders.read", 600}, // one normal form
		{"", []string{billingRes, ordersRes, billingRes}, []string{billingRes, ordersRes}, "orders.read billing.read", 600},
		{"orders.read read", []string{ordersRes}, []string{ordersRes, testIssuer}, "orders.read read", 600},
	} {
		t.Run(fmt.Sprintf("%q %v", tc.scope, tc.resources), func(t *testing.T) {
			r, err := e.ccToken(tc.scope, tc.resources...)
			if err != nil {
				t.Fatal(err)
			}
			c := decodeAT(t, r.GetAccessToken())
			if got := audOf(t, c.Aud); !slices.Equal(got, tc.wantAud) {
				t.Errorf("aud %v, want %v", got, tc.wantAud)
			}
			if r.GetScope() != tc.wantScope || c.Scope != tc.wantScope {
				t.Errorf("scope %q / %q, want %q", r.GetScope(), c.Scope, tc.wantScope)
			}
			if r.GetExpiresIn() != tc.wantLife || c.Exp-c.Iat != int64(tc.wantLife) {
				t.Errorf("lifetime %d / %d, want %d", r.GetExpiresIn(), c.Exp-c.Iat, tc.wantLife)
			}
		})
	}
	// A client without resource scopes keeps aud = the issuer, as a string.
	c := decodeAT(t, e.mustToken("svc", svcSecret, ""))
	if string(c.Aud) != `"`+testIssuer+`"` {
		t.Fatalf("aud %s", c.Aud)
	}
}

// TestAudienceRefusals: bad resource parameters are invalid_target, scopes of resources not named are
// invalid_scope (RFC 8707 §2).
func TestAudienceRefusals(t *testing.T) {
	e := resourceEnv(t)
	many := make([]string, maxResources+1)
	for i := range many {
		many[i] = fmt.Sprintf("https://r%d.internal", i)
	}
	for _, tc := range []struct {
		scope     string
		resources []string
		code      string
	}{
		{"", []string{"https://unknown.internal"}, apierror.InvalidTarget},
		{"", []string{"orders"}, apierror.InvalidTarget},
		{"", []string{ordersRes + "#frag"}, apierror.InvalidTarget},
		{"", []string{""}, apierror.InvalidTarget},
		{"", []string{ordersRes + "?x=1"}, apierror.InvalidTarget},
		{"", []string{paymentsRes}, apierror.InvalidTarget},         // no scope of it is allowed for the client
		{"", []string{"https://read.acme"}, apierror.InvalidTarget}, // another tenant's
		{"", many, apierror.InvalidTarget},
		{"billing.read", []string{ordersRes}, apierror.InvalidScope},
		{"orders.write", []string{ordersRes}, apierror.InvalidScope}, // not allowed for the client
		{"payments.pay", nil, apierror.InvalidScope},
	} {
		_, err := e.ccToken(tc.scope, tc.resources...)
		if err == nil {
			t.Fatalf("%q %v: issued", tc.scope, tc.resources)
		}
		if got := apierrorCode(err); got != tc.code {
			t.Errorf("%q %v: %v, want %s", tc.scope, tc.resources, err, tc.code)
		}
	}
}

// apierrorCode is the OAuth error code of err: an *apierror.OAuthError returned directly, or one carried
// by a gRPC status.
func apierrorCode(err error) string {
	var oe *apierror.OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return apistatus.FromStatus(err).OAuthCode
}

// TestResourceFeedChanges: deleting a resource makes its scopes issuer scopes again, and a changed
// lifetime applies to the next token.
func TestResourceFeedChanges(t *testing.T) {
	e := resourceEnv(t)
	e.reg.delResource("default", billingRes)
	e.awaitRegistry()
	r, err := e.ccToken("billing.read")
	if err != nil {
		t.Fatal(err)
	}
	if got := audOf(t, decodeAT(t, r.GetAccessToken()).Aud); !slices.Equal(got, []string{testIssuer}) {
		t.Fatalf("aud after deletion %v", got)
	}
	if _, err := e.ccToken("", billingRes); apierrorCode(err) != apierror.InvalidTarget {
		t.Fatalf("deleted resource: %v", err)
	}
	e.reg.putResource(&registryv1.ApiResource{ResourceId: ordersRes, TenantId: "default", Scopes: []string{"orders.read"}, AccessTokenLifetime: proto.Int32(60)})
	e.awaitRegistry()
	if r, err := e.ccToken("orders.read"); err != nil || r.GetExpiresIn() != 60 {
		t.Fatalf("lifetime after change: %v %v", r, err)
	}
}

// TestAudienceAtCheckIntrospectAndOwnAPIs: check and introspection take any token of this issuer, and with
// an expected audience only tokens naming it; authsuite's own APIs (AuthenticateToken, userinfo, sudo)
// refuse a token whose aud lacks the issuer.
func TestAudienceAtCheckIntrospectAndOwnAPIs(t *testing.T) {
	e := resourceEnv(t)
	r, err := e.ccToken("orders.read billing.read")
	if err != nil {
		t.Fatal(err)
	}
	tok := r.GetAccessToken()
	ctx := context.Background()

	if _, err := e.check(tok); err != nil {
		t.Fatalf("check without audience: %v", err)
	}
	if _, err := e.simple.CheckToken(ctx, &tokenv1.CheckTokenRequest{Token: tok, Audience: ordersRes}); err != nil {
		t.Fatalf("check with its audience: %v", err)
	}
	_, err = e.simple.CheckToken(ctx, &tokenv1.CheckTokenRequest{Token: tok, Audience: paymentsRes})
	wantOAuth(t, err, apierror.InvalidToken, 400)
	_, err = e.simple.CheckToken(ctx, &tokenv1.CheckTokenRequest{Token: tok, Sudo: "uid:u1"})
	wantOAuth(t, err, apierror.InvalidToken, 400)

	intro := func(aud string) *tokenv1.IntrospectResponse {
		t.Helper()
		ir, err := e.oauth.Introspect(ctx, &tokenv1.IntrospectRequest{Client: creds("svc", svcSecret), Token: tok, Audience: aud})
		if err != nil {
			t.Fatal(err)
		}
		return ir
	}
	ir := intro("")
	if !ir.GetActive() || !slices.Equal(ir.GetAudiences(), []string{ordersRes, billingRes}) || ir.GetAud() != ordersRes {
		t.Fatalf("introspection %v", ir)
	}
	if ir := intro(billingRes); !ir.GetActive() {
		t.Fatalf("introspection for billing %v", ir)
	}
	if ir := intro(testIssuer); ir.GetActive() || ir.Audiences != nil || ir.Scope != nil {
		t.Fatalf("introspection for the issuer %v", ir)
	}

	_, err = e.internal.AuthenticateToken(ctx, &tokenv1.AuthenticateTokenRequest{Token: tok})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("AuthenticateToken with a resource-only token: %v", err)
	}
	_, err = tokenv1.NewAuthorizeServiceClient(e.browserConn).UserInfo(ctx, &tokenv1.UserInfoRequest{AccessToken: tok})
	wantOAuth(t, err, apierror.InvalidToken, 401)
	// A token naming the issuer too is good at both.
	both, err := e.ccToken("orders.read read")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.internal.AuthenticateToken(ctx, &tokenv1.AuthenticateTokenRequest{Token: both.GetAccessToken()}); err != nil {
		t.Fatalf("AuthenticateToken with a token for the issuer too: %v", err)
	}
}

// TestClientStaticClaims: a client's static claims go into its client_credentials tokens, never replacing a
// registered claim.
func TestClientStaticClaims(t *testing.T) {
	e := newEnv(t)
	rec := e.reg.record("claimer", "default", allGrants, []string{"read"}, 0, secretSpec{id: "c", value: "pw-c"})
	rec.Client.Claims = map[string]string{"svc_role": "reader", "sub": "forged", "aud": "forged"}
	e.reg.put(rec)
	e.awaitRegistry()
	c := decodeAT(t, e.mustToken("claimer", "pw-c", ""))
	if c.SvcRole != "reader" || c.Sub != "claimer" || string(c.Aud) != `"`+testIssuer+`"` {
		t.Fatalf("claims %+v", c)
	}
	if _, err := e.check(e.mustToken("claimer", "pw-c", "")); err != nil {
		t.Fatal(err)
	}
}
