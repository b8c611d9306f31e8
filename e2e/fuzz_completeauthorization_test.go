package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzCompleteAuthorization drives the OAuth return URL, GET /Thingworx/Oauths/oauth/return (the
// CompleteAuthorization query: state, code, error, error_description, oauth_token, oauth_verifier), over
// loopback on a real suite where robert's connector is pending: his browser started it and holds the
// binding cookie, and "the provider" (authsuite) has sent it a real state and code. Arbitrary queries and
// binding cookies ($STATE, $CODE and $BIND stand for the real values) must:
//   - never fail with a 5xx, never echo markup, never redirect anywhere;
//   - change nothing — the connector stays pending, without a grant — unless the request carries both the
//     real state and the real binding cookie (RFC 6749 §10.12, RFC 9700 §4.7). Those requests are not sent,
//     so the pending authorization stays available to every input.
func FuzzCompleteAuthorization(f *testing.F) {
	for _, s := range []struct {
		query  string
		cookie string
	}{
		{"state=$STATE&code=$CODE", ""},
		{"state=$STATE&code=$CODE", "x$BIND"},
		{"state=$STATE&code=other", "$BINDx"},
		{"state=$STATE&error=access_denied&error_description=<b>no</b>", ""},
		{"state=x$STATE&code=$CODE", "$BIND"},
		{"state=$STATE&state=$STATE&code=$CODE", ""},
		{"oauth_token=$STATE&oauth_verifier=v", "$BIND"},
		{"code=$CODE", "$BIND"},
		{"state=&code=$CODE", "$BIND"},
		{"error=invalid_scope", "$BIND"},
		{"state=" + strings.Repeat("s", 600), "$BIND"},
		{"%zz", ""},
		{"", ""},
	} {
		f.Add(s.query, s.cookie)
	}
	cf := newConnectorFixture(f, 300)
	owner := cf.userToken(f, "robert", robertPassword)
	id, authURL := cf.createConnector(f, owner, nil)
	b := newBrowser(f)
	cf.signIn(f, b, "robert", robertPassword)
	back := cf.toReturn(f, b, authURL)
	bu, err := url.Parse(back)
	if err != nil {
		f.Fatal(err)
	}
	realState, realCode := bu.Query().Get("state"), bu.Query().Get("code")
	realBind := ""
	for _, c := range b.client.Jar.Cookies(bu) {
		if c.Name == bindingCookie {
			realBind = c.Value
		}
	}
	if realState == "" || realCode == "" || realBind == "" {
		f.Fatalf("no state, code or binding cookie: %s, cookie %q", back, realBind)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	baseline := pageText(f, client, cf.returnURL, cf.returnURL+"?state=x", cf.returnURL+"?%zz", cf.returnURL+"?oauth_token=x",
		cf.returnURL+"?state=x&error=access_denied")
	expand := strings.NewReplacer("$STATE", url.QueryEscape(realState), "$CODE", url.QueryEscape(realCode), "$BIND", realBind)

	f.Fuzz(func(t *testing.T, query, cookie string) {
		query, cookie = expand.Replace(query), expand.Replace(cookie)
		if i := strings.IndexByte(query, '#'); i >= 0 {
			query = query[:i]
		}
		q, qerr := url.ParseQuery(query)
		req, err := http.NewRequest(http.MethodGet, cf.returnURL+"?"+query, nil)
		if err != nil {
			return
		}
		if cookie != "" {
			req.Header.Set("Cookie", bindingCookie+"="+cookie)
		}
		// The browser that started the flow, with the real state: it would complete (or fail) the
		// connector, which is the owner's right, not a hole. Keep the pending authorization for other inputs.
		sent := (&http.Request{Header: req.Header}).Cookies()
		realCookie := false
		for _, c := range sent {
			realCookie = realCookie || (c.Name == bindingCookie && c.Value == realBind)
		}
		if realCookie && (qerr != nil || q.Get("state") == realState || q.Get("oauth_token") != "") {
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			return // not sendable (e.g. a control character in the cookie)
		}
		body := readPage(t, resp)
		if body.status >= 500 {
			t.Fatalf("return ?%s with cookie %q: %d %s", query, cookie, body.status, body.body)
		}
		if body.location != "" {
			t.Fatalf("return ?%s with cookie %q redirected to %q", query, cookie, body.location)
		}
		if qerr == nil {
			noMarkupEcho(t, q, []byte(body.body), baseline)
		}
		if st := statusOf(t, client, cf.s.base+"/api/provider/v1/connectors/"+id, owner); st != "pending" {
			t.Fatalf("return ?%s with cookie %q left the connector %s", query, cookie, st)
		}
	})
}

// statusOf is a connector's status as its owner sees it (GET /api/provider/v1/connectors/{id}), with t, not
// the suite's own testing handle (which belongs to the fuzz setup).
func statusOf(t *testing.T, client *http.Client, u, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := readPage(t, resp)
	var c struct {
		Status string `json:"status"`
	}
	if p.status != http.StatusOK {
		t.Fatalf("get connector: %d %s", p.status, p.body)
	}
	decodeJSON(t, []byte(p.body), &c)
	return c.Status
}
