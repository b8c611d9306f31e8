package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/server"
)

// The start step authenticates the owner's browser (RFC 6749 §10.12, RFC 9700 §4.7): a user's connector
// needs the owner's SSO session, a client's its single-use start token; every refusal sets no cookie and
// leaves the connector pending.
func TestStartRefusals(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, authURL := e.create(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		want    int
		says    string
	}{
		{"no session", nil, 401, "sign in to authsuite"},
		{"bob's session", []*http.Cookie{session("bob")}, 403, "belongs to another user"},
		{"another tenant's user", []*http.Cookie{session("carol-t2")}, 401, "sign in"},
		{"a forged session", []*http.Cookie{{Name: "authsuite_session", Value: "sess-nobody"}}, 401, "sign in"},
	} {
		resp := e.visit(t, authURL, tc.cookies...)
		if resp.StatusCode != tc.want || !strings.Contains(resp.Header.Get("X-Body"), tc.says) || len(resp.Cookies()) != 0 || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %q cookies %v %s", tc.name, resp.StatusCode, resp.Header.Get("Location"), resp.Cookies(), resp.Header.Get("X-Body"))
		}
	}
	if code, _ := e.page(t, publicURL+"/api/provider/v1/connectors/nope/start", session("alice")); code != 404 {
		t.Errorf("unknown connector: %d", code)
	}
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", ""); !strings.Contains(b, `"status":"pending"`) {
		t.Fatalf("connector after refused starts = %d %s", code, b)
	}

	// A client's connector: the start token works once, and only for its connector.
	cid, curl := e.create(t, "sys-admin", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	u, _ := url.Parse(curl)
	tok := u.Query().Get("start_token")
	if len(tok) != 43 {
		t.Fatalf("client connector's authorizationUrl %s", curl)
	}
	_, other := e.create(t, "sys-admin", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	ou, _ := url.Parse(other)
	if code, _ := e.page(t, publicURL+ou.Path+"?start_token="+url.QueryEscape(tok)); code != 403 {
		t.Errorf("another connector's start token: %d", code)
	}
	if code, _ := e.page(t, publicURL+u.Path); code != 403 {
		t.Errorf("no start token: %d", code)
	}
	// The token was used up by the attempt at the wrong connector.
	if code, _ := e.page(t, curl); code != 403 {
		t.Errorf("start token after its use at another connector: %d", code)
	}
	cid, curl = e.create(t, "sys-admin", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	to, binding := e.start(t, "sys-admin", curl)
	if code, _ := e.page(t, curl); code != 403 {
		t.Errorf("second use of the start token: %d", code)
	}
	if code, b := e.page(t, e.atProvider(t, to), binding); code != 200 {
		t.Fatalf("client connector return = %d %s", code, b)
	}
	// An active connector cannot be started again.
	if code, b := e.page(t, curl); code != 400 || !strings.Contains(b, "not pending") {
		t.Errorf("start of an active connector: %d %s", code, b)
	}
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+cid, "sys-admin", ""); !strings.Contains(b, `"status":"active"`) {
		t.Fatalf("client connector = %d %s", code, b)
	}
}

// The return completes only with the binding cookie of the browser that started the flow, and not in that
// browser once another user signed in there; refusals store nothing, and the owner still completes.
func TestReturnBoundToBrowserAndOwner(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, to, binding := e.begin(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "returnTo": "/flows/done"}`)
	back := e.atProvider(t, to)
	status := func() string {
		_, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", "")
		var c struct {
			Status string `json:"status"`
		}
		mustJSON(t, b, &c)
		return c.Status
	}
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		want    int
	}{
		{"no binding cookie", nil, 400},
		{"no binding cookie, alice's session", []*http.Cookie{session("alice")}, 400},
		{"a wrong binding cookie", []*http.Cookie{{Name: server.SecureBindingCookie, Value: strings.Repeat("x", 43)}}, 400},
		{"the binding under the http name", []*http.Cookie{{Name: server.BindingCookie, Value: binding.Value}}, 400},
		{"a malformed binding cookie", []*http.Cookie{{Name: server.SecureBindingCookie, Value: binding.Value + "x"}}, 400},
	} {
		if code, b := e.page(t, back, tc.cookies...); code != tc.want || !strings.Contains(b, "Authorization failed") || status() != "pending" {
			t.Errorf("%s: %d %s, status %s", tc.name, code, b, status())
		}
	}
	// Bob signed in in the browser that started alice's flow: refused, nothing stored.
	if code, b := e.page(t, back, binding, session("bob")); code != 403 || status() != "pending" {
		t.Fatalf("return in bob's session: %d %s, status %s", code, b, status())
	}
	// Alice starts again and completes; a second flow in the same browser reuses the binding cookie, so
	// both complete.
	_, authURL2 := e.create(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	to1 := e.restart(t, "alice", publicURL+"/api/provider/v1/connectors/"+id+"/start", binding)
	to2 := e.restart(t, "alice", authURL2, binding)
	back1, back2 := e.atProvider(t, to1), e.atProvider(t, to2)
	if resp := e.visit(t, back1, binding, session("alice")); resp.StatusCode != 303 || resp.Header.Get("Location") != "/flows/done" || status() != "active" {
		t.Fatalf("owner's return: %d %q, status %s", resp.StatusCode, resp.Header.Get("Location"), status())
	}
	if code, b := e.page(t, back2, binding); code != 200 {
		t.Fatalf("second flow's return: %d %s", code, b)
	}
}

// restart opens a start URL in a browser that already holds binding and checks it is kept.
func (e *env) restart(t *testing.T, tok, authURL string, binding *http.Cookie) string {
	t.Helper()
	resp := e.visit(t, authURL, session(tok), binding)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start = %d %s", resp.StatusCode, resp.Header.Get("X-Body"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == server.SecureBindingCookie && c.Value != binding.Value {
			t.Fatalf("start replaced the browser's binding cookie")
		}
	}
	return resp.Header.Get("Location")
}

// A returnTo stored before today's rules is checked again at the redirect: an unsafe one is not followed.
func TestStoredReturnToCheckedAtRedirect(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, to, binding := e.begin(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData", "returnTo": "/flows/done"}`)
	if _, err := e.store.UpdateConnector(context.Background(), id, func(c provider.Connector) (provider.Connector, error) {
		c.ReturnTo = "/\t/evil.example"
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	resp := e.visit(t, e.atProvider(t, to), binding)
	if resp.StatusCode != 200 || resp.Header.Get("Location") != "" || !strings.Contains(resp.Header.Get("X-Body"), "Connected") {
		t.Fatalf("return with an unsafe stored returnTo: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
