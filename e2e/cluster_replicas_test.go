package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two one-process replicas on one etcd cluster behave as one server: what is written through one is served by
// the other within a second (at once when the request carries the write's Authsuite-Revision), and what may
// happen only once happens once even when both replicas are asked at the same moment.

// TestClusterClientFromAGetsTokensAtB: a client created through replica A gets tokens at replica B within a
// second by B's watch alone, and on the first request when that request carries the revision the secret's
// creation answered. A token B issued verifies at A (one signing key set). A malformed Authsuite-Revision is
// refused naming the header; a service the replica does not know is ignored.
func TestClusterClientFromAGetsTokensAtB(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	admin := clientToken(t, a, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "tenant", a.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme"}), 201)["tenantId"].(string)
	const body = "grant_type=client_credentials"

	// Without the barrier: B learns the client from its watch of the registry.
	secret, _ := createClient(t, a, admin, tenant, "billing")
	took := within(t, time.Second, "billing's token at B", func() bool { return b.form("/connect/token", body, "billing", secret).status == 200 })
	t.Logf("a client created at A got a token at B after %s without the barrier", took.Round(time.Microsecond))

	// With the barrier: the first request at B succeeds, for each of several clients.
	var worst time.Duration
	for i := range 5 {
		id := fmt.Sprintf("svc-%d", i)
		secret, rev := createClient(t, a, admin, tenant, id)
		began := time.Now()
		expect(t, id+"'s first token at B with "+rev, b.formWith("/connect/token", body, id, secret, barrierHeader, rev), 200)
		worst = max(worst, time.Since(began))
	}
	t.Logf("with the barrier, the first token request at B succeeded every time; slowest answer %s", worst.Round(time.Microsecond))

	tok := expect(t, "token at B", b.form("/connect/token", body, "billing", secret), 200)["access_token"].(string)
	expect(t, "B's token checked at A", a.call("GET", "/api/oauth2/server/tokens/check?token="+tok, "", nil), 200)

	r := b.formWith("/connect/token", body, "billing", secret, barrierHeader, "registry:not-a-number")
	if r.status != 400 || !strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(barrierHeader)) {
		t.Fatalf("malformed %s: %d %s, want 400 naming the header", barrierHeader, r.status, r.body)
	}
	expect(t, "an unknown service in the barrier", b.formWith("/connect/token", body, "billing", secret, barrierHeader, "elsewhere:99999999, registry:1"), 200)
}

// clusterSignin is the sign-in fixture created through replica a, with its clients known at b too.
func clusterSignin(t *testing.T, a, b *suite) *signinFixture {
	t.Helper()
	f := signinFixtureOn(t, a)
	for id, secret := range map[string]string{"web": f.webSecret, "legacy": f.ropcSecret} {
		eventually(t, time.Second, id+" known at B", func() bool {
			return b.form("/connect/token", "grant_type=authorization_code&code=x&redirect_uri=x", id, secret).status == 400
		})
	}
	return f
}

// both sends one request to each of a and b at the same moment and returns their answers in that order.
func both(t *testing.T, a, b *suite, send func(s *suite) (response, error)) [2]response {
	t.Helper()
	var answers [2]response
	var errs [2]error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range []*suite{a, b} {
		wg.Go(func() {
			<-start
			answers[i], errs[i] = send(s)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return answers
}

// TestClusterCodeRedeemedOnce (RFC 6749 §4.1.2: a code is used once): an authorization code redeemed at A
// and at B at the same moment is exchanged exactly once; the other exchange is invalid_grant.
func TestClusterCodeRedeemedOnce(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	f := clusterSignin(t, a, b)
	wins := [2]int{}
	for round := range 6 {
		verifier, ch := pkce()
		code := f.codeFor(t, newBrowser(t), "web", "openid", ch)
		body := codeExchange(code, verifier, f.callback).Encode()
		answers := both(t, a, b, func(s *suite) (response, error) { return tryForm(s.base, "/connect/token", body, "web", f.webSecret) })
		ok := 0
		for i, r := range answers {
			switch r.status {
			case 200:
				ok++
				wins[i]++
			case 400:
				expect(t, fmt.Sprintf("round %d: the losing exchange", round), r, 400, "invalid_grant")
			default:
				t.Fatalf("round %d: exchange answered %d %s", round, r.status, r.body)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d exchanges of one code succeeded, want exactly 1 (A answered %d, B %d)", round, ok, answers[0].status, answers[1].status)
		}
	}
	t.Logf("one code redeemed at A and B at once, 6 times: A won %d, B won %d, never both", wins[0], wins[1])
}

// TestClusterRefreshRotatedOnce (RFC 9700 §4.14.2 with the retry window the single-node tests hold): a refresh
// token presented at A and B at the same moment is rotated once, and every presentation gets that one
// successor; a token two rotations back, presented at either replica, is a reuse that revokes the family, and
// both replicas refuse its tokens afterwards.
func TestClusterRefreshRotatedOnce(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	f := clusterSignin(t, a, b)
	rt0 := f.legacyTokens(t, "openid offline_access").RefreshToken
	refresh := func(s *suite) (response, error) {
		return tryForm(s.base, "/connect/token", refreshGrant(rt0, "").Encode(), "legacy", f.ropcSecret)
	}
	var rt1 string
	var access []string
	for round := range 3 { // several simultaneous pairs, all presenting rt0: one rotation in all
		for i, r := range both(t, a, b, refresh) {
			got := decodeToken(t, fmt.Sprintf("round %d, replica %d", round, i), r, 200)
			if rt1 == "" {
				rt1 = got.RefreshToken
			}
			if got.RefreshToken != rt1 || rt1 == "" || rt1 == rt0 {
				t.Fatalf("round %d: simultaneous refreshes at A and B got different or no successors: rotated more than once", round)
			}
			access = append(access, got.AccessToken)
		}
	}
	r2 := decodeToken(t, "rotating the successor at B", b.form("/connect/token", refreshGrant(rt1, "").Encode(), "legacy", f.ropcSecret), 200)
	access = append(access, r2.AccessToken)
	expect(t, "an access token of the family at A", a.call("GET", "/api/oauth2/server/tokens/check?token="+r2.AccessToken, "", nil), 200)

	// rt0 is two rotations back: presenting it at A is a reuse, which burns the family everywhere.
	if e := decodeToken(t, "reuse at A", a.form("/connect/token", refreshGrant(rt0, "").Encode(), "legacy", f.ropcSecret), 400); e.Error != "invalid_grant" {
		t.Fatalf("reuse at A: error %q, want invalid_grant", e.Error)
	}
	for name, s := range map[string]*suite{"A": a, "B": b} {
		if e := decodeToken(t, "the newest token at "+name, s.form("/connect/token", refreshGrant(r2.RefreshToken, "").Encode(), "legacy", f.ropcSecret), 400); e.Error != "invalid_grant" {
			t.Fatalf("the newest refresh token at %s after the reuse: error %q, want invalid_grant", name, e.Error)
		}
		for _, at := range access {
			eventually(t, time.Second, "the family's access tokens refused at "+name, func() bool {
				return s.call("GET", "/api/oauth2/server/tokens/check?token="+at, "", nil).status == 400
			})
		}
	}
}

// TestClusterSignInAcrossReplicas: the sign-in is state in the store, not in a replica: the authorization
// request is made at A, the login form is posted to B, consent is given at A and the code is redeemed at B;
// the SSO session this made at B signs the browser in at A without a login page.
func TestClusterSignInAcrossReplicas(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	f := clusterSignin(t, a, b)
	br := newBrowser(t)
	verifier, ch := pkce()
	p := br.get(f.authorizeURL("web", "openid profile", "st", "n-1", ch)) // f's base is A
	if !p.isLogin() {
		t.Fatalf("authorize at A: status %d location %q, want the login page", p.status, p.location)
	}
	p = br.login(b.base, p, "alice", alicePassword)
	if p.isConsent() {
		p = br.consent(a.base, p, true, false)
	}
	q := redirectParams(t, p, f.callback)
	if q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("redirect without code or state: %v", q)
	}
	tok := decodeToken(t, "exchange at B", b.form("/connect/token", codeExchange(q.Get("code"), verifier, f.callback).Encode(), "web", f.webSecret), 200)
	if strings.Count(tok.IDToken, ".") != 2 {
		t.Fatalf("exchange at B: no ID token in %+v", tok)
	}
	claims, err := jsonSegment(tok.IDToken, 1)
	if err != nil || claims["sub"] != f.aliceID || claims["nonce"] != "n-1" {
		t.Fatalf("ID token from the exchange at B: %v %v, want alice's with the nonce", claims, err)
	}

	// The SSO session lives in the store: at A, the browser is signed in already.
	_, ch2 := pkce()
	again := br.get(f.authorizeURL("spa", "openid", "st2", "n-2", ch2)) // spa asks no consent
	if q := redirectParams(t, again, f.callback); q.Get("code") == "" {
		t.Fatalf("second authorization at A: %v, want a code without a login page", q)
	}
}
