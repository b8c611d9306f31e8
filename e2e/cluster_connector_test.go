package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// thirdParty is a third-party OAuth provider on loopback: /authorize sends the browser back with a code,
// /token exchanges it for an access token that is already too close to expiry to be used (expires_in 1, so
// every use refreshes) and answers refreshes with an hour-long one, counting every refresh request; while held,
// refresh answers wait for release.
type thirdParty struct {
	*httptest.Server
	mu        sync.Mutex
	n         int
	codes     map[string]bool
	refresh   map[string]bool
	refreshes atomic.Int32
	first     chan struct{} // closed when the first refresh arrives
	firstOnce sync.Once
	release   chan struct{} // when not nil, refresh answers wait until it is closed
	relOnce   sync.Once
}

func newThirdParty(t testing.TB) *thirdParty {
	p := &thirdParty{codes: map[string]bool{}, refresh: map[string]bool{}, first: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("state") == "" || q.Get("redirect_uri") == "" {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.n++
		code := fmt.Sprintf("code-%d", p.n)
		p.codes[code] = true
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		expiresIn := 3600
		p.mu.Lock()
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			if !p.codes[r.PostForm.Get("code")] {
				p.mu.Unlock()
				tokenError(w, "invalid_grant")
				return
			}
			delete(p.codes, r.PostForm.Get("code"))
			expiresIn = 1
		case "refresh_token":
			p.refreshes.Add(1) // every refresh request counts, a replay of a spent refresh token too
			p.firstOnce.Do(func() { close(p.first) })
			if rel := p.release; rel != nil {
				p.mu.Unlock()
				<-rel
				p.mu.Lock()
			}
			if !p.refresh[r.PostForm.Get("refresh_token")] {
				p.mu.Unlock()
				tokenError(w, "invalid_grant")
				return
			}
			delete(p.refresh, r.PostForm.Get("refresh_token"))
		default:
			p.mu.Unlock()
			tokenError(w, "unsupported_grant_type")
			return
		}
		p.n++
		at, rt := fmt.Sprintf("at-%d", p.n), fmt.Sprintf("rt-%d", p.n)
		p.refresh[rt] = true
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d,"refresh_token":%q,"scope":"READ_PRIVILEGES"}`, at, expiresIn, rt)
	})
	mux.HandleFunc("GET /validate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true}`)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		p.releaseAll()
		p.Close()
	})
	return p
}

func tokenError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// hold makes refresh answers wait until releaseAll.
func (p *thirdParty) hold() {
	p.mu.Lock()
	p.release = make(chan struct{})
	p.mu.Unlock()
}

func (p *thirdParty) releaseAll() {
	p.mu.Lock()
	rel := p.release
	p.mu.Unlock()
	if rel != nil {
		p.relOnce.Do(func() { close(rel) })
	}
}

// onReplica points u (an issuer URL, as authsuite writes them) at replica s.
func onReplica(t testing.TB, u string, s *suite) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(s.base)
	pu.Scheme, pu.Host = base.Scheme, base.Host
	return pu.String()
}

// TestClusterConnectorRefreshOnce: a connector authorized across the replicas (started at A, the provider's
// redirect returned to B) whose access token must be refreshed, asked for by 50 concurrent callers spread over
// both replicas, is refreshed once at the provider: every caller gets that one new token. The provider holds
// its refresh answer until all 50 requests have been sent, so every caller asks while the refresh is running.
func TestClusterConnectorRefreshOnce(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	f := &connectorFixture{signinFixture: clusterSignin(t, a, b)}
	p := newThirdParty(t)
	cfg := map[string]any{"oauthConfigurations": map[string]any{"odata": map[string]any{"thirdparty": map[string]any{
		"CLIENT_ID": "client-1", "CLIENT_SECRET": "s3cret",
		"AUTH_URL": p.URL + "/authorize", "TOKEN_URL": p.URL + "/token", "REFRESH_URL": p.URL + "/token", "VALIDATE_URL": p.URL + "/validate",
		"oauth2_validate_headers": []string{`{"Authorization":"Bearer {access_token}"}`},
		"oauth2_params_scope":     []string{`{"READ":"READ_PRIVILEGES"}`},
	}}}}
	expect(t, "load the provider at A", a.call("POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration", f.adminToken, cfg), 200)
	alice := f.userToken(t, "alice", alicePassword)
	var created struct {
		ConnectorID      string `json:"connectorId"`
		AuthorizationURL string `json:"authorizationUrl"`
	}
	decodeJSON(t, expectRaw(t, "create the connector at A", a.call("POST", "/api/provider/v1/connectors", alice,
		map[string]any{"connectorType": "odata", "oauthProvider": "thirdparty", "kind": "session"}), 201), &created)
	id := created.ConnectorID

	br := newBrowser(t)
	f.signIn(t, br, "alice", alicePassword) // at A
	start := br.get(onReplica(t, created.AuthorizationURL, a))
	if start.status != http.StatusSeeOther || !strings.HasPrefix(start.location, p.URL+"/authorize?") {
		t.Fatalf("start at A: %d %q %s", start.status, start.location, start.body)
	}
	atProvider := br.get(start.location)
	if atProvider.status != http.StatusFound {
		t.Fatalf("at the provider: %d %s", atProvider.status, atProvider.body)
	}
	if done := br.get(onReplica(t, atProvider.location, b)); done.status != 200 {
		t.Fatalf("the return at B answered %d: %s", done.status, done.body)
	}
	if got := f.connectorStatus(t, alice, id); got != "active" {
		t.Fatalf("connector after the return at B, read at A: %s", got)
	}

	const n = 50
	p.hold()
	var written sync.WaitGroup
	written.Add(n)
	answers := make([]response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := []*suite{a, b}[i%2]
		wg.Go(func() {
			var once sync.Once
			sent := func() { once.Do(written.Done) }
			defer sent()
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent() }})
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/api/provider/v1/connectors/"+id+"/token", strings.NewReader("{}"))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+alice)
			answers[i], errs[i] = tryDo(req)
		})
	}
	written.Wait()
	select {
	case <-p.first:
	case <-time.After(10 * time.Second):
		p.releaseAll()
		wg.Wait()
		t.Fatalf("no refresh reached the provider while %d callers waited (answers: %d %s)", n, answers[0].status, answers[0].body)
	}
	p.releaseAll()
	wg.Wait()
	var first string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		tok := expect(t, fmt.Sprintf("caller %d (replica %c)", i, "AB"[i%2]), answers[i], 200)["access_token"]
		if i == 0 {
			first, _ = tok.(string)
		}
		if tok != first || first == "" {
			t.Fatalf("caller %d got %v, caller 0 got %q: more than one refresh answered", i, tok, first)
		}
	}
	if got := p.refreshes.Load(); got != 1 {
		t.Fatalf("%d refreshes at the provider for %d concurrent callers over two replicas, want 1", got, n)
	}
}
