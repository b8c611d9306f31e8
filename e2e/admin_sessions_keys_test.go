package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The REST answers of the session and signing key admin APIs, decoded strictly: a field the API renames or
// adds fails the test.
type ssoSessionJSON struct {
	Sid        string    `json:"sid"`
	TenantID   string    `json:"tenantId"`
	UserID     string    `json:"userId"`
	LoginName  string    `json:"loginName"`
	AuthTime   time.Time `json:"authTime"`
	ExpireTime time.Time `json:"expireTime"`
	ClientIDs  []string  `json:"clientIds"`
	Amr        []string  `json:"amr"`
	Acr        string    `json:"acr"`
}

type listSessionsJSON struct {
	Items         []ssoSessionJSON `json:"items"`
	NextPageToken string           `json:"nextPageToken"`
}

type endSessionJSON struct {
	Session ssoSessionJSON `json:"session"`
}

type signingKeyJSON struct {
	Kid        string     `json:"kid"`
	Alg        string     `json:"alg"`
	State      string     `json:"state"`
	CreateTime time.Time  `json:"createTime"`
	RetireTime *time.Time `json:"retireTime"`
	ExpireTime *time.Time `json:"expireTime"`
}

type listSigningKeysJSON struct {
	Items []signingKeyJSON `json:"items"`
}

type rotateSigningKeyJSON struct {
	Key     signingKeyJSON   `json:"key"`
	Rotated bool             `json:"rotated"`
	Items   []signingKeyJSON `json:"items"`
}

type jwksJSON struct {
	Keys []struct {
		Kid string `json:"kid"`
	} `json:"keys"`
}

type tokenJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

// strictJSON checks r's status and decodes its body into a T, refusing unknown fields.
func strictJSON[T any](t *testing.T, what string, r response, status int) T {
	t.Helper()
	var v T
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: body %s: %v", what, r.body, err)
	}
	return v
}

// jwtPart decodes part i (0 header, 1 payload) of a compact JWS into v.
func jwtPart(t *testing.T, tok string, i int, v any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	b, err := base64URLDecode(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func jwtSid(t *testing.T, tok string) string {
	t.Helper()
	var c struct {
		Sid string `json:"sid"`
	}
	jwtPart(t, tok, 1, &c)
	return c.Sid
}

// TestAdminSessionsREST: an administrator lists a user's SSO sessions over REST and ends one: its cookie no
// longer signs in, its refresh token is refused, its client gets a back-channel logout token, and the
// user's other session keeps working.
func TestAdminSessionsREST(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	signIn := func() (*browser, tokenJSON) {
		b := newBrowser(t)
		verifier, ch := pkce()
		code := f.codeFor(t, b, "web", "openid offline_access", ch)
		return b, strictJSON[tokenJSON](t, "exchange", f.tokenForm("web", f.webSecret, codeExchange(code, verifier, f.callback)), http.StatusOK)
	}
	b1, tok1 := signIn()
	b2, tok2 := signIn()
	sid1, sid2 := jwtSid(t, tok1.IDToken), jwtSid(t, tok2.IDToken)
	if sid1 == "" || sid1 == sid2 {
		t.Fatalf("sids %q and %q", sid1, sid2)
	}

	path := "/api/adminapi2/v1/tenants/" + f.tenantID + "/sessions"
	list := strictJSON[listSessionsJSON](t, "list", s.call("GET", path+"?userId="+url.QueryEscape(f.aliceID), f.adminToken, nil), http.StatusOK)
	var sids []string
	for _, it := range list.Items {
		sids = append(sids, it.Sid)
		if it.UserID != f.aliceID || it.LoginName != "Alice Liddell" || it.TenantID != f.tenantID || !slices.Equal(it.ClientIDs, []string{"web"}) ||
			!slices.Equal(it.Amr, []string{"pwd"}) || it.Acr != "urn:authsuite:acr:pwd" || !it.ExpireTime.After(it.AuthTime) || time.Since(it.AuthTime) > time.Minute {
			t.Errorf("listed session %+v", it)
		}
	}
	if slices.Sort(sids); len(sids) != 2 || !slices.Contains(sids, sid1) || !slices.Contains(sids, sid2) || list.NextPageToken != "" {
		t.Fatalf("alice's sessions %v (next %q), want %s and %s", sids, list.NextPageToken, sid1, sid2)
	}
	// Page by page.
	first := strictJSON[listSessionsJSON](t, "page 1", s.call("GET", path+"?pageSize=1", f.adminToken, nil), http.StatusOK)
	if len(first.Items) != 1 || first.NextPageToken == "" {
		t.Fatalf("page 1: %+v", first)
	}
	second := strictJSON[listSessionsJSON](t, "page 2", s.call("GET", path+"?pageSize=1&pageToken="+url.QueryEscape(first.NextPageToken), f.adminToken, nil), http.StatusOK)
	if len(second.Items) != 1 || second.Items[0].Sid == first.Items[0].Sid {
		t.Fatalf("page 2: %+v after %+v", second, first)
	}
	expect(t, "bad page token", s.call("GET", path+"?pageToken=%21%21", f.adminToken, nil), http.StatusBadRequest)
	// Not for a token without adminapi.
	plain := clientToken(t, s, "admin", bootstrapSecret, "sudo")
	expect(t, "list without adminapi", s.call("GET", path, plain, nil), http.StatusForbidden)
	expect(t, "end without adminapi", s.call("DELETE", path+"/"+sid1, plain, nil), http.StatusForbidden)

	ended := strictJSON[endSessionJSON](t, "end", s.call("DELETE", path+"/"+url.PathEscape(sid1), f.adminToken, nil), http.StatusOK)
	if ended.Session.Sid != sid1 || ended.Session.UserID != f.aliceID {
		t.Fatalf("ended %+v", ended.Session)
	}
	expect(t, "end again", s.call("DELETE", path+"/"+url.PathEscape(sid1), f.adminToken, nil), http.StatusNotFound)

	// The ended session's cookie signs nobody in; the other browser's still does.
	_, ch := pkce()
	// (spa asks no consent, so prompt=none answers by the session alone.)
	p := b1.get(f.authorizeURL("spa", "openid", "st", "n-2", ch, "prompt", "none"))
	if q := redirectParams(t, p, f.callback); q.Get("error") != "login_required" {
		t.Fatalf("the ended session's browser: %v", q)
	}
	p = b2.get(f.authorizeURL("spa", "openid", "st", "n-3", ch, "prompt", "none"))
	if q := redirectParams(t, p, f.callback); q.Get("code") == "" {
		t.Fatalf("the other session's browser: %v", q)
	}
	// Its refresh token is refused; the other session's is not.
	expect(t, "ended session's refresh", f.tokenForm("web", f.webSecret, refreshGrant(tok1.RefreshToken, "")), http.StatusBadRequest, "invalid_grant")
	strictJSON[tokenJSON](t, "other session's refresh", f.tokenForm("web", f.webSecret, refreshGrant(tok2.RefreshToken, "")), http.StatusOK)
	// Its client got a back-channel logout token naming it.
	eventually(t, 10*time.Second, "a back-channel logout token for the ended session", func() bool {
		return slices.ContainsFunc(f.logoutTokens(), func(lt string) bool { return jwtSid(t, lt) == sid1 })
	})
	list = strictJSON[listSessionsJSON](t, "list after", s.call("GET", path, f.adminToken, nil), http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].Sid != sid2 {
		t.Fatalf("after the end: %+v", list.Items)
	}
}

// TestSigningKeysREST: a system administrator rotates the signing key over REST: the JWKS shows both keys,
// new tokens carry the new kid once it is published, tokens signed before still verify, and a repeated
// request naming the old key makes no other key.
func TestSigningKeysREST(t *testing.T) {
	s := startSuite(t)
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	keys := strictJSON[listSigningKeysJSON](t, "keys", s.call("GET", "/api/adminapi2/v1/signing-keys", admin, nil), http.StatusOK)
	if len(keys.Items) != 1 || keys.Items[0].State != "current" || keys.Items[0].RetireTime != nil {
		t.Fatalf("keys %+v", keys.Items)
	}
	k1 := keys.Items[0].Kid
	before := clientToken(t, s, "admin", bootstrapSecret, "sudo")
	if jwtKid(t, before) != k1 {
		t.Fatalf("token kid %s, key %s", jwtKid(t, before), k1)
	}
	expect(t, "rotate without adminapi", s.call("POST", "/api/adminapi2/v1/signing-keys:rotate", before, map[string]any{}), http.StatusForbidden)

	r := strictJSON[rotateSigningKeyJSON](t, "rotate", s.call("POST", "/api/adminapi2/v1/signing-keys:rotate", admin, map[string]any{"currentKid": k1}), http.StatusOK)
	k2 := r.Key.Kid
	if !r.Rotated || k2 == "" || k2 == k1 || r.Key.State != "next" || len(r.Items) != 2 {
		t.Fatalf("rotation %+v", r)
	}
	again := strictJSON[rotateSigningKeyJSON](t, "rotate again", s.call("POST", "/api/adminapi2/v1/signing-keys:rotate", admin, map[string]any{"currentKid": k1}), http.StatusOK)
	if again.Rotated || again.Key.Kid != k2 {
		t.Fatalf("a repeated rotation %+v", again)
	}
	var jwks jwksJSON // only the kids: the key parameters are go-oidc's to check (verifyAccessToken)
	if r := s.call("GET", "/.well-known/openid-configuration/jwks", "", nil); r.status != http.StatusOK || json.Unmarshal(r.body, &jwks) != nil {
		t.Fatalf("jwks: %d %s", r.status, r.body)
	}
	var kids []string
	for _, k := range jwks.Keys {
		kids = append(kids, k.Kid)
	}
	if !slices.Contains(kids, k1) || !slices.Contains(kids, k2) || len(kids) != 2 {
		t.Fatalf("JWKS kids %v, want %s and %s", kids, k1, k2)
	}
	// Once the publish delay has passed, new tokens carry the new kid.
	var after string
	eventually(t, 15*time.Second, "a token signed with the new key", func() bool {
		after = clientToken(t, s, "admin", bootstrapSecret, "sudo")
		if kid := jwtKid(t, after); kid != k1 && kid != k2 {
			t.Fatalf("token kid %s, want %s then %s", kid, k1, k2)
		}
		return jwtKid(t, after) == k2
	})
	for _, tok := range []string{before, after} {
		if c := verifyAccessToken(t, s, tok); c["client_id"] != "admin" {
			t.Errorf("claims %v", c)
		}
	}
	keys = strictJSON[listSigningKeysJSON](t, "keys after", s.call("GET", "/api/adminapi2/v1/signing-keys", admin, nil), http.StatusOK)
	if len(keys.Items) != 2 || keys.Items[0].Kid != k2 || keys.Items[0].State != "current" || keys.Items[1].Kid != k1 ||
		keys.Items[1].State != "retired" || keys.Items[1].ExpireTime == nil || !keys.Items[1].ExpireTime.After(*keys.Items[1].RetireTime) {
		t.Fatalf("keys after the rotation %+v", keys.Items)
	}
}
