package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// routeDoc is the route file as encoding/json reads it: the oracle of FuzzParseAuthzRoutes.
type routeDoc struct {
	Routes []struct {
		Prefix   string   `json:"prefix"`
		Audience string   `json:"audience"`
		Scopes   []string `json:"scopes,omitempty"`
		Methods  []string `json:"methods,omitempty"`
	} `json:"routes"`
}

// FuzzParseAuthzRoutes: the parser never panics; whatever it accepts is valid JSON that encoding/json reads
// (unknown members refused) into the same routes, every accepted route satisfies the documented rules, the
// table written back and parsed again is the same, and match picks, for each route's own prefix and method,
// a route with a prefix at least as long.
func FuzzParseAuthzRoutes(f *testing.F) {
	f.Add([]byte(authzTestRoutes))
	f.Add([]byte(`{"routes":[{"prefix":"/","audience":"https://a.internal"}]}`))
	f.Add([]byte(`{"routes":[{"prefix":"/a","audience":"urn:x","methods":["GET"]},{"prefix":"/a","audience":"urn:y","methods":["POST"]}]}`))
	f.Add([]byte(`{"routes":[{"prefix":"/a%20b","audience":"https://a","scopes":["x","y"]}],"routes":[]}`))
	f.Add([]byte(`{"routes":[{"prefix":"/a","audience":"https://a","Prefix":"/b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := ParseAuthzRoutes(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var doc routeDoc
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		if len(doc.Routes) != table.Len() {
			t.Fatalf("%d routes; encoding/json reads %d", table.Len(), len(doc.Routes))
		}
		key := func(prefix, aud string, scopes, methods []string) string {
			b, _ := json.Marshal([]any{prefix, aud, scopes, methods})
			return string(b)
		}
		var got, want []string
		for _, r := range table.routes {
			got = append(got, key(r.prefix, r.audience, r.scopes, r.methods))
			if !authzNormalPath(r.prefix) || !authzAudienceURI(r.audience) {
				t.Fatalf("accepted route %+v", r)
			}
			for _, s := range r.scopes {
				if !authzScopeToken(s) {
					t.Fatalf("accepted scope %q", s)
				}
			}
			method := "GET"
			if r.methods != nil {
				method = r.methods[0]
			}
			m, ok := table.match(method, r.prefix)
			if !ok || len(m.prefix) < len(r.prefix) || (r.methods != nil && len(m.prefix) == len(r.prefix) && m.methods == nil) {
				t.Fatalf("match(%s, %q) = %+v; route %+v is more specific", method, r.prefix, m, r)
			}
		}
		for _, r := range doc.Routes {
			want = append(want, key(r.Prefix, r.Audience, r.Scopes, r.Methods))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("routes %q; encoding/json reads %q", got, want)
		}
		again, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		table2, err := ParseAuthzRoutes(again)
		if err != nil {
			t.Fatalf("the table written back (%s) does not parse: %v", again, err)
		}
		if !reflect.DeepEqual(table.routes, table2.routes) {
			t.Fatalf("written back and parsed again: %+v; want %+v", table2.routes, table.routes)
		}
	})
}

var b64tokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// FuzzAuthzRequest: the path rule accepts only paths that stay themselves when their dot segments are
// resolved and their escapes decoded (no new separator, no new dot segment), and bearerToken returns a token
// only from a "Bearer" header whose remainder is that one b64token.
func FuzzAuthzRequest(f *testing.F) {
	f.Add("/api/orders", "Bearer abc.def-ghi_~+/==")
	f.Add("/api/%2e%2e/admin", "bearer  x")
	f.Add("/a/%2F/b", "Bearer a,Bearer b")
	f.Add("/a/%zz", "Basic abc")
	f.Add("/a/./b/", "Bearer ")
	f.Fuzz(func(t *testing.T, p, header string) {
		if authzNormalPath(p) {
			dec, err := url.PathUnescape(p)
			if err != nil {
				t.Fatalf("accepted %q with a bad escape: %v", p, err)
			}
			if strings.Count(dec, "/") != strings.Count(p, "/") || strings.Contains(dec, `\`) {
				t.Fatalf("accepted %q, which decodes to %q: a separator more", p, dec)
			}
			clean := path.Clean(dec)
			if strings.HasSuffix(dec, "/") && clean != "/" {
				clean += "/"
			}
			if clean != dec {
				t.Fatalf("accepted %q, which decodes to %q, not in normal form (%q)", p, dec, clean)
			}
		}
		tok, err := bearerToken(header)
		if tok != "" {
			scheme, rest, _ := strings.Cut(header, " ")
			if err != nil || !strings.EqualFold(scheme, "bearer") || strings.TrimLeft(rest, " ") != tok || !b64tokenRE.MatchString(tok) {
				t.Fatalf("bearerToken(%q) = %q, %v", header, tok, err)
			}
		}
		if err != nil && tok != "" {
			t.Fatal("a token with an error")
		}
	})
}

// FuzzAuthzCheck: whatever a request states, Check answers a decision, never an error, and allows only a
// request whose one Authorization header carries the live token (scope read, aud the issuer) and whose
// normal path and method select a route that token satisfies (in authzTestRoutes: under /api/, not under
// /api/admin/, not DELETE); an allowed request's upstream headers are the token's, and a smuggled
// x-authsuite-* header is removed.
func FuzzAuthzCheck(f *testing.F) {
	s := benchServer(f, "ES256", 0)
	r, err := s.Token(context.Background(), &tokenv1.TokenRequest{GrantType: GrantClientCredentials, Client: creds("svc", svcSecret), Scope: "read"})
	if err != nil {
		f.Fatal(err)
	}
	tok := r.GetAccessToken()
	routes, err := ParseAuthzRoutes([]byte(authzTestRoutes))
	if err != nil {
		f.Fatal(err)
	}
	a := &authorizer{s: s, routes: routes}
	f.Add("GET", "/api/orders?x=1", "Bearer TOKEN", "x-authsuite-roles", "admin", "")
	f.Add("DELETE", "/api/orders", "bearer TOKEN", "x-authsuite-sub", "root", "")
	f.Add("GET", "/api/admin/x", "Bearer  TOKEN", "Authorization", "Bearer TOKEN", "%zz")
	f.Add("GET", "/api/%2e%2e/admin/", "Bearer TOKEN", "X-Authsuite-Tenant", "t", "")
	f.Add("POST", "/other/x", "Bearer TOKENx", "host", "a", "")
	f.Fuzz(func(t *testing.T, method, path, authorization, name, value, cert string) {
		authorization = strings.ReplaceAll(authorization, "TOKEN", tok)
		value = strings.ReplaceAll(value, "TOKEN", tok)
		headers := map[string]string{"authorization": authorization, name: value}
		req := envoyCheck(method, path, headers)
		req.Attributes.Source.Certificate = cert
		resp, err := a.Check(context.Background(), req)
		if err != nil || resp == nil {
			t.Fatalf("Check answered %v, %v", resp, err)
		}
		allowed := resp.GetOkResponse()
		if (allowed != nil) != (resp.GetStatus().GetCode() == 0) || (allowed == nil && resp.GetDeniedResponse() == nil) {
			t.Fatalf("inconsistent answer %v", resp)
		}
		if allowed == nil {
			return
		}
		p, _, _ := strings.Cut(path, "?")
		p, _, _ = strings.Cut(p, "#")
		if !authzNormalPath(p) || !strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/api/admin/") || method == "DELETE" {
			t.Fatalf("allowed %s %q", method, path)
		}
		var auth []string
		for k, v := range headers {
			if strings.EqualFold(k, "authorization") {
				auth = append(auth, v)
			}
		}
		if len(auth) != 1 {
			t.Fatalf("allowed with Authorization %q", auth)
		}
		scheme, rest, _ := strings.Cut(auth[0], " ")
		if !strings.EqualFold(scheme, "bearer") || strings.TrimLeft(rest, " ") != tok {
			t.Fatalf("allowed with Authorization %q", auth)
		}
		set := map[string]string{}
		for _, h := range allowed.GetHeaders() {
			set[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		if set[authzHeaderSubject] != "svc" || set[authzHeaderClientID] != "svc" || set[authzHeaderTenant] != "default" || set[authzHeaderScope] != "read" || len(set) != 4 {
			t.Fatalf("upstream headers %v", set)
		}
		if n := strings.ToLower(name); strings.HasPrefix(n, authzHeaderPrefix) && !isAuthzHeader(n) &&
			!slices.Contains(allowed.GetHeadersToRemove(), n) {
			t.Fatalf("smuggled %q kept (removed: %q)", name, allowed.GetHeadersToRemove())
		}
	})
}
