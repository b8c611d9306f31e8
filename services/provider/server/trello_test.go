package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/services/provider/oauth1"
	"github.com/authsuite/authsuite/services/provider/server"
)

// The fake Trello's client credentials. The secret holds characters that §3.6 encodes, so a signer that
// skips the encoding of the HMAC key fails.
const trelloKey, trelloSecret = "trello-key", "tr&llo=s3cret/+"

// fakeTrello is an OAuth 1.0a server (RFC 5849) with Trello's three endpoints and one protected resource.
// It verifies every signed request on its own — its §3.4.1 base string and §3.6 encoding are written
// independently of package oauth1 — and refuses bad signatures, unknown consumers or tokens, stale
// timestamps and reused nonces with 401 and a plain-text reason, as Trello does.
type fakeTrello struct {
	*httptest.Server
	clock    *clock
	mu       sync.Mutex
	n        int
	temp     map[string]*tempCred // temporary oauth_token → credentials
	access   map[string]string    // token credentials: oauth_token → secret
	nonces   map[string]bool
	verified int // signed requests accepted
	refused  []string
}

type tempCred struct {
	secret, callback, verifier string
}

func newFakeTrello(t testing.TB, c *clock) *fakeTrello {
	f := &fakeTrello{clock: c, temp: map[string]*tempCred{}, access: map[string]string{}, nonces: map[string]bool{}}
	mux := http.NewServeMux()
	// §2.1: temporary credentials, signed with the client secret and an empty token secret.
	mux.HandleFunc("POST /1/OAuthGetRequestToken", func(w http.ResponseWriter, r *http.Request) {
		p, ok := f.verify(w, r, func(tok string) (string, bool) { return "", tok == "" })
		if !ok {
			return
		}
		if p["oauth_callback"] == "" {
			f.refuse(w, 400, "oauth_callback missing")
			return
		}
		f.mu.Lock()
		f.n++
		tok, sec := fmt.Sprintf("temp-%d", f.n), fmt.Sprintf("tsec-%d/&=", f.n)
		f.temp[tok] = &tempCred{secret: sec, callback: p["oauth_callback"]}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		io.WriteString(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {sec}, "oauth_callback_confirmed": {"true"}}.Encode())
	})
	// §2.2: the user approves; the browser goes back to the callback with the token and a verifier.
	mux.HandleFunc("GET /1/OAuthAuthorizeToken", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("name") == "" || q.Get("scope") != "read,write" || q.Get("expiration") != "never" {
			http.Error(w, "bad authorization request", 400)
			return
		}
		f.mu.Lock()
		tc, ok := f.temp[q.Get("oauth_token")]
		if ok && tc.verifier == "" {
			f.n++
			tc.verifier = fmt.Sprintf("ver-%d", f.n)
		}
		f.mu.Unlock()
		if !ok {
			http.Error(w, "unknown oauth_token", 400)
			return
		}
		sep := "?"
		if strings.Contains(tc.callback, "?") {
			sep = "&"
		}
		http.Redirect(w, r, tc.callback+sep+url.Values{"oauth_token": {q.Get("oauth_token")}, "oauth_verifier": {tc.verifier}}.Encode(), http.StatusFound)
	})
	// §2.3: token credentials, signed with the client secret and the temporary secret; the temporary
	// credentials are used once.
	mux.HandleFunc("POST /1/OAuthGetAccessToken", func(w http.ResponseWriter, r *http.Request) {
		p, ok := f.verify(w, r, func(tok string) (string, bool) {
			tc, ok := f.temp[tok]
			if !ok {
				return "", false
			}
			return tc.secret, true
		})
		if !ok {
			return
		}
		f.mu.Lock()
		tc := f.temp[p["oauth_token"]]
		if tc == nil || tc.verifier == "" || !hmac.Equal([]byte(tc.verifier), []byte(p["oauth_verifier"])) {
			f.mu.Unlock()
			f.refuse(w, 401, "invalid verifier")
			return
		}
		delete(f.temp, p["oauth_token"])
		f.n++
		tok, sec := fmt.Sprintf("acc-%d", f.n), fmt.Sprintf("asec-%d~!", f.n)
		f.access[tok] = sec
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		io.WriteString(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {sec}}.Encode())
	})
	// A protected resource (§3): proves the stored token credentials sign requests.
	mux.HandleFunc("GET /1/members/me", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := f.verify(w, r, func(tok string) (string, bool) { s, ok := f.access[tok]; return s, ok }); ok {
			io.WriteString(w, `{"id":"me"}`)
		}
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// counts reports, under the lock, how many signed requests were accepted and the refusals so far.
func (f *fakeTrello) counts() (verified int, refused []string, temp, access int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verified, append([]string(nil), f.refused...), len(f.temp), len(f.access)
}

func (f *fakeTrello) refuse(w http.ResponseWriter, code int, reason string) {
	f.mu.Lock()
	f.refused = append(f.refused, reason)
	f.mu.Unlock()
	http.Error(w, reason, code)
}

// fakeEncode is RFC 5849 §3.6 as the fake computes it: Go's query escaping keeps exactly the unreserved
// characters; only its "+" for a space must become "%20".
func fakeEncode(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// verify checks an OAuth 1.0a request (RFC 5849 §3.2): Authorization header syntax (§3.5.1), no duplicated
// protocol parameter, the consumer key, HMAC-SHA1, a timestamp within five minutes of the clock, a nonce
// not used before with that timestamp and token (§3.3), the token (secretOf answers its secret under f.mu)
// and the signature recomputed from the base string (§3.4.1) with the client and token secrets (§3.4.2).
// It answers the refusal itself and returns the decoded protocol parameters.
func (f *fakeTrello) verify(w http.ResponseWriter, r *http.Request, secretOf func(token string) (string, bool)) (map[string]string, bool) {
	p, err := parseOAuthHeader(r.Header.Get("Authorization"))
	if err != nil {
		f.refuse(w, 400, err.Error())
		return nil, false
	}
	if p["oauth_consumer_key"] != trelloKey {
		f.refuse(w, 401, "invalid key")
		return nil, false
	}
	if p["oauth_signature_method"] != "HMAC-SHA1" || (p["oauth_version"] != "" && p["oauth_version"] != "1.0") {
		f.refuse(w, 400, "unsupported signature method or version")
		return nil, false
	}
	ts, err := strconv.ParseInt(p["oauth_timestamp"], 10, 64)
	if err != nil || ts <= 0 || f.clock.Now().Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		f.refuse(w, 401, "stale timestamp")
		return nil, false
	}
	f.mu.Lock()
	tokenSecret, ok := secretOf(p["oauth_token"])
	nonceKey := p["oauth_nonce"] + "\x00" + p["oauth_timestamp"] + "\x00" + p["oauth_token"]
	used := f.nonces[nonceKey]
	f.nonces[nonceKey] = true
	f.mu.Unlock()
	if !ok {
		f.refuse(w, 401, "invalid token")
		return nil, false
	}
	if p["oauth_nonce"] == "" || used {
		f.refuse(w, 401, "invalid or used nonce")
		return nil, false
	}
	// §3.4.1.3.1: query, protocol parameters (not realm or oauth_signature), form body.
	var pairs []string
	for name, vals := range r.URL.Query() {
		for _, v := range vals {
			pairs = append(pairs, fakeEncode(name)+"="+fakeEncode(v))
		}
	}
	for name, v := range p {
		if name != "realm" && name != "oauth_signature" {
			pairs = append(pairs, fakeEncode(name)+"="+fakeEncode(v))
		}
	}
	if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		r.ParseForm()
		for name, vals := range r.PostForm {
			for _, v := range vals {
				pairs = append(pairs, fakeEncode(name)+"="+fakeEncode(v))
			}
		}
	}
	sort.Strings(pairs) // "=" sorts below every unreserved character and "%", so this is §3.4.1.3.2's order
	base := r.Method + "&" + fakeEncode("http://"+strings.ToLower(r.Host)+r.URL.EscapedPath()) + "&" + fakeEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(fakeEncode(trelloSecret)+"&"+fakeEncode(tokenSecret)))
	mac.Write([]byte(base))
	got, err := base64.StdEncoding.DecodeString(p["oauth_signature"])
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		f.refuse(w, 401, "invalid signature")
		return nil, false
	}
	f.mu.Lock()
	f.verified++
	f.mu.Unlock()
	return p, true
}

// parseOAuthHeader decodes `OAuth name="value", …` (RFC 5849 §3.5.1), refusing duplicates.
func parseOAuthHeader(h string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		return nil, errors.New("no OAuth authorization")
	}
	p := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		name, quoted, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
			return nil, errors.New("malformed authorization header")
		}
		n, err1 := url.PathUnescape(name)
		v, err2 := url.PathUnescape(quoted[1 : len(quoted)-1])
		if err1 != nil || err2 != nil {
			return nil, errors.New("malformed authorization header")
		}
		if _, dup := p[n]; dup {
			return nil, errors.New("duplicated protocol parameter")
		}
		p[n] = v
	}
	return p, nil
}

func (e *env) trelloConfig(name, secret string) string {
	return fmt.Sprintf(`{"oauthConfigurations": {"trello": {%q: {"CONSUMER_KEY": %q, "CONSUMER_SECRET": %q}}}}`, name, trelloKey, secret)
}

func TestTrelloRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.trelloConfig("Trello", trelloSecret))
	id, back := e.authorize(t, "alice", `{"connectorType": "trello", "oauthProvider": "Trello", "returnTo": "/done"}`)
	if back.StatusCode != http.StatusSeeOther || back.Header.Get("Location") != "/done" {
		t.Fatalf("return = %d %s", back.StatusCode, back.Header.Get("Location"))
	}
	// Both signed requests (temporary credentials, token credentials) passed the fake's verification, and
	// the temporary credentials were used once.
	if verified, refused, temp, access := e.trello.counts(); verified != 2 || len(refused) != 0 || temp != 0 || access != 1 {
		t.Fatalf("fake verified %d requests, refused %q, holds %d temporary and %d token credentials", verified, refused, temp, access)
	}
	code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", "")
	var got struct {
		Status string
		Scopes []string
	}
	mustJSON(t, b, &got)
	if code != 200 || got.Status != "active" || strings.Join(got.Scopes, ",") != "read,write" {
		t.Fatalf("connector = %d %s", code, b)
	}
	// REST: the token, type OAuth1, no lifetime, never the secret.
	code, b = e.rest(t, "POST", "/api/provider/v1/connectors/"+id+"/token", "alice", `{}`)
	var tok map[string]any
	mustJSON(t, b, &tok)
	if code != 200 || len(tok) != 3 || tok["access_token"] != "acc-3" || tok["token_type"] != "OAuth1" || tok["expires_in"] != 0.0 {
		t.Fatalf("REST token = %d %s", code, b)
	}
	// gRPC (internal): the token credentials; they sign a request the fake accepts.
	r, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id})
	if err != nil || r.GetAccessToken() != "acc-3" || r.GetTokenSecret() != "asec-3~!" || r.GetConsumerKey() != trelloKey ||
		r.GetTokenType() != "OAuth1" || r.GetExpiresIn() != 0 || strings.Join(r.GetScopes(), ",") != "read,write" {
		t.Fatalf("GetAccessToken = %v, %v", r, err)
	}
	req, _ := http.NewRequest("GET", e.trello.URL+"/1/members/me?fields=id", nil)
	c := oauth1.Client{ConsumerKey: r.GetConsumerKey(), ConsumerSecret: trelloSecret, Now: e.clock.Now}
	if err := c.Sign(req, nil, r.GetAccessToken(), r.GetTokenSecret()); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		_, refused, _, _ := e.trello.counts()
		t.Fatalf("signed resource request = %v %v (refused %q)", resp, err, refused)
	}
	// Stored only sealed: neither the token nor its secret is in the stored connector.
	con, err := e.store.GetConnector(t.Context(), id)
	if err != nil || bytes.Contains(con.SealedGrant, []byte("acc-3")) || bytes.Contains(con.SealedGrant, []byte("asec-3")) {
		t.Fatalf("stored grant is not sealed: %q %v", con.SealedGrant, err)
	}
	// OAuth 1.0a tokens do not expire: a year later, the same token, no provider call.
	e.clock.Advance(365 * 24 * time.Hour)
	verified, _, _, _ := e.trello.counts()
	if r, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id}); err != nil || r.GetAccessToken() != "acc-3" {
		t.Fatalf("a year later = %v %v", r, err)
	}
	if now, _, _, _ := e.trello.counts(); now != verified {
		t.Fatal("getting an OAuth 1.0a token called the provider")
	}
	// Replaying the return changes nothing.
	if code, b := e.page(t, back.Header.Get("X-Return-URL")); code != 400 || !strings.Contains(b, "unknown, expired or already used") {
		t.Fatalf("replay = %d %s", code, b)
	}
	if r, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id}); err != nil || r.GetAccessToken() != "acc-3" {
		t.Fatalf("after replay = %v %v", r, err)
	}
	// Others cannot use alice's session connector; deletion drops the credentials.
	if code, _ := e.rest(t, "POST", "/api/provider/v1/connectors/"+id+"/token", "bob", `{}`); code != 404 {
		t.Fatalf("bob's token request = %d", code)
	}
	if code, b := e.rest(t, "DELETE", "/api/provider/v1/connectors/"+id, "alice", ""); code != 200 {
		t.Fatalf("delete = %d %s", code, b)
	}
	if _, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("token after delete = %v", err)
	}
}

// A wrong consumer secret gives a signature the fake refuses: the start step fails with the provider's
// reason, and the connector stays pending.
func TestTrelloBadSignatureRefused(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.trelloConfig("Wrong", "not-the-secret"))
	id, authURL := e.create(t, "alice", `{"connectorType": "trello", "oauthProvider": "Wrong"}`)
	if code, b := e.page(t, authURL, session("alice")); code != 400 || !strings.Contains(b, "invalid signature") {
		t.Fatalf("start with a wrong secret = %d %s", code, b)
	}
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", ""); code != 200 || !strings.Contains(b, `"status":"pending"`) {
		t.Fatalf("connector after a refused start = %d %s", code, b)
	}
	// The fake itself refuses a tampered signature and a replayed nonce.
	e.mustLoad(t, e.trelloConfig("Trello", trelloSecret))
	id, _ = e.authorize(t, "alice", `{"connectorType": "trello", "oauthProvider": "Trello"}`)
	r, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tokenSecret string
		nonce             string
		want              int
	}{
		{"good", r.GetTokenSecret(), "n1", 200},
		{"replayed nonce", r.GetTokenSecret(), "n1", 401},
		{"wrong token secret", r.GetTokenSecret() + "x", "n2", 401},
	} {
		req, _ := http.NewRequest("GET", e.trello.URL+"/1/members/me", nil)
		c := oauth1.Client{ConsumerKey: trelloKey, ConsumerSecret: trelloSecret, Now: e.clock.Now, Nonce: func() string { return tc.nonce }}
		c.Sign(req, nil, r.GetAccessToken(), tc.tokenSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func TestTrelloForgedReplayedExpiredToken(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.trelloConfig("Trello", trelloSecret))
	e.mustLoad(t, e.odataConfig("OData"))
	start := func(body string) (id, authURL string, binding *http.Cookie) {
		return e.begin(t, "alice", body)
	}
	statusOf := func(id string) string {
		_, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", "")
		var c struct{ Status string } // the response body is the connector
		mustJSON(t, b, &c)
		return c.Status
	}
	returnURL := e.gw.URL + server.ReturnPath

	pending, authURL, binding := start(`{"connectorType": "trello", "oauthProvider": "Trello"}`)
	u, _ := url.Parse(authURL)
	if !strings.HasPrefix(authURL, e.trello.URL+"/1/OAuthAuthorizeToken?") || u.Query().Get("oauth_token") == "" ||
		u.Query().Get("scope") != "read,write" || u.Query().Get("expiration") != "never" || u.Query().Get("name") != "authsuite" || u.Query().Get("state") != "" {
		t.Fatalf("authorization URL = %s", authURL)
	}
	odata, odataURL, _ := start(`{"connectorType": "odata", "oauthProvider": "OData"}`)
	ou, _ := url.Parse(odataURL)
	for _, tc := range []struct{ name, query string }{
		{"forged oauth_token", "oauth_token=temp-999&oauth_verifier=ver-1"},
		{"an OAuth 2.0 state as oauth_token", url.Values{"oauth_token": {ou.Query().Get("state")}, "oauth_verifier": {"x"}}.Encode()},
		{"the trello oauth_token as state", url.Values{"state": {u.Query().Get("oauth_token")}, "code": {"x"}}.Encode()},
		{"oversized oauth_token", "oauth_token=" + strings.Repeat("a", 600) + "&oauth_verifier=x"},
	} {
		if code, b := e.page(t, returnURL+"?"+tc.query, binding); code != 400 || !strings.Contains(b, "Authorization failed") {
			t.Errorf("%s = %d %s", tc.name, code, b)
		}
	}
	// Nothing changed: both connectors are still pending, and the real return still completes.
	if statusOf(pending) != "pending" || statusOf(odata) != "pending" {
		t.Fatalf("statuses after forgeries: %s %s", statusOf(pending), statusOf(odata))
	}
	back := e.atProvider(t, authURL)
	// The return in a browser without the binding cookie, or with another one, finds nothing.
	if code, b := e.page(t, back); code != 400 || statusOf(pending) != "pending" {
		t.Fatalf("return without the binding cookie = %d %s, status %s", code, b, statusOf(pending))
	}
	if code, b := e.page(t, back, &http.Cookie{Name: server.SecureBindingCookie, Value: strings.Repeat("A", 43)}); code != 400 || statusOf(pending) != "pending" {
		t.Fatalf("return with a wrong binding cookie = %d %s, status %s", code, b, statusOf(pending))
	}
	if code, b := e.page(t, back, binding); code != 200 || statusOf(pending) != "active" {
		t.Fatalf("return = %d %s, status %s", code, b, statusOf(pending))
	}
	// Replayed.
	if code, b := e.page(t, back, binding); code != 400 || !strings.Contains(b, "unknown, expired or already used") {
		t.Fatalf("replay = %d %s", code, b)
	}

	// Expired: the provider redirects back after StateTTL.
	expired, authURL, binding := start(`{"connectorType": "trello", "oauthProvider": "Trello"}`)
	back = e.atProvider(t, authURL)
	e.clock.Advance(server.StateTTL + time.Second)
	if code, b := e.page(t, back, binding); code != 400 || !strings.Contains(b, "unknown, expired or already used") {
		t.Fatalf("expired = %d %s", code, b)
	}
	if statusOf(expired) != "failed" {
		t.Fatalf("expired connector is %s", statusOf(expired))
	}

	// Declined (no verifier) and a wrong verifier (the fake refuses the exchange): failed, not active.
	declined, authURL, binding := start(`{"connectorType": "trello", "oauthProvider": "Trello"}`)
	du, _ := url.Parse(authURL)
	if code, _ := e.page(t, returnURL+"?oauth_token="+url.QueryEscape(du.Query().Get("oauth_token")), binding); code != 400 || statusOf(declined) != "failed" {
		t.Fatalf("declined = %d, status %s", code, statusOf(declined))
	}
	wrong, authURL, binding := start(`{"connectorType": "trello", "oauthProvider": "Trello"}`)
	loc, _ := url.Parse(e.atProvider(t, authURL))
	q := loc.Query()
	q.Set("oauth_verifier", "forged")
	if code, b := e.page(t, returnURL+"?"+q.Encode(), binding); code != 400 || !strings.Contains(b, "invalid verifier") || statusOf(wrong) != "failed" {
		t.Fatalf("wrong verifier = %d %s, status %s", code, b, statusOf(wrong))
	}
}

func TestTrelloDeleteOAuthTokens(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.trelloConfig("Trello", trelloSecret))
	a, _ := e.authorize(t, "alice", `{"connectorType": "trello", "oauthProvider": "Trello"}`)
	b, _ := e.authorize(t, "bob", `{"connectorType": "trello", "oauthProvider": "Trello"}`)
	code, body := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens", "sys-admin", `{"oauthProvider": "Trello", "userName": "alice.login"}`)
	if code != 200 || !strings.Contains(body, `"deletedCount":1`) {
		t.Fatalf("DeleteOAuthTokens = %d %s", code, body)
	}
	if _, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: a}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("alice's token after drop: %v", err)
	}
	con, err := e.store.GetConnector(t.Context(), a)
	if err != nil || con.SealedGrant != nil || con.Status != "revoked" {
		t.Errorf("alice's connector after drop: %+v %v", con, err)
	}
	if r, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: b}); err != nil || r.GetTokenSecret() == "" {
		t.Errorf("bob's token after dropping alice's: %v %v", r, err)
	}
}
