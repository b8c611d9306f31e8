package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// receiver is a relying party's back-channel endpoint on loopback: it counts requests per path, and
// /redirect answers 302 to /backchannel.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{hits: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits[req.URL.Path]++
		r.mu.Unlock()
		if req.URL.Path == "/redirect" {
			http.Redirect(w, req, "/backchannel", http.StatusFound)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

// outboundFixture is a suite (strictOutbound: without --allow-private-outbound, as in production) with
// tenant acme, user alice and client web, whose backChannelLogoutUri is the receiver's path.
func outboundFixture(t *testing.T, strict bool, path string) (*signinFixture, *receiver) {
	t.Helper()
	s := &suite{t: t, dataDir: t.TempDir(), httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0", strictOutbound: strict}
	s.start()
	t.Cleanup(s.stop)
	rec := newReceiver(t)
	f := &signinFixture{s: s, rp: rec.srv, callback: rec.srv.URL + "/callback"}
	f.adminToken = clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	f.tenantID = expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", f.adminToken, map[string]any{"code": "acme"}), 201)["tenantId"].(string)
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	f.aliceID = expect(t, "alice", s.call("POST", base+"/users/", f.adminToken, map[string]any{"loginName": "alice", "password": alicePassword}), 201)["userId"].(string)
	expect(t, "web", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": "web", "allowedGrantTypes": []string{"authorization_code"}, "allowedScopes": []string{"openid"},
		"redirectUris": []string{f.callback}, "backChannelLogoutUri": rec.srv.URL + path,
	}), 201)
	f.webSecret = expect(t, "web secret", s.call("POST", base+"/clients/web/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	// The request carries the revision of the writes above (the suite's barrier): a bogus code is refused
	// as invalid_grant, not the client as invalid_client.
	expect(t, "web known", s.form("/connect/token", "grant_type=authorization_code&code=x&redirect_uri=x", "web", f.webSecret), 400, "invalid_grant")
	return f, rec
}

// logoutAndDrain signs alice in for web, logs her out with her ID token (so the logout is immediate and
// sends back-channel logout), then stops the suite, which waits for back-channel sends in flight.
func (f *signinFixture) logoutAndDrain(t *testing.T) {
	t.Helper()
	b := newBrowser(t)
	idt := f.signInWeb(t, b)
	if p := b.get(f.s.base + "/connect/endsession?" + url.Values{"id_token_hint": {idt}}.Encode()); p.status != 200 || p.isLogoutConfirmation() {
		t.Fatalf("logout with the session's ID token: %d %q", p.status, p.location)
	}
	f.s.stop()
}

// TestBackChannelLogoutRefusesLoopback: without --allow-private-outbound a
// backChannelLogoutUri on 127.0.0.1 is not sent (the address is refused when dialling).
func TestBackChannelLogoutRefusesLoopback(t *testing.T) {
	f, rec := outboundFixture(t, true, "/backchannel")
	f.logoutAndDrain(t)
	if n := rec.count("/backchannel"); n != 0 {
		t.Fatalf("back-channel logout sent to a loopback address %d times", n)
	}
}

// TestBackChannelLogoutDoesNotFollowRedirects: with private destinations allowed, a
// back-channel logout answered by a 302 is not followed.
func TestBackChannelLogoutDoesNotFollowRedirects(t *testing.T) {
	f, rec := outboundFixture(t, false, "/redirect")
	f.logoutAndDrain(t)
	if rec.count("/redirect") != 1 || rec.count("/backchannel") != 0 {
		t.Fatalf("sent to /redirect %d times, followed to /backchannel %d times; want 1 and 0", rec.count("/redirect"), rec.count("/backchannel"))
	}
}

// TestProviderFetchRefusesLoopback: without --allow-private-outbound, a provider whose
// TOKEN_URL is on 127.0.0.1 (here authsuite itself) gets no request: the connector's return fails with an
// error page, stores nothing, and the connector does not become active.
func TestProviderFetchRefusesLoopback(t *testing.T) {
	f := newConnectorFixture(t, 60)
	f.s.strictOutbound = true
	f.s.restart()
	alice := f.userToken(t, "alice", alicePassword)
	id, authURL := f.createConnector(t, alice, nil)
	b := newBrowser(t)
	f.signIn(t, b, "alice", alicePassword)
	ret := f.toReturn(t, b, authURL)
	p := b.get(ret)
	if p.status < 400 || !strings.Contains(p.body, "could not be reached") {
		t.Fatalf("return with a loopback TOKEN_URL answered %d: %s", p.status, p.body)
	}
	if st := f.connectorStatus(t, alice, id); st == "active" {
		t.Fatal("connector active after a refused token fetch")
	}
	if r := f.s.call("POST", "/api/provider/v1/connectors/"+id+"/token", alice, map[string]any{}); r.status == 200 {
		t.Fatalf("connector hands out a token: %s", r.body)
	}
}
