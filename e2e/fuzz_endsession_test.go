package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// oidcFixture is a signed-in world for fuzzing the OIDC endpoints: the sign-in fixture, alice's ID token
// and access token for web (scopes openid profile email), and a cookie-less client that does not follow
// redirects, so every request is independent and changes no session.
type oidcFixture struct {
	*signinFixture
	idToken, accessToken string
	client               *http.Client
}

func newOIDCFixture(f *testing.F) *oidcFixture {
	sf := newSigninFixture(f)
	b := newBrowser(f)
	verifier, ch := pkce()
	code := sf.codeFor(f, b, "web", "openid profile email", ch)
	tok := expect(f, "exchange", sf.tokenForm("web", sf.webSecret, codeExchange(code, verifier, sf.callback)), 200)
	return &oidcFixture{signinFixture: sf, idToken: tok["id_token"].(string), accessToken: tok["access_token"].(string),
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// expand replaces the placeholders of a fuzzed input with this process's values ($IDT: the ID token, $AT:
// the access token, $BYE: web's registered post-logout URI, $RP: the relying party's origin), so seeds stay
// meaningful in every fuzz worker (each runs its own suite with its own keys).
func (o *oidcFixture) expand(s string) string {
	return strings.NewReplacer("$IDT", o.idToken, "$AT", o.accessToken, "$BYE", o.rp.URL+"/bye", "$RP", o.rp.URL).Replace(s)
}

// sameJWS reports whether tok is jws, or another spelling of its three base64url segments that decodes to
// the same bytes (trailing bits, ignored line breaks): such a token is the same token, so accepting it
// grants nothing new.
func sameJWS(tok, jws string) bool {
	if tok == jws {
		return true
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return false
		}
		parts[i] = base64.RawURLEncoding.EncodeToString(b)
	}
	return strings.Join(parts, ".") == jws
}

func (o *oidcFixture) get(t *testing.T, u string, header ...string) (*http.Response, []byte, bool) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, false
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, nil, false // the client refused to send it (e.g. a control character in a header)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body, true
}

// noMarkupEcho fails when an answer repeats a parameter value that holds markup and is not part of the
// pages' own text (baseline: pages fetched with harmless parameters): pages must escape what they quote.
func noMarkupEcho(t *testing.T, q url.Values, body []byte, baseline string) {
	t.Helper()
	for _, vs := range q {
		for _, v := range vs {
			if len(v) >= 3 && strings.ContainsAny(v, "<>\"") && strings.Contains(string(body), v) && !strings.Contains(baseline, v) {
				t.Fatalf("answer echoes %q unescaped: %s", v, body)
			}
		}
	}
}

// FuzzEndSession drives GET /connect/endsession (OpenID Connect RP-Initiated Logout 1.0 §2, §3) over
// loopback on a real suite with arbitrary parameters, including id_token_hint, from a browser without a
// session, and checks:
//   - nothing fails with a 5xx, and a page never echoes markup it was sent;
//   - an id_token_hint that is not this issuer's ID token (nor another spelling of its bytes) is refused
//     with 400 (§2: the OP must verify it), so a forged or altered hint redirects nowhere;
//   - a redirect goes only to web's registered post_logout_redirect_uri, asked for exactly, with the
//     request's state and nothing else added, and only when the request names web (client_id or a valid
//     hint) and repeats no parameter.
func FuzzEndSession(f *testing.F) {
	for _, s := range []string{
		"id_token_hint=$IDT&post_logout_redirect_uri=$BYE&state=af0ifjsldkj",
		"id_token_hint=$IDT",
		"client_id=web&post_logout_redirect_uri=$BYE&state=x",
		"client_id=spa&post_logout_redirect_uri=$BYE",
		"id_token_hint=$IDT&client_id=spa&post_logout_redirect_uri=$BYE",
		"post_logout_redirect_uri=$BYE",
		"client_id=web&post_logout_redirect_uri=$BYE/../evil",
		"client_id=web&post_logout_redirect_uri=$RP/bye%2F..%2Fx",
		"client_id=web&post_logout_redirect_uri=//evil.example",
		"id_token_hint=$IDT.x&post_logout_redirect_uri=$BYE",
		"id_token_hint=eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.&post_logout_redirect_uri=$BYE",
		"state=<script>alert(1)</script>&client_id=web&post_logout_redirect_uri=$BYE",
		"client_id=<b>x</b>&post_logout_redirect_uri=$BYE",
		"state=a&state=b&client_id=web&post_logout_redirect_uri=$BYE",
		"%zz", "", "ui_locales=fr&logout_hint=alice",
	} {
		f.Add(s, uint16(0), byte(0))
	}
	f.Add("id_token_hint=$IDX&post_logout_redirect_uri=$BYE", uint16(40), byte('A'))
	f.Add("id_token_hint=$IDX", uint16(300), byte('.'))
	o := newOIDCFixture(f)
	bye := o.rp.URL + "/bye"
	baseline := pageText(f, o.client, o.s.base+"/connect/endsession", o.s.base+"/connect/endsession?%zz",
		o.s.base+"/connect/endsession?id_token_hint=x", o.s.base+"/connect/endsession?client_id=web&post_logout_redirect_uri=x")
	f.Fuzz(func(t *testing.T, raw string, pos uint16, b byte) {
		raw = o.expand(raw)
		if strings.Contains(raw, "$IDX") {
			// $IDX: the ID token with one byte replaced.
			idx := []byte(o.idToken)
			idx[int(pos)%len(idx)] = b
			raw = strings.ReplaceAll(raw, "$IDX", url.QueryEscape(string(idx)))
		}
		if i := strings.IndexByte(raw, '#'); i >= 0 {
			raw = raw[:i] // a fragment never reaches the server
		}
		resp, body, sent := o.get(t, o.s.base+"/connect/endsession?"+raw)
		if !sent {
			return
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("endsession?%s: %d %s", raw, resp.StatusCode, body)
		}
		q, qerr := url.ParseQuery(raw)
		noMarkupEcho(t, q, body, baseline)
		if qerr != nil {
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("endsession with a malformed query %q answered %d", raw, resp.StatusCode)
			}
			return
		}
		hint := q.Get("id_token_hint")
		validHint := hint != "" && sameJWS(hint, o.idToken)
		if hint != "" && !validHint && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("endsession accepted the id_token_hint %q: %d %q", hint, resp.StatusCode, resp.Header.Get("Location"))
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			if loc != "" {
				t.Fatalf("a %d answer with Location %q", resp.StatusCode, loc)
			}
			return
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("redirect to an unparsable %q", loc)
		}
		target := *u
		target.RawQuery = ""
		names := q.Get("client_id") == "web" || (validHint && q.Get("client_id") == "") || (validHint && q.Get("client_id") == "web")
		repeated := false
		for _, vs := range q {
			repeated = repeated || len(vs) > 1
		}
		if target.String() != bye || q.Get("post_logout_redirect_uri") != bye || !names || repeated {
			t.Fatalf("endsession?%s redirected to %q", raw, loc)
		}
		want := url.Values{}
		if st := q.Get("state"); st != "" {
			want.Set("state", st)
		}
		if got := u.Query(); got.Encode() != want.Encode() {
			t.Fatalf("endsession?%s redirected with %v, want %v", raw, got, want)
		}
	})
}

// FuzzUserInfo drives GET /connect/userinfo (OIDC Core §5.3, RFC 6750) over loopback on a real suite with
// arbitrary bearer credentials and checks: 200 only for alice's access token (or another spelling of its
// bytes), with claims decoded into typed fields naming alice and released by scope (§5.4); anything else a
// 400 or 401 typed OAuth error with the RFC 6750 §3 Bearer challenge; never a 5xx.
func FuzzUserInfo(f *testing.F) {
	for _, s := range []string{"Bearer $AT", "bearer $AT", "Bearer $AT.x", "Bearer $IDT", "Bearer ", "Basic $AT", "Bearer a.b.c", "Bearer $AT\t", "BEARER  $AT "} {
		f.Add(s)
	}
	o := newOIDCFixture(f)
	f.Fuzz(func(t *testing.T, auth string) {
		auth = o.expand(auth)
		resp, body, sent := o.get(t, o.s.base+"/connect/userinfo", "Authorization", auth)
		if !sent {
			return
		}
		// What Go's server hands the gateway: the header value without surrounding blanks.
		scheme, cred, _ := strings.Cut(strings.TrimSpace(auth), " ")
		ok := strings.EqualFold(scheme, "Bearer") && sameJWS(strings.TrimSpace(cred), o.accessToken)
		if resp.StatusCode == http.StatusOK {
			var claims struct {
				Sub               string  `json:"sub"`
				PreferredUsername string  `json:"preferred_username"`
				Email             string  `json:"email"`
				EmailVerified     *bool   `json:"email_verified"`
				PhoneNumber       *string `json:"phone_number"`
			}
			if err := json.Unmarshal(body, &claims); err != nil {
				t.Fatalf("userinfo body %s: %v", body, err)
			}
			if !ok || claims.Sub != o.aliceID || claims.PreferredUsername != "alice" || claims.Email != "alice@acme.example" ||
				claims.EmailVerified == nil || claims.PhoneNumber != nil {
				t.Fatalf("userinfo with %q answered %s", auth, body)
			}
			return
		}
		if ok || resp.StatusCode >= 500 || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest) {
			t.Fatalf("userinfo with %q: %d %s", auth, resp.StatusCode, body)
		}
		var eb struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(body, &eb); err != nil || eb.Error == "" {
			t.Fatalf("userinfo error body %s: %v", body, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("401 without a Bearer challenge")
		}
	})
}

// pageText concatenates the bodies of GET urls: the pages' own text, for noMarkupEcho.
func pageText(f *testing.F, client *http.Client, urls ...string) string {
	var sb strings.Builder
	for _, u := range urls {
		resp, err := client.Get(u)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sb.Write(b)
	}
	return sb.String()
}
