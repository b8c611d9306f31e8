package gateway

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
)

func formRequest(body, auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestParseTokenRequest(t *testing.T) {
	req, err := ParseTokenRequest(formRequest("grant_type=client_credentials&scope=a+b", basic("my client", "p@ss:word")))
	if err != nil {
		t.Fatal(err)
	}
	if c := req.GetClient(); c.GetClientId() != "my client" || c.GetClientSecret() != "p@ss:word" || !c.GetBasic() {
		t.Fatalf("basic credentials: %+v", c)
	}
	if req.GetGrantType() != "client_credentials" || req.GetScope() != "a b" {
		t.Fatalf("parsed %+v", req)
	}
	req, err = ParseTokenRequest(formRequest("grant_type=client_credentials&client_id=c&client_secret=s&code=", ""))
	if err != nil {
		t.Fatal(err)
	}
	if c := req.GetClient(); c.GetClientId() != "c" || c.GetClientSecret() != "s" || c.GetBasic() {
		t.Fatalf("body credentials: %+v", c)
	}
}

func TestParseTokenRequestRejects(t *testing.T) {
	tests := []struct {
		name string
		req  *http.Request
		code string
	}{
		{"get", httptest.NewRequest(http.MethodGet, "/connect/token", nil), "invalid_request"},
		{"json body", func() *http.Request {
			r := formRequest(`{"grant_type":"client_credentials"}`, "")
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), "invalid_request"},
		{"no grant type", formRequest("client_id=c", ""), "invalid_request"},
		{"repeated parameter", formRequest("grant_type=client_credentials&scope=a&scope=b", ""), "invalid_request"},
		{"two auth methods", formRequest("grant_type=client_credentials&client_secret=s", basic("c", "s")), "invalid_request"},
		{"bad base64", formRequest("grant_type=client_credentials", "Basic !!!"), "invalid_client"},
		{"no colon", formRequest("grant_type=client_credentials", "Basic "+base64.StdEncoding.EncodeToString([]byte("abc"))), "invalid_client"},
		{"mismatched client_id", formRequest("grant_type=client_credentials&client_id=x", basic("c", "s")), "invalid_client"},
		{"bearer scheme", formRequest("grant_type=client_credentials", "Bearer abc"), "invalid_request"},
		{"too large", formRequest("grant_type=client_credentials&x="+strings.Repeat("a", maxFormBytes), ""), "invalid_request"},
		{"bad encoding", formRequest("grant_type=%zz", ""), "invalid_request"},
		{"not UTF-8", formRequest("grant_type=client_credentials&client_id=%FF", ""), "invalid_request"},
	}
	for _, tt := range tests {
		_, err := ParseTokenRequest(tt.req)
		var fe *apierror.OAuthError
		if !errors.As(err, &fe) || fe.Code != tt.code {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.code)
		}
	}
}

func TestWriteOAuthErrorBasicChallenge(t *testing.T) {
	w := httptest.NewRecorder()
	_, err := ParseTokenRequest(formRequest("grant_type=client_credentials", "Basic !!!"))
	writeOAuthError(w, err, false)
	if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("status %d, challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if !strings.Contains(w.Body.String(), `"error":"invalid_client"`) {
		t.Fatalf("body %s", w.Body)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, path, auth, sudo, tenant string }{
		{in: "/api/adminapi2/v2/tenants/t1/clients/", path: "/api/adminapi2/v1/tenants/t1/clients"},
		{in: "/api/adminapi2/v1/tenants/?access_token=abc", path: "/api/adminapi2/v1/tenants", auth: "Bearer abc"},
		{in: "/api/oauth2/server/tokens/check?token=x&sudo=uid:7&tenantId=acme", path: "/api/oauth2/server/tokens/check", sudo: "uid:7", tenant: "acme"},
		{in: "/", path: "/"},
		{in: "/api/oauth2/server/tokens/check?sudo=loginName:%E5%BC%A0%E4%B8%89&tenantId=acme", path: "/api/oauth2/server/tokens/check", sudo: "loginName:张三", tenant: "acme"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.in, nil)
		normalize(r)
		sudo, _ := base64.StdEncoding.DecodeString(r.Header.Get(sudoBinHeader))
		tenant, _ := base64.StdEncoding.DecodeString(r.Header.Get(sudoTenantIDBinHeader))
		if r.URL.Path != tt.path || r.Header.Get("Authorization") != tt.auth || string(sudo) != tt.sudo || string(tenant) != tt.tenant {
			t.Errorf("normalize(%s): path %s auth %q sudo %q tenant %q", tt.in, r.URL.Path, r.Header.Get("Authorization"), sudo, tenant)
		}
	}
	// An explicit Authorization header wins over ?access_token=.
	r := httptest.NewRequest(http.MethodGet, "/x?access_token=q", nil)
	r.Header.Set("Authorization", "Bearer h")
	normalize(r)
	if r.Header.Get("Authorization") != "Bearer h" {
		t.Fatal("query token replaced the header")
	}
}

// FuzzParseTokenRequest: any body and Authorization header yields a request or a typed error, never a panic.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&client_id=a&client_secret=b", "")
	f.Add("grant_type=client_credentials", basic("a", "b"))
	f.Add("grant_type=client_credentials&scope=a%20b&scope=c", "Basic Og==")
	f.Add("%", "Basic")
	f.Fuzz(func(t *testing.T, body, auth string) {
		req, err := ParseTokenRequest(formRequest(body, auth))
		if err != nil {
			var fe *apierror.OAuthError
			if !errors.As(err, &fe) || fe.Code == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if req.GetGrantType() == "" {
			t.Fatal("accepted a request without grant_type")
		}
		if req.GetClient().GetBasic() && req.GetClient().GetClientId() == "" {
			t.Fatal("accepted Basic credentials without a client id")
		}
	})
}
