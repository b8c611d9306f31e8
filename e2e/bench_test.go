package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkTokenEndpoint measures POST /connect/token (client_credentials, HTTP Basic) over keep-alive
// connections, in parallel, through the whole suite.
func BenchmarkTokenEndpoint(b *testing.B) {
	base, id, secret := benchSuite(b)
	body := "grant_type=client_credentials"
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, base+"/connect/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(id, url.QueryEscape(secret))
			mustOK(b, req)
		}
	})
}

// BenchmarkCheckEndpoint measures GET /api/oauth2/server/tokens/check of one live token.
func BenchmarkCheckEndpoint(b *testing.B) {
	base, id, secret := benchSuite(b)
	token := benchToken(b, base, id, secret)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, base+"/api/oauth2/server/tokens/check?token="+token, nil)
			mustOK(b, req)
		}
	})
}

// BenchmarkIntrospectEndpoint measures POST /connect/introspect (RFC 7662) of one live access token by its
// own client, HTTP Basic, over keep-alive connections.
func BenchmarkIntrospectEndpoint(b *testing.B) {
	base, id, secret := benchSuite(b)
	token := benchToken(b, base, id, secret)
	body := "token=" + token
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, base+"/connect/introspect", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(id, url.QueryEscape(secret))
			mustOK(b, req)
		}
	})
}

// benchToken is a client_credentials access token of the benchmark client.
func benchToken(b *testing.B, base, id, secret string) string {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.PostForm(base+"/connect/token", form)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	decode(b, resp, &tok)
	return tok.AccessToken
}

var benchTransport = &http.Transport{MaxIdleConnsPerHost: 256}

func mustOK(b *testing.B, req *http.Request) {
	resp, err := benchTransport.RoundTrip(req)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
}

// benchSuite starts a suite and registers a client with a secret in the system tenant.
func benchSuite(b *testing.B) (base, id, secret string) {
	s := startSuite(b)
	admin := clientToken(b, s, "admin", bootstrapSecret, "adminapi")
	expect(b, "client", s.call("POST", "/api/adminapi2/v1/tenants/default/clients", admin, map[string]any{
		"clientId": "bench", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"bench"},
	}), 201)
	secret = expect(b, "secret", s.call("POST", "/api/adminapi2/v1/tenants/default/clients/bench/secrets", admin, map[string]any{}), 201)["value"].(string)
	awaitClient(b, s, "bench", secret)
	b.ResetTimer()
	return s.base, "bench", secret
}

func decode(b *testing.B, resp *http.Response, v any) {
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		b.Fatal(err)
	}
}
