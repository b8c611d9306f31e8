package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// fixture: a tenant "acme" with client "billing" (secret value) and an admin token.
type fixture struct {
	s          *suite
	adminToken string
	tenantID   string
	secretID   string
	secret     string
}

func newFixture(t *testing.T) *fixture {
	s := startSuite(t)
	f := &fixture{s: s, adminToken: clientToken(t, s, "admin", bootstrapSecret, "adminapi sudo")}
	f.tenantID = expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants", f.adminToken, map[string]any{"code": "acme", "name": "Acme"}), 201)["tenantId"].(string)
	expect(t, "client", s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients", f.adminToken, map[string]any{
		"clientId": "billing", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read", "adminapi"},
	}), 201)
	sec := expect(t, "secret", s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/billing/secrets", f.adminToken, map[string]any{}), 201)
	f.secretID, f.secret = sec["secretId"].(string), sec["value"].(string)
	awaitClient(t, s, "billing", f.secret)
	return f
}

func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t)
	s := f.s
	// A confidential client that may only use the authorization code grant.
	expect(t, "web client", s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients", f.adminToken, map[string]any{
		"clientId": "web", "allowedGrantTypes": []string{"authorization_code"}, "redirectUris": []string{"https://app.example.com/cb"},
	}), 201)
	webSecret := expect(t, "web secret", s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/web/secrets", f.adminToken, map[string]any{}), 201)["value"].(string)
	// The request carries the revision of the writes above: the token service knows web when it answers.
	if r := s.form("/connect/token", "grant_type=client_credentials", "web", webSecret); r.status == 401 {
		t.Fatalf("web client unknown to the token service after its creation: %s", r.body)
	}
	tests := []struct {
		name, body, user, pass string
		status                 int
		code                   string
	}{
		{"wrong secret in body", "grant_type=client_credentials&client_id=billing&client_secret=nope", "", "", 401, "invalid_client"},
		{"unknown client", "grant_type=client_credentials&client_id=ghost&client_secret=x", "", "", 401, "invalid_client"},
		{"wrong secret by Basic", "grant_type=client_credentials", "billing", "nope", 401, "invalid_client"},
		{"unsupported grant", "grant_type=urn:example:magic&client_id=billing&client_secret=" + url.QueryEscape(f.secret), "", "", 400, "unsupported_grant_type"},
		{"grant not allowed", "grant_type=client_credentials&client_id=web&client_secret=" + url.QueryEscape(webSecret), "", "", 400, "unauthorized_client"},
		{"scope not allowed", "grant_type=client_credentials&scope=orders.delete&client_id=billing&client_secret=" + url.QueryEscape(f.secret), "", "", 400, "invalid_scope"},
		{"missing grant type", "client_id=billing", "", "", 400, "invalid_request"},
	}
	for _, tt := range tests {
		r := s.form("/connect/token", tt.body, tt.user, tt.pass)
		expect(t, tt.name, r, tt.status, tt.code)
		if tt.user != "" && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate after a Basic attempt", tt.name)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tt.name, r.header.Get("Cache-Control"))
		}
	}
	// The OAuth client library sees the RFC 6749 §5.2 error.
	_, err := (&clientcredentials.Config{ClientID: "billing", ClientSecret: "wrong", TokenURL: s.base + "/connect/token"}).Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("x/oauth2 error %v", err)
	}
	// The simple API: wrong grant type, wrong secret, missing token on check.
	expect(t, "simple wrong grant", s.call("GET", "/api/oauth2/server/tokens?grant_type=password&client_id=billing&client_secret=x", "", nil), 400, "unsupported_grant_type")
	expect(t, "simple wrong secret", s.call("GET", "/api/oauth2/server/tokens?grant_type=client_credentials&client_id=billing&client_secret=x", "", nil), 401, "invalid_client")
	expect(t, "check without token", s.call("GET", "/api/oauth2/server/tokens/check", "", nil), 400, "invalid_request")
	expect(t, "query not UTF-8", s.call("GET", "/api/oauth2/server/tokens/check?token=%FF", "", nil), 400, "invalid_request")
	expect(t, "form not UTF-8", s.form("/connect/token", "grant_type=client_credentials&client_id=%FF", "", ""), 400, "invalid_request")
	expect(t, "check forged", s.call("GET", "/api/oauth2/server/tokens/check?token=eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "", nil), 400, "invalid_token")
	if r := s.call("GET", "/api/oauth2/server/tokens/revoke", "", nil); r.status != 400 || r.json(t)["code"] == float64(0) {
		t.Fatalf("revoke without token: %d %s", r.status, r.body)
	}
}

func TestAdminAuthorization(t *testing.T) {
	f := newFixture(t)
	s := f.s
	path := "/api/adminapi2/v1/tenants/" + f.tenantID + "/clients"
	expect(t, "no token", s.call("GET", path, "", nil), 401)
	expect(t, "garbage token", s.call("GET", path, "not-a-token", nil), 401)

	// billing belongs to acme and holds adminapi: its own tenant yes, tenants API and other tenants no.
	billing := clientToken(t, s, "billing", f.secret, "adminapi")
	expect(t, "own tenant", s.call("GET", path, billing, nil), 200)
	expect(t, "own tenant via ?access_token", s.call("GET", path+"?access_token="+billing, "", nil), 200)
	expect(t, "tenants API", s.call("GET", "/api/adminapi2/v1/tenants", billing, nil), 403)
	expect(t, "system tenant's clients", s.call("GET", "/api/adminapi2/v1/tenants/default/clients", billing, nil), 403)
	noScope := clientToken(t, s, "billing", f.secret, "orders.read")
	expect(t, "without adminapi scope", s.call("GET", path, noScope, nil), 403)

	// Validation names the field; duplicates conflict; unknown tenants are 404.
	r := expect(t, "bad redirect", s.call("POST", path, f.adminToken, map[string]any{
		"clientId": "web", "allowedGrantTypes": []string{"authorization_code"}, "redirectUris": []string{"https://app.example.com/cb#frag"},
	}), 400, "invalid_request")
	if r["field"] == nil {
		t.Errorf("validation error names no field: %v", r)
	}
	expect(t, "duplicate clientId", s.call("POST", path, f.adminToken, map[string]any{
		"clientId": "billing", "allowedGrantTypes": []string{"client_credentials"},
	}), 409)
	expect(t, "unknown tenant", s.call("GET", "/api/adminapi2/v1/tenants/nope/clients", f.adminToken, nil), 404)

	// A revoked admin token stops working at once.
	expect(t, "revoke billing token", s.form("/connect/revocation", "token="+billing, "billing", f.secret), 200)
	expect(t, "revoked token", s.call("GET", path, billing, nil), 401)
}

func TestSudo(t *testing.T) {
	f := newFixture(t)
	s := f.s
	users := "/api/adminapi2/v1/tenants/" + f.tenantID + "/users"
	alice := expect(t, "alice", s.call("POST", users, f.adminToken, map[string]any{
		"loginName": "alice", "email": "alice@acme.test", "mobile": "+15550001", "password": "correct horse battery", "roles": []string{"tenant_admin"},
	}), 201)
	if _, shown := alice["password"]; shown {
		t.Fatal("the password is returned")
	}
	bob := expect(t, "bob", s.call("POST", users, f.adminToken, map[string]any{"loginName": "bob"}), 201)

	// The check endpoint answers for the impersonated user with the acting client.
	for _, sel := range []string{"uid:" + alice["userId"].(string), "loginName:alice", "email:alice@acme.test", "mobile:+15550001", "username:alice"} {
		q := url.Values{"token": {f.adminToken}, "sudo": {sel}, "tenantCode": {"acme"}}
		c := expect(t, "check sudo "+sel, s.call("GET", "/api/oauth2/server/tokens/check?"+q.Encode(), "", nil), 200)
		act, _ := c["act"].(map[string]any)
		if c["sub"] != alice["userId"] || c["loginName"] != "alice" || c["tenant"] != f.tenantID || act["client_id"] != "admin" {
			t.Fatalf("check with sudo=%s: %v", sel, c)
		}
	}
	q := url.Values{"token": {f.adminToken}, "sudo": {"loginName:nobody"}, "tenantId": {f.tenantID}}
	expect(t, "sudo unknown user", s.call("GET", "/api/oauth2/server/tokens/check?"+q.Encode(), "", nil), 404)
	billing := clientToken(t, s, "billing", f.secret, "adminapi")
	q = url.Values{"token": {billing}, "sudo": {"loginName:alice"}}
	expect(t, "sudo without scope", s.call("GET", "/api/oauth2/server/tokens/check?"+q.Encode(), "", nil), 403)

	// The admin API acts as the impersonated user: alice is a tenant admin, bob is not.
	list := users + "?sudo=loginName:alice&tenantId=" + f.tenantID
	expect(t, "admin call as alice", s.call("GET", list, f.adminToken, nil), 200)
	expect(t, "admin call as bob", s.call("GET", users+"?sudo=uid:"+bob["userId"].(string)+"&tenantCode=acme", f.adminToken, nil), 403)
	expect(t, "admin call as nobody", s.call("GET", users+"?sudo=loginName:ghost&tenantCode=acme", f.adminToken, nil), 404)
	expect(t, "sudo without scope on admin API", s.call("GET", users+"?sudo=loginName:alice", billing, nil), 403)
	expect(t, "alice cannot reach the tenants API", s.call("GET", "/api/adminapi2/v1/tenants?sudo=loginName:alice&tenantCode=acme", f.adminToken, nil), 403)
}

func TestIntrospectionAndRevocation(t *testing.T) {
	f := newFixture(t)
	s := f.s
	tok := clientToken(t, s, "billing", f.secret, "orders.read")
	in := expect(t, "introspect", s.form("/connect/introspect", "token="+tok, "billing", f.secret), 200)
	if in["active"] != true || in["client_id"] != "billing" || in["scope"] != "orders.read" || in["tenant"] != f.tenantID {
		t.Fatalf("introspection %v", in)
	}
	expect(t, "introspect unauthenticated", s.form("/connect/introspect", "token="+tok, "", ""), 401, "invalid_client")
	expect(t, "revoke unknown", s.form("/connect/revocation", "token=unknown-token", "billing", f.secret), 200)
	expect(t, "revoke", s.form("/connect/revocation", "token="+tok+"&token_type_hint=access_token", "billing", f.secret), 200)
	in = expect(t, "introspect revoked", s.form("/connect/introspect", "token="+tok, "billing", f.secret), 200)
	if len(in) != 1 || in["active"] != false {
		t.Fatalf("revoked token introspects as %v", in)
	}
}

func TestSecretChangesTakeEffectWithinASecond(t *testing.T) {
	f := newFixture(t)
	s := f.s
	body := "grant_type=client_credentials"
	expect(t, "token", s.form("/connect/token", body, "billing", f.secret), 200)
	// A second secret for rotation; then the first is deleted.
	second := expect(t, "second secret", s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/billing/secrets", f.adminToken,
		map[string]any{"expiration": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)}), 201)
	// Each request carries the revision of the writes before it (the suite's barrier): a change is in
	// effect for the next request, at once.
	expect(t, "new secret accepted", s.form("/connect/token", body, "billing", second["value"].(string)), 200)
	expect(t, "delete first secret", s.call("DELETE", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/billing/secrets/"+f.secretID, f.adminToken, nil), 200)
	expect(t, "deleted secret refused", s.form("/connect/token", body, "billing", f.secret), 401, "invalid_client")
	expect(t, "second secret still works", s.form("/connect/token", body, "billing", second["value"].(string)), 200)
	// lastUsed shows up in the listing.
	eventually(t, 15*time.Second, "lastUsed recorded", func() bool {
		items := expect(t, "list", s.call("GET", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/billing/secrets", f.adminToken, nil), 200)["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["lastUsed"] != nil
	})
	// Deleting the client refuses it too, and ends the tokens it holds.
	live := expect(t, "token", s.form("/connect/token", body, "billing", second["value"].(string)), 200)["access_token"].(string)
	expect(t, "delete client", s.call("DELETE", "/api/adminapi2/v1/tenants/"+f.tenantID+"/clients/billing", f.adminToken, nil), 200)
	expect(t, "deleted client refused", s.form("/connect/token", body, "billing", second["value"].(string)), 401, "invalid_client")
	expect(t, "check a deleted client's token", s.call("GET", "/api/oauth2/server/tokens/check?token="+live, "", nil), 400, "invalid_token")
}

// awaitClient checks that the token service knows a new client secret. Registry changes reach it through its
// change feed; the request carries the revision of the suite's writes (the revision barrier), so the token
// service answers it once it has applied them.
func awaitClient(t testing.TB, s *suite, id, secret string) {
	t.Helper()
	expect(t, id+" known to the token service", s.form("/connect/token", "grant_type=client_credentials", id, secret), 200)
}

// restError is the JSON error object every JSON route answers: the RFC 6749 §5.2 members, the invalid
// field, and every problem of a multi-problem refusal.
type restError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Field            string `json:"field"`
	Violations       []struct {
		Field       string `json:"field"`
		Description string `json:"description"`
	} `json:"violations"`
}

// decodeRESTError decodes r's body as an restError (unknown members refused) and checks what every JSON error
// body guarantees: application/json, one object ending with a newline, no HTML escapes, no gRPC code name
// appended to the description.
func decodeRESTError(t *testing.T, what string, r response, status int, code string) restError {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: %d %s %s, want %d JSON", what, r.status, r.header.Get("Content-Type"), r.body, status)
	}
	if !bytes.HasSuffix(r.body, []byte("}\n")) {
		t.Errorf("%s: body %q does not end with a newline", what, r.body)
	}
	if bytes.Contains(r.body, []byte(`\u003c`)) || bytes.Contains(r.body, []byte(`\u003e`)) || bytes.Contains(r.body, []byte(`\u0026`)) {
		t.Errorf("%s: body %s is HTML-escaped", what, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	var e restError
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("%s: body %s: %v", what, r.body, err)
	}
	if e.Error != code {
		t.Fatalf("%s: error %q, want %q (%s)", what, e.Error, code, r.body)
	}
	for _, suffix := range []string{": failed precondition", ": not found", ": already exists", ": permission denied", ": unauthenticated", ": invalid argument"} {
		if strings.HasSuffix(e.ErrorDescription, suffix) {
			t.Errorf("%s: error_description %q ends with a gRPC code name", what, e.ErrorDescription)
		}
	}
	return e
}

// TestErrorAnswers: errors over REST are typed JSON objects ending with a newline, not HTML-escaped, whose
// error_description is what the service said (no ": failed precondition" suffix), and a refusal with many
// problems lists each as a violation; the simple revoke API answers {code, msg}, userinfo the RFC 6750 §3
// challenge.
func TestErrorAnswers(t *testing.T) {
	f := newFixture(t)
	s := f.s

	e := decodeRESTError(t, "delete the system tenant", s.call("DELETE", "/api/adminapi2/v1/tenants/default", f.adminToken, nil), 400, "failed_precondition")
	if e.ErrorDescription != `the system tenant "default" cannot be deleted` {
		t.Errorf("error_description %q", e.ErrorDescription)
	}
	e = decodeRESTError(t, "unknown tenant", s.call("GET", "/api/adminapi2/v1/tenants/nope/clients", f.adminToken, nil), 404, "not_found")
	if e.ErrorDescription == "" || strings.Contains(e.ErrorDescription, "not found") {
		t.Errorf("unknown tenant: error_description %q", e.ErrorDescription)
	}

	// Caller input quoted in a description keeps its characters.
	e = decodeRESTError(t, "repeated parameter", s.form("/connect/token", "grant_type=client_credentials&%3Ctoken%3E=a&%3Ctoken%3E=b", "", ""), 400, "invalid_request")
	if !strings.Contains(e.ErrorDescription, `"<token>"`) {
		t.Errorf("repeated parameter: error_description %q", e.ErrorDescription)
	}

	// A provider file with several problems: every one is a structured violation.
	bad := map[string]any{"oauthConfigurations": map[string]any{
		"no_such_type": map[string]any{"x": map[string]any{"CLIENT_ID": "id", "CLIENT_SECRET": "secret"}},
		"github":       map[string]any{"gh": map[string]any{"CLIENT_SECRET": "secret"}},
		"slack":        map[string]any{"sl": "not an object"},
	}}
	e = decodeRESTError(t, "bad provider file", s.call("POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration", f.adminToken, bad), 400, "invalid_request")
	if len(e.Violations) < 3 {
		t.Fatalf("bad provider file: %d violations, want one per problem: %+v", len(e.Violations), e)
	}
	for _, entry := range []string{"no_such_type", "github", "slack"} {
		named := false
		for _, v := range e.Violations {
			named = named || strings.Contains(v.Field, entry) && v.Description != ""
		}
		if !named {
			t.Errorf("no violation names %s: %+v", entry, e.Violations)
		}
	}

	// The simple revoke API's failure shape.
	r := s.call("GET", "/api/oauth2/server/tokens/revoke", "", nil)
	var rf struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	if err := json.Unmarshal(r.body, &rf); err != nil || r.status != 400 || rf.Code != 400 || rf.Msg == "" || !bytes.HasSuffix(r.body, []byte("\n")) {
		t.Fatalf("revoke without token: %d %q (%v)", r.status, r.body, err)
	}

	// userinfo without a token: 401, a challenge without an error code (RFC 6750 §3.1).
	r = s.call("GET", "/connect/userinfo", "", nil)
	decodeRESTError(t, "userinfo without a token", r, 401, "invalid_token")
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="authsuite"` {
		t.Errorf("userinfo challenge %q", got)
	}
	r = s.call("GET", "/connect/userinfo", "not-a-token", nil)
	decodeRESTError(t, "userinfo with a bad token", r, 401, "invalid_token")
	if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("userinfo challenge %q", got)
	}
}
